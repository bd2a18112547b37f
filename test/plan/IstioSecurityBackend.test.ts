/**
 * The `istio-security` rendering (SPEC 10), golden: every row of SPEC 4, excluded paths with one
 * and several origins, the DENY policy that is the ALLOW policy's complement, and a decision table
 * that states, for sample requests (a host, a path, a token), what the legacy Policy decides and
 * what Istio decides over the rendered children (src/preview/IstioDecision.ts, written from Istio's
 * documented semantics, independently of the renderer), and asserts they agree, or that ours is
 * stricter where SPEC 10 allows it.
 */
import { assert, describe, it } from "@effect/vitest"
import type { ApiSpec } from "../../src/domain/Api.ts"
import type { AuthorizationPolicy } from "../../src/domain/Istio.ts"
import { Kinds } from "../../src/domain/Kube.ts"
import { type AuthenticationPlan, authenticationPlan } from "../../src/plan/AuthenticationPlan.ts"
import { desiredPolicy } from "../../src/plan/IstioPolicyBackend.ts"
import {
  desiredAuthorizationPolicy,
  desiredDenyPolicy,
  desiredPeerAuthentication,
  desiredRequestAuthentication,
  IstioSecurityBackend
} from "../../src/plan/IstioSecurityBackend.ts"
import { namesOf, workloadPortsOf } from "../../src/plan/Workload.ts"
import { checkSpec } from "../../src/plan/Validation.ts"
import { configWith, testConfig, testOwner } from "../support/Fixtures.ts"
import { istioDecides, legacyDecides, type Request } from "../../src/preview/IstioDecision.ts"

const selector = { app: "httpbin", version: "v1" }
const target = { selector, delegatedHosts: [] }
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
    assert.deepStrictEqual(IstioSecurityBackend.render(testOwner, plan, target), [
      {
        apiVersion: "security.istio.io/v1",
        kind: "RequestAuthentication",
        metadata,
        spec: { selector: { matchLabels: selector }, jwtRules: [{ issuer: A.issuer, jwksUri: A.jwksUri }] }
      },
      {
        apiVersion: "security.istio.io/v1",
        kind: "AuthorizationPolicy",
        metadata: { ...metadata, name: "sample-deny" },
        spec: {
          selector: { matchLabels: selector },
          action: "DENY",
          rules: [
            { from: [{ source: { notRequestPrincipals: ["*"] } }] },
            { from: [{ source: { requestPrincipals: ["*"] } }], when: [{ key: "request.auth.claims[iss]", notValues: [A.issuer] }] }
          ]
        }
      },
      {
        apiVersion: "security.istio.io/v1",
        kind: "AuthorizationPolicy",
        metadata,
        spec: {
          selector: { matchLabels: selector },
          action: "ALLOW",
          rules: [{ from: [{ source: { requestPrincipals: [`${A.issuer}/*`] } }], when: [{ key: "request.auth.claims[iss]", values: [A.issuer] }] }]
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
    const kinds = (spec: ApiSpec, config = testConfig) => IstioSecurityBackend.render(testOwner, planOf(spec, config), target).map((c) => c.kind)
    const withoutPeer = ["RequestAuthentication", "AuthorizationPolicy", "AuthorizationPolicy"]
    assert.deepStrictEqual(kinds({ ...base, disableIstioAuthPolicyMTLS: true, authentication: [rule(A)] }), withoutPeer)
    assert.deepStrictEqual(kinds({ ...base, authentication: [rule(A)] }, configWith({ ENABLE_MTLS: "false" })), withoutPeer)
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
        to: [{ operation: { notPaths: ["/status", "/web*", "*/favicon.ico"] } }],
        when: [{ key: "request.auth.claims[iss]", values: [A.issuer] }]
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
    const iss = (i: string) => [{ key: "request.auth.claims[iss]", values: [i] }]
    assert.deepStrictEqual(ap.spec.rules, [
      { from: [{ source: { requestPrincipals: [`${A.issuer}/*`] } }], to: [{ operation: { notPaths: ["/status", "/public*", "*.css"] } }], when: iss(A.issuer) },
      { from: [{ source: { requestPrincipals: [`${B.issuer}/*`] } }], to: [{ operation: { notPaths: ["/status", "/public/docs*", "/health"] } }], when: iss(B.issuer) },
      // /status: both exclude it; /public/docs*: inside A's /public*; /health and *.css: only one origin excludes them.
      { to: [{ operation: { paths: ["/status", "/public/docs*"] } }] }
    ])
  })

  it("the DENY policy is the ALLOW policy's complement: no token, another issuer's token, or an origin's token on a path only it excludes", () => {
    const plan = planOf({
      ...base,
      authentication: [
        rule(A, [{ exact: "/status" }, { prefix: "/public" }, { suffix: ".css" }]),
        rule(B, [{ exact: "/status" }, { prefix: "/public/docs" }, { exact: "/health" }])
      ]
    })
    const deny = desiredDenyPolicy(testOwner, plan, { selector, delegatedHosts: ["other.kyma.local", "other.kyma.local:*"], ports: [8000, 8443] })
    const open = ["/status", "/public/docs*"]
    const hosts = ["other.kyma.local", "other.kyma.local:*"]
    const ports = ["8000", "8443"]
    assert.strictEqual(deny.metadata.name, "sample-deny")
    assert.strictEqual(deny.spec.action, "DENY")
    assert.deepStrictEqual(deny.spec.rules, [
      { from: [{ source: { notRequestPrincipals: ["*"] } }], to: [{ operation: { ports, notPaths: open, notHosts: hosts } }] },
      {
        from: [{ source: { requestPrincipals: ["*"] } }],
        to: [{ operation: { ports, notPaths: open, notHosts: hosts } }],
        when: [{ key: "request.auth.claims[iss]", notValues: [A.issuer, B.issuer] }]
      },
      // A's token on /public* and *.css (B asks for its own there); /status is open to all.
      { to: [{ operation: { ports, paths: ["/public*", "*.css"], notPaths: open, notHosts: hosts } }], when: [{ key: "request.auth.claims[iss]", values: [A.issuer] }] },
      // B's token on /health (A asks for its own there); /public/docs* is open to all.
      { to: [{ operation: { ports, paths: ["/health"], notPaths: open, notHosts: hosts } }], when: [{ key: "request.auth.claims[iss]", values: [B.issuer] }] }
    ])
  })

  it("the DENY policy applies on the ports the Service leads to (its targetPorts), or on every port when one is a name", () => {
    const service = (ports: unknown) => ({ apiVersion: "v1", kind: "Service", metadata: { name: "httpbin" }, spec: { selector, ports } })
    assert.deepStrictEqual(workloadPortsOf(service([{ port: 80, targetPort: 8080 }, { port: 443, targetPort: "8443" }, { port: 9000 }])), [8080, 8443, 9000])
    assert.isUndefined(workloadPortsOf(service([{ port: 80, targetPort: "http" }])), "a named targetPort is resolved by Pods only")
    assert.isUndefined(workloadPortsOf(service([])))
    const plan = planOf({ ...base, authentication: [rule(A)] })
    const everywhere = desiredDenyPolicy(testOwner, plan, { selector, delegatedHosts: [] })
    assert.isUndefined(everywhere.spec.rules[0]?.to, "no ports known: every port")
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
    for (const child of IstioSecurityBackend.render(testOwner, planOf({ ...base, authentication: [rule(A)] }), { selector: { app: "x" }, delegatedHosts: [] })) {
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

  it("an issuer with * would match other issuers' tokens: refused", () => {
    const msg = problems({ ...base, authentication: [rule({ issuer: "https://a.example.com/*", jwksUri: A.jwksUri })] })
    assert.include(msg, "spec.authentication[0].jwt.issuer")
    assert.include(msg, "leave the * out")
  })

  it("the legacy backend accepts both", () => {
    const spec = { ...base, authentication: [{ type: "JWT", jwt: { ...A, triggerRule: { excludedPaths: [{ regex: "^/a/.*" }, { exact: "/a*" }] } } }] }
    assert.strictEqual(checkSpec(spec, "default", testConfig)._tag, "Success")
  })
})

// ---------------------------------------------------------------------------------------------
// The decision table

const NAMES = namesOf("httpbin.kyma.local", "httpbin", "default")
const OTHER = namesOf("other.kyma.local", "other", "default")

/** Hosts a request may carry: the Api's own names (as clients spell them), a name left to another Api, anything else. */
const hosts: ReadonlyArray<{ readonly host: string; readonly ours: boolean }> = [
  { host: "httpbin.kyma.local", ours: true },
  { host: "HTTPBIN.Kyma.Local:443", ours: true },
  { host: "httpbin.default.svc.cluster.local:8000", ours: true },
  { host: "httpbin", ours: true },
  { host: "other.kyma.local", ours: false },
  { host: "10.0.0.7:8000", ours: true }
]
const paths = ["/", "/status", "/status/x", "/web", "/web/app", "/public", "/public/docs/a", "/public/x.css", "/health", "/app/site.css", "/favicon.ico", "/img/favicon.ico", "/assets/logo.png", "/assets/a.js", "/b.png"]
const tokens = [null, { issuer: A.issuer, valid: true }, { issuer: B.issuer, valid: true }, { issuer: A.issuer, valid: false }]
const describeRequest = (r: Request) =>
  `GET ${r.host}${r.path} ${r.token === null ? "without a token" : `with ${r.token.valid ? "a" : "an invalid"} token of ${r.token.issuer}`}`

const cases: ReadonlyArray<{
  readonly name: string
  readonly rules: ReadonlyArray<ReturnType<typeof rule>>
  /** Requests (host left out) the legacy Policy allowed and ours refuses, where Istio cannot express the legacy set (SPEC 10). */
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
      "/assets/logo.png without a token",
      `/assets/logo.png with a token of ${A.issuer}`,
      `/assets/logo.png with a token of ${B.issuer}`,
      `/assets/logo.png with an invalid token of ${A.issuer}`
    ]
  }
]

/** The policies a platform team might have on the same pods: each would widen an unguarded decision. */
const platformAllows: ReadonlyArray<{ readonly name: string; readonly policy: AuthorizationPolicy | undefined }> = [
  { name: "nothing else", policy: undefined },
  {
    name: "a platform ALLOW of everything on the pods",
    policy: { apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name: "allow-all", namespace: "default" }, spec: { selector: { matchLabels: { app: "httpbin" } }, action: "ALLOW", rules: [{}] } }
  },
  {
    name: "another Api's ALLOW on the same pods, without a token on every path of its own host",
    policy: { apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name: "other", namespace: "default" }, spec: { selector: { matchLabels: selector }, action: "ALLOW", rules: [{ to: [{ operation: { paths: ["/*"] } }] }] } }
  }
]

describe("istio-security: for sample requests, Istio over the rendered children decides as the legacy Policy did, whatever else allows on the pods", () => {
  for (const c of cases) {
    for (const other of platformAllows) {
      it(`${c.name}; ${other.name}`, () => {
        const spec: ApiSpec = { ...base, authentication: c.rules }
        const plan = planOf(spec)
        const legacy = desiredPolicy(testOwner, plan)
        const children = IstioSecurityBackend.render(testOwner, plan, { selector, delegatedHosts: OTHER, ports: [8000] })
        const objects = {
          requestAuthentications: children.filter((o) => o.kind === "RequestAuthentication") as never,
          authorizationPolicies: [...children.filter((o) => o.kind === "AuthorizationPolicy"), ...(other.policy !== undefined ? [other.policy] : [])] as never
        }
        const pod = { namespace: "default", labels: { ...selector, pod: "template-hash" } }
        const table: Array<string> = []
        let decided = { allow: 0, deny: 0 }
        for (const h of hosts) for (const path of paths) for (const token of tokens) {
          const r: Request = { host: h.host, port: 8000, path, method: "GET", token }
          const verdict = istioDecides(objects, pod, r)
          decided = verdict.allowed ? { ...decided, allow: decided.allow + 1 } : { ...decided, deny: decided.deny + 1 }
          if (!h.ours) continue // another Api's names: its decision, not this one's
          const was = legacyDecides(legacy, r)
          table.push(`${describeRequest(r)}: legacy ${was ? "allow" : "deny"}, ours ${verdict.allowed ? "allow" : "deny"} (${verdict.why})`)
          if (was === verdict.allowed) continue
          // Never the reverse: nothing on the pods allows what the legacy Policy refused.
          assert.isTrue(was && !verdict.allowed, `${describeRequest(r)}: legacy denies, the pod allows (${verdict.why})`)
          // Stricter only where SPEC 10 allows it: Istio rejects an invalid token, or one of an
          // issuer the Api does not list, even where no token is needed (the legacy Policy did not
          // look at it there); and where the legacy path set cannot be expressed.
          const untrusted = r.token !== null && (!r.token.valid || !c.rules.some((x) => x.jwt.issuer === r.token!.issuer))
          if (!untrusted) assert.include(c.stricter ?? [], describeRequest(r).replace(/^GET \S+?(\/)/, "$1"), `${describeRequest(r)} is stricter than expected`)
        }
        // Both deciders really decide: each case has allowed and denied requests.
        assert.isTrue(decided.allow > 0 && decided.deny > 0, table.join("\n"))
      })
    }
  }

  it("a platform ALLOW of everything widens nothing for the Api's names, and leaves another Api's names to that Api", () => {
    const plan = planOf({ ...base, authentication: [rule(A)] })
    const children = IstioSecurityBackend.render(testOwner, plan, { selector, delegatedHosts: OTHER })
    const objects = {
      requestAuthentications: children.filter((o) => o.kind === "RequestAuthentication") as never,
      authorizationPolicies: [...children.filter((o) => o.kind === "AuthorizationPolicy"), platformAllows[1]!.policy!] as never
    }
    const pod = { namespace: "default", labels: selector }
    const at = (host: string) => istioDecides(objects, pod, { host, path: "/", method: "GET", token: null })
    for (const host of NAMES) assert.isFalse(at(host.replace(":*", ":8000")).allowed, host)
    assert.isFalse(at("10.0.0.7:8000").allowed, "a pod IP or any unknown Host is this Api's too")
    assert.isTrue(at("other.kyma.local").allowed, "the other Api decides for its own names")
  })

  it("where a prefix meets a suffix, only the paths both exclude are refused; around them each token works as before", () => {
    const plan = planOf({ ...base, authentication: [rule(A, [{ prefix: "/assets" }]), rule(B, [{ suffix: ".png" }])] })
    const children = IstioSecurityBackend.render(testOwner, plan, target)
    const objects = {
      requestAuthentications: children.filter((o) => o.kind === "RequestAuthentication") as never,
      authorizationPolicies: children.filter((o) => o.kind === "AuthorizationPolicy") as never
    }
    const pod = { namespace: "default", labels: selector }
    const decide = (path: string, token: Request["token"]) => istioDecides(objects, pod, { host: "httpbin.kyma.local", path, method: "GET", token }).allowed
    assert.isTrue(legacyDecides(desiredPolicy(testOwner, plan), { path: "/assets/logo.png", token: null }), "legacy: neither origin triggered")
    assert.isFalse(decide("/assets/logo.png", null))
    // Next to it, each origin's own paths still take its token, and only its token.
    assert.isTrue(decide("/b.png", { issuer: A.issuer, valid: true }), "A is the triggered origin on /b.png")
    assert.isFalse(decide("/b.png", { issuer: B.issuer, valid: true }), "B excludes .png")
    assert.isTrue(decide("/assets/a.js", { issuer: B.issuer, valid: true }), "B is the triggered origin on /assets/a.js")
  })

  it("an issuer nested under another is told apart: a token of https://a/b is not one of https://a", () => {
    const outer = { issuer: "https://a.example.com", jwksUri: "https://a.example.com/keys" }
    const nested = { issuer: "https://a.example.com/b", jwksUri: "https://a.example.com/b/keys" }
    const mine = IstioSecurityBackend.render(testOwner, planOf({ ...base, authentication: [rule(outer)] }), target)
    const theirs = IstioSecurityBackend.render({ ...testOwner, name: "nested", uid: "nested-uid" }, planOf({ ...base, authentication: [rule(nested)] }), { selector, delegatedHosts: NAMES })
    const all = [...mine, ...theirs]
    const objects = {
      requestAuthentications: all.filter((o) => o.kind === "RequestAuthentication") as never,
      authorizationPolicies: all.filter((o) => o.kind === "AuthorizationPolicy") as never
    }
    const verdict = istioDecides(objects, { namespace: "default", labels: selector }, { host: "httpbin.kyma.local", path: "/", method: "GET", token: { issuer: nested.issuer, valid: true } })
    assert.isFalse(verdict.allowed, verdict.why)
    assert.isTrue(istioDecides(objects, { namespace: "default", labels: selector }, { host: "httpbin.kyma.local", path: "/", method: "GET", token: { issuer: outer.issuer, valid: true } }).allowed)
  })
})
