/**
 * The `istio-security` rendering (SPEC 10), golden: every row of SPEC 4, excluded paths with one
 * and several origins, and a decision table that states, for sample requests, what the legacy
 * Policy decides and what the rendered RequestAuthentication + AuthorizationPolicy decide, and
 * asserts they agree, or that ours is stricter where SPEC 10 allows it.
 *
 * Both deciders are written here from the products' documented semantics, independently of the
 * renderer:
 * - legacy authentication Policy (Istio ≤ 1.5, principalBinding USE_ORIGIN): an origin is
 *   triggered for a path its trigger rule does not exclude; with no origin triggered the request
 *   passes; otherwise it needs a valid token of a triggered origin.
 * - Istio authorization (≥ 1.6): the RequestAuthentication rejects an invalid token; an ALLOW
 *   policy lets a request through when one rule matches: `from.requestPrincipals` `"<iss>/*"`
 *   needs a valid token of that issuer, `to.paths` / `to.notPaths` match exact, `prefix*`,
 *   `*suffix`; no rule matches, the request is denied.
 */
import { assert, describe, it } from "@effect/vitest"
import type { ApiSpec } from "../../src/domain/Api.ts"
import type { AuthorizationPolicy, Policy, RequestAuthentication } from "../../src/domain/Istio.ts"
import { Kinds } from "../../src/domain/Kube.ts"
import { type AuthenticationPlan, authenticationPlan } from "../../src/plan/AuthenticationPlan.ts"
import { desiredPolicy } from "../../src/plan/IstioPolicyBackend.ts"
import {
  desiredAuthorizationPolicy,
  desiredPeerAuthentication,
  desiredRequestAuthentication,
  IstioSecurityBackend
} from "../../src/plan/IstioSecurityBackend.ts"
import { checkSpec } from "../../src/plan/Validation.ts"
import { configWith, testConfig, testOwner } from "../support/Fixtures.ts"

const selector = { app: "httpbin", version: "v1" }
const base: ApiSpec = { service: { name: "httpbin", port: 8000 }, hostname: "httpbin" }
const A = { issuer: "https://a.example.com", jwksUri: "https://a.example.com/keys" }
const B = { issuer: "https://b.example.com", jwksUri: "https://b.example.com/keys" }

type Path = { readonly exact: string } | { readonly prefix: string } | { readonly suffix: string }
const rule = (iss: typeof A, excluded: ReadonlyArray<Path> = []) => ({
  type: "JWT",
  jwt: { ...iss, ...(excluded.length > 0 ? { triggerRule: { excludedPaths: excluded } } : {}) }
})

const planOf = (spec: ApiSpec, config = testConfig): AuthenticationPlan => {
  const plan = authenticationPlan(spec, config)
  if (plan === undefined) throw new Error("expected authentication to be on")
  return plan
}

const metadata = {
  name: "sample",
  namespace: "default",
  labels: { createdBy: "api-controller", apiName: "sample", apiNamespace: "default", apiUid: "0b0e7a9c-uid-sample" },
  ownerReferences: [{
    apiVersion: "gateway.kyma-project.io/v1alpha2",
    kind: "Api",
    name: "sample",
    uid: "0b0e7a9c-uid-sample",
    controller: true,
    blockOwnerDeletion: true
  }]
}

describe("istio-security: the children, field for field", () => {
  it("one issuer with mTLS: RequestAuthentication, an AuthorizationPolicy asking for its token everywhere, a STRICT PeerAuthentication", () => {
    const plan = planOf({ ...base, authentication: [rule(A)] })
    assert.deepStrictEqual(IstioSecurityBackend.render(testOwner, plan, selector), [
      {
        apiVersion: "security.istio.io/v1",
        kind: "RequestAuthentication",
        metadata,
        spec: { selector: { matchLabels: selector }, jwtRules: [{ issuer: A.issuer, jwksUri: A.jwksUri }] }
      },
      {
        apiVersion: "security.istio.io/v1",
        kind: "AuthorizationPolicy",
        metadata,
        spec: {
          selector: { matchLabels: selector },
          action: "ALLOW",
          rules: [{ from: [{ source: { requestPrincipals: [`${A.issuer}/*`] } }] }]
        }
      },
      {
        apiVersion: "security.istio.io/v1",
        kind: "PeerAuthentication",
        metadata,
        spec: { selector: { matchLabels: selector }, mtls: { mode: "STRICT" } }
      }
    ])
    assert.deepStrictEqual(IstioSecurityBackend.kinds, [Kinds.RequestAuthentication, Kinds.AuthorizationPolicy, Kinds.PeerAuthentication])
  })

  it("SPEC 4: absent with rules -> one jwtRule per rule, in spec order", () => {
    const ra = desiredRequestAuthentication(testOwner, planOf({ ...base, authentication: [rule(B), rule(A)] }), selector)
    assert.deepStrictEqual(ra.spec.jwtRules.map((r) => r.issuer), [B.issuer, A.issuer])
  })

  it("SPEC 4: true with rules -> the rules; true without rules -> the controller's default issuer", () => {
    const withRules = desiredRequestAuthentication(testOwner, planOf({ ...base, authenticationEnabled: true, authentication: [rule(A)] }), selector)
    assert.deepStrictEqual(withRules.spec.jwtRules, [{ issuer: A.issuer, jwksUri: A.jwksUri }])
    const defaults = desiredRequestAuthentication(testOwner, planOf({ ...base, authenticationEnabled: true }), selector)
    assert.deepStrictEqual(defaults.spec.jwtRules, [{ issuer: testConfig.defaultIssuer, jwksUri: testConfig.defaultJwksUri }])
  })

  it("SPEC 4: false, or absent without rules -> no children at all", () => {
    assert.isUndefined(authenticationPlan({ ...base, authenticationEnabled: false, authentication: [rule(A)] }, testConfig))
    assert.isUndefined(authenticationPlan(base, testConfig))
  })

  it("mTLS: no PeerAuthentication when the Api opts out or the controller has it off", () => {
    const kinds = (spec: ApiSpec, config = testConfig) => IstioSecurityBackend.render(testOwner, planOf(spec, config), selector).map((c) => c.kind)
    assert.deepStrictEqual(kinds({ ...base, disableIstioAuthPolicyMTLS: true, authentication: [rule(A)] }), ["RequestAuthentication", "AuthorizationPolicy"])
    assert.deepStrictEqual(kinds({ ...base, authentication: [rule(A)] }, configWith({ ENABLE_MTLS: "false" })), ["RequestAuthentication", "AuthorizationPolicy"])
    assert.deepStrictEqual(desiredPeerAuthentication(testOwner, selector).spec.mtls, { mode: "STRICT" })
  })

  it("one origin with excluded paths: its token everywhere else, no token on exactly those paths", () => {
    const ap = desiredAuthorizationPolicy(
      testOwner,
      planOf({ ...base, authentication: [rule(A, [{ exact: "/status" }, { prefix: "/web" }, { suffix: "/favicon.ico" }])] }),
      selector
    )
    assert.deepStrictEqual(ap.spec.rules, [
      {
        from: [{ source: { requestPrincipals: [`${A.issuer}/*`] } }],
        to: [{ operation: { notPaths: ["/status", "/web*", "*/favicon.ico"] } }]
      },
      { to: [{ operation: { paths: ["/status", "/web*", "*/favicon.ico"] } }] }
    ])
  })

  it("several origins: each token where its origin does not exclude; no token only where every origin excludes", () => {
    const ap = desiredAuthorizationPolicy(
      testOwner,
      planOf({
        ...base,
        authentication: [
          rule(A, [{ exact: "/status" }, { prefix: "/public" }, { suffix: ".css" }]),
          rule(B, [{ exact: "/status" }, { prefix: "/public/docs" }, { exact: "/health" }])
        ]
      }),
      selector
    )
    assert.deepStrictEqual(ap.spec.rules, [
      { from: [{ source: { requestPrincipals: [`${A.issuer}/*`] } }], to: [{ operation: { notPaths: ["/status", "/public*", "*.css"] } }] },
      { from: [{ source: { requestPrincipals: [`${B.issuer}/*`] } }], to: [{ operation: { notPaths: ["/status", "/public/docs*", "/health"] } }] },
      // /status: both exclude it; /public/docs*: inside A's /public*; /health and *.css: only one origin excludes them.
      { to: [{ operation: { paths: ["/status", "/public/docs*"] } }] }
    ])
  })

  it("several origins, one without excluded paths: a token is always needed", () => {
    const ap = desiredAuthorizationPolicy(testOwner, planOf({ ...base, authentication: [rule(A, [{ exact: "/status" }]), rule(B)] }), selector)
    assert.strictEqual(ap.spec.rules.length, 2, "no rule without a token")
  })

  it("a prefix of one origin meeting a suffix of another is not expressible: a token is asked for (stricter)", () => {
    const ap = desiredAuthorizationPolicy(
      testOwner,
      planOf({ ...base, authentication: [rule(A, [{ prefix: "/assets" }]), rule(B, [{ suffix: ".png" }])] }),
      selector
    )
    assert.strictEqual(ap.spec.rules.length, 2)
  })

  it("selects the workload by the Service's selector, in every child", () => {
    for (const child of IstioSecurityBackend.render(testOwner, planOf({ ...base, authentication: [rule(A)] }), { app: "x" })) {
      assert.deepStrictEqual((child["spec"] as { selector: unknown }).selector, { matchLabels: { app: "x" } }, child.kind)
    }
  })
})

describe("istio-security: what cannot be expressed is a validation error", () => {
  const problems = (spec: unknown) => {
    const r = checkSpec(spec, "default", testConfig, IstioSecurityBackend)
    return r._tag === "Failure" ? r.failure : ""
  }
  it("a regex excluded path says to use exact, prefix or suffix", () => {
    const msg = problems({ ...base, authentication: [{ type: "JWT", jwt: { ...A, triggerRule: { excludedPaths: [{ regex: "^/a/.*" }] } } }] })
    assert.include(msg, "spec.authentication[0].jwt.triggerRule.excludedPaths[0].regex")
    assert.include(msg, "use exact, prefix or suffix")
    assert.include(msg, "AUTH_BACKEND=istio-security")
  })

  it("a path with * would be read as a wildcard: refused", () => {
    assert.include(problems({ ...base, authentication: [rule(A, [{ exact: "/a*" }])] }), "excludedPaths[0].exact")
  })

  it("the legacy backend accepts both", () => {
    const spec = { ...base, authentication: [{ type: "JWT", jwt: { ...A, triggerRule: { excludedPaths: [{ regex: "^/a/.*" }, { exact: "/a*" }] } } }] }
    assert.strictEqual(checkSpec(spec, "default", testConfig)._tag, "Success")
  })
})

// ---------------------------------------------------------------------------------------------
// The decision table

/** A request as both deciders see it: a path, and a token that is valid (for an issuer) or none. */
interface Request {
  readonly path: string
  readonly token: string | null
}

const legacyMatch = (p: Record<string, string>, path: string) =>
  p["exact"] !== undefined ? path === p["exact"]
  : p["prefix"] !== undefined ? path.startsWith(p["prefix"])
  : p["suffix"] !== undefined ? path.endsWith(p["suffix"])
  : new RegExp(p["regex"]!).test(path)

/** Istio ≤ 1.5 authentication Policy, USE_ORIGIN: allowed or not. */
const legacyDecides = (policy: Policy, r: Request): boolean => {
  const triggered = policy.spec.origins.filter((o) =>
    !(o.jwt.trigger_rules ?? []).some((t) => t.excluded_paths.some((p) => legacyMatch(p as Record<string, string>, r.path)))
  )
  if (triggered.length === 0) return true
  return r.token !== null && triggered.some((o) => o.jwt.issuer === r.token)
}

const istioPathMatch = (pattern: string, path: string) =>
  pattern === "*" ? path !== ""
  : pattern.endsWith("*") ? path.startsWith(pattern.slice(0, -1))
  : pattern.startsWith("*") ? path.endsWith(pattern.slice(1))
  : path === pattern

/** Istio ≥ 1.6: RequestAuthentication, then the ALLOW AuthorizationPolicy. */
const securityDecides = (ra: RequestAuthentication, ap: AuthorizationPolicy, r: Request): boolean => {
  if (r.token !== null && !ra.spec.jwtRules.some((j) => j.issuer === r.token)) return false // unknown issuer: 401
  const principal = r.token !== null ? `${r.token}/subject` : null
  return ap.spec.rules.some((rule) => {
    const from = rule.from === undefined || rule.from.some((f) =>
      f.source.requestPrincipals.some((p) => principal !== null && istioPathMatch(p, principal))
    )
    const to = rule.to === undefined || rule.to.some((t) =>
      (t.operation.paths === undefined || t.operation.paths.some((p) => istioPathMatch(p, r.path))) &&
      (t.operation.notPaths === undefined || !t.operation.notPaths.some((p) => istioPathMatch(p, r.path)))
    )
    return from && to
  })
}

const cases: ReadonlyArray<{
  readonly name: string
  readonly rules: ReadonlyArray<ReturnType<typeof rule>>
  /** Requests the legacy Policy allowed and ours refuses, where Istio cannot express the legacy set (SPEC 10). */
  readonly stricter?: ReadonlyArray<string>
}> = [
  { name: "one origin, no excluded paths", rules: [rule(A)] },
  { name: "one origin, exact + prefix + suffix", rules: [rule(A, [{ exact: "/status" }, { prefix: "/web" }, { suffix: "/favicon.ico" }])] },
  { name: "two origins, no excluded paths", rules: [rule(A), rule(B)] },
  { name: "two origins, same excluded paths", rules: [rule(A, [{ exact: "/status" }, { prefix: "/public" }]), rule(B, [{ exact: "/status" }, { prefix: "/public" }])] },
  {
    name: "two origins, overlapping excluded paths",
    rules: [rule(A, [{ exact: "/status" }, { prefix: "/public" }, { suffix: ".css" }]), rule(B, [{ prefix: "/public/docs" }, { exact: "/health" }, { exact: "/status" }])]
  },
  { name: "two origins, only one excludes", rules: [rule(A, [{ exact: "/status" }]), rule(B)] },
  {
    name: "two origins, a prefix meets a suffix",
    rules: [rule(A, [{ prefix: "/assets" }]), rule(B, [{ suffix: ".png" }])],
    // Both origins exclude /assets/logo.png, so the legacy Policy let anything through there;
    // "starts with /assets and ends with .png" is no Istio path pattern, so ours refuses it.
    stricter: [
      "GET /assets/logo.png without a token",
      `GET /assets/logo.png with a token of ${A.issuer}`,
      `GET /assets/logo.png with a token of ${B.issuer}`
    ]
  }
]

const paths = ["/", "/status", "/status/x", "/web", "/web/app", "/public", "/public/docs/a", "/public/x.css", "/health", "/app/site.css", "/favicon.ico", "/img/favicon.ico", "/assets/logo.png", "/assets/a.js", "/b.png"]
const tokens = [null, A.issuer, B.issuer]
const describeRequest = (r: Request) => `GET ${r.path} ${r.token === null ? "without a token" : `with a token of ${r.token}`}`

describe("istio-security: for sample requests, the AuthorizationPolicy decides as the legacy Policy did", () => {
  for (const c of cases) {
    it(c.name, () => {
      const spec: ApiSpec = { ...base, authentication: c.rules }
      const plan = planOf(spec)
      const legacy = desiredPolicy(testOwner, plan)
      const ra = desiredRequestAuthentication(testOwner, plan, selector)
      const ap = desiredAuthorizationPolicy(testOwner, plan, selector)
      const table: Array<string> = []
      for (const path of paths) {
        for (const token of tokens) {
          const r = { path, token }
          const was = legacyDecides(legacy, r)
          const now = securityDecides(ra, ap, r)
          table.push(`${describeRequest(r)}: legacy ${was ? "allow" : "deny"}, ours ${now ? "allow" : "deny"}`)
          if (was === now) continue
          // Never the reverse: ours allows nothing the legacy Policy refused.
          assert.isTrue(was && !now, `${describeRequest(r)}: legacy ${was ? "allows" : "denies"}, ours ${now ? "allows" : "denies"}`)
          // Stricter only where SPEC 10 allows it: Istio's RequestAuthentication refuses a token
          // of an issuer the Api does not list, even where no token is needed (the legacy Policy
          // ignored it there); and where the legacy path set cannot be expressed.
          const foreignToken = r.token !== null && !c.rules.some((x) => x.jwt.issuer === r.token)
          if (!foreignToken) assert.include(c.stricter ?? [], describeRequest(r), `${describeRequest(r)} is stricter than expected`)
        }
      }
      // Both deciders really decide: each case has allowed and denied requests.
      assert.isTrue(table.some((l) => l.endsWith("ours allow")) && table.some((l) => l.endsWith("ours deny")), table.join("\n"))
    })
  }

  it("where a prefix meets a suffix, only the paths both exclude are refused; around them each token works as before", () => {
    const plan = planOf({ ...base, authentication: [rule(A, [{ prefix: "/assets" }]), rule(B, [{ suffix: ".png" }])] })
    const r = { path: "/assets/logo.png", token: null }
    assert.isTrue(legacyDecides(desiredPolicy(testOwner, plan), r), "legacy: neither origin triggered")
    const ra = desiredRequestAuthentication(testOwner, plan, selector)
    const ap = desiredAuthorizationPolicy(testOwner, plan, selector)
    assert.isFalse(securityDecides(ra, ap, r))
    // Next to it, each origin's own paths still take its token, and only its token.
    assert.isTrue(securityDecides(ra, ap, { path: "/b.png", token: A.issuer }), "A is the triggered origin on /b.png")
    assert.isFalse(securityDecides(ra, ap, { path: "/b.png", token: B.issuer }), "B excludes .png")
    assert.isTrue(securityDecides(ra, ap, { path: "/assets/a.js", token: B.issuer }), "B is the triggered origin on /assets/a.js")
  })
})
