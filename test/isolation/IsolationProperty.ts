/**
 * Isolation, as a property over random namespaces (issue 20, SPEC 6 and 10 revised): Services
 * whose selectors overlap, Apis on them with random issuers and excluded paths, ALLOW and DENY
 * policies a platform team wrote, then retargets, host changes, authentication switched on and
 * off, selectors changed and objects deleted. After the controller (the real reconciler, on the
 * in-memory cluster, `istio-security`) has settled each step, the judge (src/preview/
 * IstioDecision.ts) evaluates every pod the namespace could hold, over every AuthorizationPolicy
 * and RequestAuthentication that applies to it, for sample requests on the Services' port:
 *
 * 1. addressed to an Api on the pod (its host or its Service's in-cluster names, bare, with a
 *    port, in upper case): if the pod allows it, the Api's legacy decision allows it;
 * 2. addressed to anything else (a pod IP, an unknown name, the names of an Api whose Service
 *    does not select this pod): if the pod allows it, the legacy decision of every Api securing
 *    the pod allows it;
 * 3. no Api in a conflict state owns children for what it lost (code 5: none at all; code 4: no
 *    VirtualService).
 *
 * Each failure names the world, the step, the pod, the request and which policy decided.
 */
import { Effect, References } from "effect"
import fc from "fast-check"
import { type ApiStatus, decodeStatus, decodeSpec } from "../../src/domain/Api.ts"
import { Kinds, type KubeObject } from "../../src/domain/Kube.ts"
import type { AuthorizationPolicy, RequestAuthentication } from "../../src/domain/Istio.ts"
import { Reconciler } from "../../src/controller/Reconciler.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { authenticationPlan } from "../../src/plan/AuthenticationPlan.ts"
import { claimsOf, targetServiceOf } from "../../src/plan/Claims.ts"
import { desiredPolicy } from "../../src/plan/IstioPolicyBackend.ts"
import { IstioSecurityBackend } from "../../src/plan/IstioSecurityBackend.ts"
import { isOwnedBy } from "../../src/plan/Ownership.ts"
import { coversAll, namesOf, type Selector, selectorOf } from "../../src/plan/Workload.ts"
import { ownerOf } from "../../src/lifecycle/Observation.ts"
import { testConfig } from "../support/Fixtures.ts"
import { istioDecides, legacyDecides, type Pod, type Request, type Token } from "../../src/preview/IstioDecision.ts"
import { MemoryCluster } from "../support/MemoryCluster.ts"
import { scenarioSettings } from "../support/Scenarios.ts"
import { memoryWorld } from "../support/World.ts"

const NS = "shop"
const VALUES = ["x", "y"] as const
const ISSUERS = ["https://a.example", "https://a.example/nested", "https://c.example"] as const
const SERVICES = ["s0", "s1", "s2", "s3"] as const
const HOSTS = ["h0", "h1", "h2"] as const

// ---------------------------------------------------------------------------------------------
// the world, as fast-check draws it

/** A label set over app and tier, with unset labels left out. */
const labelsOf = (r: { readonly app: string | undefined; readonly tier: string | undefined }): Selector =>
  Object.fromEntries(Object.entries(r).filter((e) => e[1] !== undefined)) as Selector

const selectorArb: fc.Arbitrary<Selector | undefined> = fc.option(
  fc.record({
    app: fc.option(fc.constantFrom<string>(...VALUES), { nil: undefined }),
    tier: fc.option(fc.constantFrom<string>(...VALUES), { nil: undefined })
  }).map(labelsOf),
  { nil: undefined, freq: 6 }
)

const excludedArb = fc.subarray([{ exact: "/status" }, { prefix: "/open" }, { suffix: ".css" }, { prefix: "/" }], { maxLength: 2 })

const authArb = fc.oneof(
  { arbitrary: fc.constant({}), weight: 2 }, // no authentication
  { arbitrary: fc.constant({ authenticationEnabled: true }), weight: 1 }, // the controller's default issuer
  {
    arbitrary: fc.array(fc.record({ issuer: fc.constantFrom(...ISSUERS), excluded: excludedArb }), { minLength: 1, maxLength: 2 })
      .map((origins) => ({
        authentication: origins.map((o) => ({
          type: "JWT",
          jwt: {
            issuer: o.issuer,
            jwksUri: `${o.issuer}/keys`,
            ...(o.excluded.length > 0 ? { triggerRule: { excludedPaths: o.excluded } } : {})
          }
        }))
      })),
    weight: 4
  }
)

const apiSpecArb = fc.record({
  service: fc.constantFrom(...SERVICES),
  hostname: fc.constantFrom(...HOSTS),
  auth: authArb,
  disableMtls: fc.boolean()
}).map((a) => ({
  service: { name: a.service, port: 8080 },
  hostname: a.hostname,
  ...a.auth,
  ...(a.disableMtls ? { disableIstioAuthPolicyMTLS: true } : {})
}))

const platformPolicyArb = fc.record({
  selector: selectorArb,
  action: fc.constantFrom("ALLOW", "ALLOW", "ALLOW", "DENY"),
  rule: fc.constantFrom(
    {},
    {},
    { to: [{ operation: { paths: ["/open*"] } }] },
    { from: [{ source: { requestPrincipals: ["*"] } }] },
    { to: [{ operation: { hosts: ["h0.kyma.local"] } }] },
    { to: [{ operation: { notPaths: ["/status"] } }] }
  )
})

const opArb = fc.oneof(
  fc.record({ op: fc.constant("retarget" as const), api: fc.nat(3), service: fc.constantFrom(...SERVICES) }),
  fc.record({ op: fc.constant("rehost" as const), api: fc.nat(3), hostname: fc.constantFrom(...HOSTS) }),
  fc.record({ op: fc.constant("reauth" as const), api: fc.nat(3), auth: authArb }),
  fc.record({ op: fc.constant("deleteApi" as const), api: fc.nat(3) }),
  fc.record({ op: fc.constant("reselect" as const), service: fc.constantFrom(...SERVICES), selector: selectorArb }),
  fc.record({ op: fc.constant("deleteService" as const), service: fc.constantFrom(...SERVICES) })
)

// Sizes lean towards what makes isolation hard: several Services over overlapping pods, several
// Apis on them, and a platform policy that would let anything through if nothing stopped it.
export const worldArb = fc.record({
  services: fc.uniqueArray(fc.record({ name: fc.constantFrom(...SERVICES), selector: selectorArb }), { minLength: 2, maxLength: 4, selector: (s) => s.name }),
  apis: fc.array(apiSpecArb, { minLength: 2, maxLength: 4 }),
  platform: fc.array(platformPolicyArb, { minLength: 1, maxLength: 2 }),
  ops: fc.array(opArb, { maxLength: 3 })
})
export type World = typeof worldArb extends fc.Arbitrary<infer W> ? W : never

// ---------------------------------------------------------------------------------------------
// building it on the in-memory cluster

const serviceObject = (name: string, selector: Selector | undefined): KubeObject => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: NS },
  spec: { ...(selector !== undefined ? { selector } : {}), ports: [{ port: 8080 }] }
})

const apiName = (i: number) => `api${i}` // names give the age order (equal creation times)

const platformObject = (p: World["platform"][number], i: number): KubeObject => ({
  apiVersion: "security.istio.io/v1",
  kind: "AuthorizationPolicy",
  metadata: { name: `platform-${i}`, namespace: NS },
  spec: { ...(p.selector !== undefined ? { selector: { matchLabels: p.selector } } : {}), action: p.action, rules: [p.rule] }
})

/** Every pod a namespace with these label keys and values could hold. */
const PODS: ReadonlyArray<Pod> = (() => {
  const choices: ReadonlyArray<string | undefined> = [undefined, ...VALUES]
  return choices.flatMap((app) => choices.map((tier) => ({ namespace: NS, labels: labelsOf({ app, tier }) })))
})()

const PATHS = ["/", "/status", "/open", "/open/x", "/site.css", "/orders"]
const TOKENS: ReadonlyArray<Token | null> = [
  null,
  ...ISSUERS.map((issuer) => ({ issuer, valid: true })),
  { issuer: testConfig.defaultIssuer, valid: true },
  { issuer: ISSUERS[0], valid: false },
  { issuer: "https://stranger.example", valid: true }
]

/** Settle every Api until a whole round writes nothing. */
const settle = Effect.gen(function*() {
  const kube = yield* KubeApi
  const reconciler = yield* Reconciler
  const cluster = yield* MemoryCluster
  for (let round = 0; round < 12; round++) {
    const before = (yield* cluster.requests).filter((r) => r.verb !== "get" && r.verb !== "list" && r.verb !== "watch").length
    for (const a of (yield* kube.list(Kinds.Api, { namespace: NS })).items) {
      for (let i = 0; i < 4; i++) {
        const r = yield* Effect.result(reconciler.reconcile(`${NS}/${a.metadata.name}` as never))
        if (r._tag === "Success") break
      }
    }
    const after = (yield* cluster.requests).filter((r) => r.verb !== "get" && r.verb !== "list" && r.verb !== "watch").length
    if (after === before) return
  }
  throw new Error("the controller did not settle in 12 rounds")
})

/** Checks the three properties; returns the violations. */
const check = (step: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const apis = (yield* kube.list(Kinds.Api, { namespace: NS })).items
    const services = new Map((yield* kube.list(Kinds.Service, { namespace: NS })).items.map((s) => [s.metadata.name, s]))
    const objects = {
      requestAuthentications: (yield* kube.list(Kinds.RequestAuthentication, { namespace: NS })).items as unknown as ReadonlyArray<RequestAuthentication>,
      authorizationPolicies: (yield* kube.list(Kinds.AuthorizationPolicy, { namespace: NS })).items as unknown as ReadonlyArray<AuthorizationPolicy>
    }
    const children = [
      ...(yield* kube.list(Kinds.VirtualServiceV1, { namespace: NS })).items,
      ...objects.requestAuthentications as unknown as ReadonlyArray<KubeObject>,
      ...objects.authorizationPolicies as unknown as ReadonlyArray<KubeObject>,
      ...(yield* kube.list(Kinds.PeerAuthentication, { namespace: NS })).items
    ]
    const violations: Array<string> = []

    /**
     * Every Api and how it decides for its names: `securing` (valid, holding its Service, its
     * authentication children in place: its legacy decision must hold), `public` (valid, no
     * authentication asked for: anything goes), or `unknown` (invalid, a loser, or its children
     * failing: it reports that, and no claim is made for its names).
     */
    const deciders = apis.flatMap((api) => {
      const status: ApiStatus = decodeStatus(api["status"])
      const spec = decodeSpec(api["spec"])
      const selector = selectorOf(services.get(targetServiceOf(api) ?? ""))
      if (selector === undefined) return []
      // Its host is its name while it holds it; one another VirtualService holds (code 4) is that one's.
      const host = status.virtualService?.code === 4 ? undefined : claimsOf(api, testConfig.domainName).fqdn
      const names = new Set(namesOf(host, targetServiceOf(api)!, NS).filter((n) => !n.endsWith(":*")))
      const plan = spec._tag === "Success" ? authenticationPlan(spec.success, testConfig) : undefined
      const valid = spec._tag === "Success" && status.validationStatus === 2
      const role = !valid
        ? "unknown" as const
        : plan === undefined
        ? "public" as const
        : status.authenticationStatus?.code === 2
        ? "securing" as const
        : "unknown" as const
      return [{ api, selector, names, role, legacy: plan !== undefined ? desiredPolicy(ownerOf(api as never), plan) : undefined }]
    })
    const hosts = [...new Set([...deciders.flatMap((d) => [...d.names]), "10.1.2.3", "unknown.example"])]
      .flatMap((n) => [n, n.toUpperCase(), `${n}:8080`])
    const bare = (host: string) => host.toLowerCase().replace(/:\d+$/, "")

    for (const pod of PODS) {
      const on = deciders.filter((d) => coversAll(d.selector, pod.labels))
      const securing = on.filter((d) => d.role === "securing")
      if (securing.length === 0) continue
      for (const host of hosts) {
        // Who decides for this Host on this pod: the Apis on it whose names it is; else every Api securing the pod.
        const addressed = on.filter((d) => d.names.has(bare(host)))
        const judges = addressed.length > 0 ? addressed.filter((d) => d.role === "securing") : securing
        if (judges.length === 0) continue
        for (const path of PATHS) for (const token of TOKENS) {
          const r: Request = { host, port: 8080, path, method: "GET", token }
          const verdict = istioDecides(objects, pod, r)
          if (!verdict.allowed) continue
          for (const s of judges) {
            if (legacyDecides(s.legacy!, r)) continue
            violations.push(
              `${step}: pod ${JSON.stringify(pod.labels)} allows GET ${host}${path} ` +
                `${token === null ? "without a token" : `with a ${token.valid ? "valid" : "invalid"} token of ${token.issuer}`} ` +
                `(${verdict.why}), which Api ${s.api.metadata.name}'s legacy decision denies`
            )
          }
        }
      }
    }

    // 3. The loser withdraws.
    for (const api of apis) {
      const status = decodeStatus(api["status"])
      const owner = ownerOf(api as never)
      const own = children.filter((c) => isOwnedBy(c.metadata, owner)).map((c) => `${c.kind} ${c.metadata.name}`)
      if (status.validationStatus === 5 && own.length > 0) violations.push(`${step}: Api ${api.metadata.name} lost its Service (5) and still owns ${own.join(", ")}`)
      if (status.virtualService?.code === 4 && own.some((c) => c.startsWith("VirtualService"))) {
        violations.push(`${step}: Api ${api.metadata.name} lost its host (4) and still owns its VirtualService`)
      }
    }
    return violations
  })

/** Builds the world, settles it, applies each step and checks after every settle. */
export const runWorld = (world: World): Promise<ReadonlyArray<string>> =>
  Effect.runPromise(
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const violations: Array<string> = []
      for (const s of world.services) yield* kube.create(Kinds.Service, serviceObject(s.name, s.selector))
      for (const [i, p] of world.platform.entries()) yield* kube.create(Kinds.AuthorizationPolicy, platformObject(p, i))
      for (const [i, spec] of world.apis.entries()) {
        yield* kube.create(Kinds.Api, { apiVersion: "gateway.kyma-project.io/v1alpha2", kind: "Api", metadata: { name: apiName(i), namespace: NS }, spec })
      }
      yield* settle
      violations.push(...yield* check("created"))
      for (const [n, op] of world.ops.entries()) {
        const step = `step ${n + 1} (${JSON.stringify(op)})`
        const patchSpec = (i: number, spec: Record<string, unknown>) =>
          Effect.ignore(kube.patch(Kinds.Api, NS, apiName(i % world.apis.length), { spec }))
        switch (op.op) {
          case "retarget":
            yield* patchSpec(op.api, { service: { name: op.service, port: 8080 } })
            break
          case "rehost":
            yield* patchSpec(op.api, { hostname: op.hostname })
            break
          case "reauth":
            yield* patchSpec(op.api, { authenticationEnabled: null, authentication: null, ...op.auth })
            break
          case "deleteApi":
            yield* Effect.ignore(kube.delete(Kinds.Api, NS, apiName(op.api % world.apis.length)))
            break
          case "reselect":
            yield* Effect.ignore(kube.delete(Kinds.Service, NS, op.service))
            yield* kube.create(Kinds.Service, serviceObject(op.service, op.selector))
            break
          case "deleteService":
            yield* Effect.ignore(kube.delete(Kinds.Service, NS, op.service))
            break
        }
        yield* settle
        violations.push(...yield* check(step))
      }
      return violations
    }).pipe(
      Effect.provide(memoryWorld(testConfig, scenarioSettings(IstioSecurityBackend))),
      // Thousands of worlds: only what goes wrong is worth a line.
      Effect.provideService(References.MinimumLogLevel, "Error")
    )
  )
