/**
 * The judge (src/preview/IstioDecision.ts) decides as Istio's documentation says, case by case, so
 * that the isolation tests built on it judge Istio, not our reading of our own objects.
 */
import { assert, describe, it } from "@effect/vitest"
import type { AuthorizationPolicy, RequestAuthentication } from "../../src/domain/Istio.ts"
import { type CustomPolicy, istioDecides, legacyDecides, matchesValue, type Request } from "../../src/preview/IstioDecision.ts"

const ns = "shop"
const pod = { namespace: ns, labels: { app: "orders", version: "v1" } }
const ISS = "https://issuer.example"

const ra = (issuer = ISS, selector: Record<string, string> = { app: "orders" }): RequestAuthentication => ({
  apiVersion: "security.istio.io/v1",
  kind: "RequestAuthentication",
  metadata: { name: `ra-${issuer}`, namespace: ns },
  spec: { selector: { matchLabels: selector }, jwtRules: [{ issuer, jwksUri: `${issuer}/keys` }] }
})

const policy = (name: string, action: "ALLOW" | "DENY", rules: AuthorizationPolicy["spec"]["rules"], selector?: Record<string, string>): AuthorizationPolicy =>
  ({
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name, namespace: ns },
    spec: { ...(selector !== undefined ? { selector: { matchLabels: selector } } : {}), action, rules }
  }) as AuthorizationPolicy

const request = (over: Partial<Request> = {}): Request => ({ host: "orders.kyma.local", path: "/", method: "GET", token: null, ...over })
const decide = (policies: ReadonlyArray<AuthorizationPolicy | CustomPolicy>, r: Request, ras: ReadonlyArray<RequestAuthentication> = [ra()]) =>
  istioDecides({ requestAuthentications: ras, authorizationPolicies: policies }, pod, r).allowed

describe("the judge: Istio's documented semantics", () => {
  it("values match exactly, as a prefix, a suffix, or by presence", () => {
    assert.isTrue(matchesValue("/a", "/a"))
    assert.isFalse(matchesValue("/a", "/a/b"))
    assert.isTrue(matchesValue("/a*", "/a/b"))
    assert.isTrue(matchesValue("*.css", "/x.css"))
    assert.isTrue(matchesValue("*", "anything"))
    assert.isFalse(matchesValue("*", ""), "presence needs a value")
    assert.isFalse(matchesValue("*", undefined))
  })

  it("no policy on the pod: everything is allowed; a policy of another namespace or selector does not apply", () => {
    assert.isTrue(decide([], request()))
    assert.isTrue(decide([policy("elsewhere", "DENY", [{}], { app: "billing" })], request()))
  })

  it("an ALLOW policy with no rules allows nothing; with an empty rule, everything", () => {
    assert.isFalse(decide([policy("allow-nothing", "ALLOW", [])], request()))
    assert.isTrue(decide([policy("allow-all", "ALLOW", [{}])], request()))
  })

  it("DENY is evaluated before ALLOW, and any ALLOW on the pod makes the others' unmatched requests denied", () => {
    assert.isFalse(decide([policy("allow-all", "ALLOW", [{}]), policy("deny-all", "DENY", [{}])], request()))
    const onlyStatus = policy("status", "ALLOW", [{ to: [{ operation: { paths: ["/status"] } }] }])
    assert.isTrue(decide([onlyStatus], request({ path: "/status" })))
    assert.isFalse(decide([onlyStatus], request({ path: "/other" })))
  })

  it("a CUSTOM policy that matches is asked first (the judge's authorizer denies)", () => {
    const custom: CustomPolicy = { kind: "AuthorizationPolicy", metadata: { name: "ext", namespace: ns }, spec: { action: "CUSTOM", rules: [{}] } }
    assert.isFalse(decide([custom, policy("allow-all", "ALLOW", [{}])], request()))
  })

  it("RequestAuthentication: no token passes without a principal; an invalid token or one of an unconfigured issuer is rejected", () => {
    const allowAll = [policy("allow-all", "ALLOW", [{}])]
    assert.isTrue(decide(allowAll, request()))
    assert.isFalse(decide(allowAll, request({ token: { issuer: ISS, valid: false } })))
    assert.isFalse(decide(allowAll, request({ token: { issuer: "https://stranger.example", valid: true } })))
    assert.isTrue(decide(allowAll, request({ token: { issuer: "https://stranger.example", valid: true } }), []), "no RequestAuthentication: the token is not looked at")
    // The rules of every RequestAuthentication on the pod are merged.
    assert.isTrue(decide(allowAll, request({ token: { issuer: "https://other.example", valid: true } }), [ra(), ra("https://other.example")]))
  })

  it("Istio's require-a-token pattern: DENY notRequestPrincipals [*] denies exactly the requests without a valid token", () => {
    const requireJwt = [policy("require-jwt", "DENY", [{ from: [{ source: { notRequestPrincipals: ["*"] } }] }])]
    assert.isFalse(decide(requireJwt, request()))
    assert.isTrue(decide(requireJwt, request({ token: { issuer: ISS, valid: true } })))
  })

  it("requestPrincipals <iss>/* is a prefix match (it also matches an issuer nested under it); the iss claim matches exactly", () => {
    const byPrincipal = [policy("p", "ALLOW", [{ from: [{ source: { requestPrincipals: [`${ISS}/*`] } }] }])]
    const nested = { issuer: `${ISS}/tenant`, valid: true }
    assert.isTrue(decide(byPrincipal, request({ token: nested }), [ra(), ra(nested.issuer)]), "the principal https://issuer.example/tenant/subject starts with https://issuer.example/")
    const byClaim = [policy("c", "ALLOW", [{ when: [{ key: "request.auth.claims[iss]", values: [ISS] }] }])]
    assert.isFalse(decide(byClaim, request({ token: nested }), [ra(), ra(nested.issuer)]))
    assert.isTrue(decide(byClaim, request({ token: { issuer: ISS, valid: true } })))
  })

  it("hosts match case-insensitively and with the port the Host carries: example.com:* is needed for example.com:8080", () => {
    const deny = (hosts: Array<string>) => [policy("h", "DENY", [{ to: [{ operation: { hosts } }] }])]
    assert.isFalse(decide(deny(["orders.kyma.local"]), request({ host: "ORDERS.Kyma.Local" })))
    assert.isTrue(decide(deny(["orders.kyma.local"]), request({ host: "orders.kyma.local:8080" })), "a bare host does not match a Host with a port")
    assert.isFalse(decide(deny(["orders.kyma.local", "orders.kyma.local:*"]), request({ host: "orders.kyma.local:8080" })))
    // Negative matching: notHosts denies every Host it does not list, however it is spelled.
    const denyOthers = [policy("n", "DENY", [{ to: [{ operation: { notHosts: ["other.kyma.local", "other.kyma.local:*"] } }] }])]
    assert.isFalse(decide(denyOthers, request({ host: "10.0.0.7:8080" })))
    assert.isTrue(decide(denyOthers, request({ host: "Other.kyma.local:443" })))
  })

  it("within a rule: one of the sources, one of the operations and every condition; within an operation every field", () => {
    const rule = {
      from: [{ source: { requestPrincipals: [`${ISS}/*`] } }, { source: { notRequestPrincipals: ["*"] } }],
      to: [{ operation: { paths: ["/a*"], notPaths: ["/a/secret"] } }]
    }
    const allow = [policy("r", "ALLOW", [rule])]
    assert.isTrue(decide(allow, request({ path: "/a/x" })))
    assert.isFalse(decide(allow, request({ path: "/a/secret" })))
    assert.isFalse(decide(allow, request({ path: "/b" })))
  })

  it("the legacy Policy: no origin triggered lets anything through; a triggered origin needs its valid token", () => {
    const legacy = {
      apiVersion: "authentication.istio.io/v1alpha1",
      kind: "Policy",
      metadata: { name: "orders", namespace: ns },
      spec: {
        targets: [{ name: "orders" }],
        principalBinding: "USE_ORIGIN",
        origins: [{ jwt: { issuer: ISS, jwksUri: `${ISS}/keys`, trigger_rules: [{ excluded_paths: [{ prefix: "/public" }] }] } }]
      }
    } as never
    assert.isTrue(legacyDecides(legacy, { path: "/public/x", token: null }))
    assert.isTrue(legacyDecides(legacy, { path: "/public/x", token: { issuer: ISS, valid: false } }), "not triggered: the token is not looked at")
    assert.isFalse(legacyDecides(legacy, { path: "/orders", token: null }))
    assert.isFalse(legacyDecides(legacy, { path: "/orders", token: { issuer: ISS, valid: false } }))
    assert.isTrue(legacyDecides(legacy, { path: "/orders", token: { issuer: ISS, valid: true } }))
  })
})
