/**
 * Isolation on a real kube-apiserver (issue 20, SPEC 6 and 10 revised), with the whole controller
 * running (src/runtime/App.ts: informers, watches, work queue; resync an hour away, so whatever
 * heals here heals from watch events):
 *
 * 1. Retarget: an older Api moved onto the Service a younger one exposes. The younger withdraws
 *    everything it created (VirtualService, then its authentication children) and reports 5.
 * 2. Creation race: pairs of Apis created together, each pair for one Service. Each loser ends
 *    with nothing; each Service ends with one Api's children.
 * 3. Two Services over the same pods: a request to the strict Api's host without a token is
 *    denied on the shared pods, while the open Api's own host stays open; where Istio cannot keep
 *    them apart (mTLS modes that disagree), the later Api says so (Warning Event, condition).
 *
 * The first two run under both backends; the third is istio-security's (the legacy Policy targets
 * a Service). Every pod's decision is judged with src/preview/IstioDecision.ts over every policy in
 * the namespace, and `istioctl analyze` has nothing to say about what the controller wrote.
 */
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Metric } from "effect"
import { BACKENDS } from "../../src/plan/Backends.ts"
import { decodeStatus } from "../../src/domain/Api.ts"
import type { AuthorizationPolicy, RequestAuthentication } from "../../src/domain/Istio.ts"
import { Kinds, type KubeObject } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { ownerOf } from "../../src/lifecycle/Observation.ts"
import type { AuthenticationBackend } from "../../src/plan/AuthenticationBackend.ts"
import { authenticationPlan } from "../../src/plan/AuthenticationPlan.ts"
import { desiredPolicy } from "../../src/plan/IstioPolicyBackend.ts"
import { isOwnedBy } from "../../src/plan/Ownership.ts"
import { decodeSpec } from "../../src/domain/Api.ts"
import { appWith } from "../../src/runtime/App.ts"
import * as Logging from "../../src/runtime/Logging.ts"
import { liveKubeApi, testNamespace } from "../support/ClusterTest.ts"
import { eventually } from "../support/Eventually.ts"
import { apiObject, configWith } from "../support/Fixtures.ts"
import { ensureGateway, istioAcceptsWhatWeWrote } from "../support/IstioCheck.ts"
import { istioDecides, legacyDecides, type Request } from "../../src/preview/IstioDecision.ts"

const A = { issuer: "https://a.example.com", jwksUri: "https://a.example.com/keys" }
const B = { issuer: "https://b.example.com", jwksUri: "https://b.example.com/keys" }
const jwt = (iss: typeof A, excludedPaths: ReadonlyArray<Record<string, string>> = []) => ({
  type: "JWT",
  jwt: { ...iss, ...(excludedPaths.length > 0 ? { triggerRule: { excludedPaths } } : {}) }
})

/** The controller, running against the test control plane with `backend`, for the test's scope. */
const runController = (backend: AuthenticationBackend) =>
  Layer.build(
    appWith(liveKubeApi(), {
      config: configWith({ AUTH_BACKEND: backend.name }),
      controller: { workers: 4, resyncPeriod: Duration.hours(1) }
    }).pipe(Layer.provide(Layer.mergeAll(Logging.layer({ format: "pretty", level: "Error" }), Layer.succeed(Metric.MetricRegistry, new Map()))))
  )

const service = (namespace: string, name: string, selector: Record<string, string>): KubeObject => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace },
  spec: { selector, ports: [{ port: 8080 }] }
})

const statusOf = (namespace: string, name: string) =>
  Effect.gen(function*() {
    const api = yield* (yield* KubeApi).get(Kinds.Api, namespace, name)
    return decodeStatus(api["status"])
  })

/** What Api `name` owns in its namespace, as `Kind name`. */
const ownedBy = (namespace: string, name: string, backend: AuthenticationBackend) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const api = yield* kube.get(Kinds.Api, namespace, name)
    const owner = ownerOf(api as never)
    const kinds = [Kinds.VirtualServiceV1, Kinds.VirtualService, ...backend.kinds]
    const owned: Array<string> = []
    for (const kind of kinds) {
      for (const o of (yield* kube.list(kind, { namespace })).items) {
        if (isOwnedBy(o.metadata, owner)) owned.push(`${kind.kind} ${o.metadata.name}`)
      }
    }
    return [...new Set(owned)].sort()
  })

/** Everything Istio combines on the namespace's pods, as the server holds it. */
const securityObjects = (namespace: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    return {
      requestAuthentications: (yield* kube.list(Kinds.RequestAuthentication, { namespace })).items as unknown as ReadonlyArray<RequestAuthentication>,
      authorizationPolicies: (yield* kube.list(Kinds.AuthorizationPolicy, { namespace })).items as unknown as ReadonlyArray<AuthorizationPolicy>
    }
  })

const legacyOf = (api: KubeObject, backend: AuthenticationBackend) => {
  const spec = decodeSpec(api["spec"])
  if (spec._tag !== "Success") throw new Error("the Api must decode")
  return desiredPolicy(ownerOf(api as never), authenticationPlan(spec.success, configWith({ AUTH_BACKEND: backend.name }))!)
}

const PATHS = ["/", "/open", "/open/x", "/orders"]
const TOKENS = [null, { issuer: A.issuer, valid: true }, { issuer: B.issuer, valid: true }]

for (const backend of BACKENDS) {
  const security = backend.selectsWorkload
  describe(`isolation on a real kube-apiserver, AUTH_BACKEND=${backend.name}`, () => {
    if (security) beforeAll(() => Effect.runPromise(ensureGateway.pipe(Effect.provide(liveKubeApi()))), 60_000)

    it.live("retarget: an older Api moved onto a younger one's Service makes the younger withdraw everything, VirtualService first, without a resync", () =>
      Effect.gen(function*() {
        const kube = yield* KubeApi
        const ns = yield* testNamespace("iso-retarget", { "istio-injection": "enabled" })
        yield* runController(backend)
        yield* kube.create(Kinds.Service, service(ns, "one", { app: "one" }))
        yield* kube.create(Kinds.Service, service(ns, "two", { app: "two" }))
        yield* kube.create(Kinds.Api, apiObject(ns, "older", { service: { name: "one", port: 8080 }, hostname: `older-${ns}`, authentication: [jwt(A)] }))
        // One second later at least: creationTimestamps have one-second resolution.
        yield* eventually(Effect.map(statusOf(ns, "older"), (s) => assert.strictEqual(s.virtualService?.code, 2)), { live: true })
        yield* Effect.sleep("1100 millis")
        yield* kube.create(Kinds.Api, apiObject(ns, "younger", { service: { name: "two", port: 8080 }, hostname: `younger-${ns}`, authentication: [jwt(B, [{ prefix: "/open" }])] }))
        yield* eventually(Effect.map(statusOf(ns, "younger"), (s) => assert.strictEqual(s.virtualService?.code, 2)), { live: true })
        assert.isNotEmpty(yield* ownedBy(ns, "younger", backend))

        yield* kube.patch(Kinds.Api, ns, "older", { spec: { service: { name: "two", port: 8080 } } })
        yield* eventually(
          Effect.gen(function*() {
            const s = yield* statusOf(ns, "younger")
            assert.strictEqual(s.validationStatus, 5)
            assert.include(s.lastError ?? "", `${ns}/older`)
            assert.deepStrictEqual(yield* ownedBy(ns, "younger", backend), [], "the loser owns nothing")
            assert.strictEqual((yield* statusOf(ns, "older")).virtualService?.code, 2)
          }),
          { live: true }
        )
        const younger = yield* statusOf(ns, "younger")
        assert.strictEqual(younger.virtualService?.code, 0)
        assert.strictEqual(younger.authenticationStatus?.code, 0)
        const transitions = (younger.transitions ?? []).filter((t) => t.to === "TargetServiceOccupied" || t.to === "NotCreated")
        assert.isNotEmpty(transitions)
        if (security) {
          // The pods behind two take older's decision only: /open needs a token of A on older's host.
          const objects = yield* securityObjects(ns)
          const pod = { namespace: ns, labels: { app: "two" } }
          const older = yield* kube.get(Kinds.Api, ns, "older")
          for (const host of [`older-${ns}.kyma.local`, `two.${ns}.svc.cluster.local:8080`, "10.0.0.9"]) {
            for (const path of PATHS) for (const token of TOKENS) {
              const r: Request = { host, port: 8080, path, method: "GET", token }
              const verdict = istioDecides(objects, pod, r)
              if (verdict.allowed) assert.isTrue(legacyDecides(legacyOf(older, backend), r), `${host}${path} ${JSON.stringify(token)}: ${verdict.why}`)
            }
          }
          assert.isFalse(istioDecides(objects, pod, { host: `older-${ns}.kyma.local`, port: 8080, path: "/open", method: "GET", token: null }).allowed)
          yield* istioAcceptsWhatWeWrote(ns)
        } else {
          const policies = (yield* kube.list(Kinds.Policy, { namespace: ns })).items
          assert.deepStrictEqual(
            policies.filter((p) => (p["spec"] as { targets: Array<{ name: string }> }).targets.some((t) => t.name === "two")).map((p) => p.metadata.name),
            ["older"],
            "never two of our Policies for one Service"
          )
        }
      }).pipe(Effect.scoped, Effect.provide(liveKubeApi())), 120_000)

    it.live("creation race: of every pair created together for one Service, the loser ends with nothing and the Service with one Api's children", () =>
      Effect.gen(function*() {
        const kube = yield* KubeApi
        const ns = yield* testNamespace("iso-race", { "istio-injection": "enabled" })
        yield* runController(backend)
        const pairs = 20
        yield* Effect.forEach(Array.from({ length: pairs }, (_, i) => i), (i) => kube.create(Kinds.Service, service(ns, `svc-${i}`, { app: `svc-${i}` })), { concurrency: 8, discard: true })
        yield* Effect.forEach(Array.from({ length: pairs }, (_, i) => i), (i) =>
          Effect.all([
            kube.create(Kinds.Api, apiObject(ns, `first-${i}`, { service: { name: `svc-${i}`, port: 8080 }, hostname: `first-${i}-${ns}`, authentication: [jwt(A)] })),
            kube.create(Kinds.Api, apiObject(ns, `second-${i}`, { service: { name: `svc-${i}`, port: 8080 }, hostname: `second-${i}-${ns}`, authentication: [jwt(B, [{ prefix: "/" }])] }))
          ], { concurrency: 2 }), { concurrency: 8, discard: true })
        yield* eventually(
          Effect.gen(function*() {
            for (let i = 0; i < pairs; i++) {
              const codes = yield* Effect.all([statusOf(ns, `first-${i}`), statusOf(ns, `second-${i}`)])
              const winners = codes.filter((s) => s.validationStatus === 2 && s.virtualService?.code === 2)
              const losers = codes.filter((s) => s.validationStatus === 5)
              assert.strictEqual(winners.length, 1, `pair ${i}: one winner`)
              assert.strictEqual(losers.length, 1, `pair ${i}: one loser`)
              const loser = codes[0]!.validationStatus === 5 ? `first-${i}` : `second-${i}`
              assert.deepStrictEqual(yield* ownedBy(ns, loser, backend), [], `pair ${i}: ${loser} owns nothing`)
            }
          }),
          { live: true, step: "500 millis", steps: 120 }
        )
        if (security) yield* istioAcceptsWhatWeWrote(ns)
      }).pipe(Effect.scoped, Effect.provide(liveKubeApi())), 120_000)

    if (security) {
      it.live("two Services over the same pods: the strict Api's host needs its token on every path, the open Api's host stays open, and disagreeing mTLS is reported by the later Api", () =>
        Effect.gen(function*() {
          const kube = yield* KubeApi
          const ns = yield* testNamespace("iso-shared", { "istio-injection": "enabled" })
          yield* runController(backend)
          yield* kube.create(Kinds.Service, service(ns, "orders", { app: "shared" }))
          yield* kube.create(Kinds.Service, service(ns, "orders-public", { app: "shared" }))
          yield* kube.create(Kinds.Api, apiObject(ns, "strict", { service: { name: "orders", port: 8080 }, hostname: `strict-${ns}`, authentication: [jwt(A)] }))
          yield* eventually(Effect.map(statusOf(ns, "strict"), (s) => assert.strictEqual(s.virtualService?.code, 2)), { live: true })
          yield* Effect.sleep("1100 millis")
          yield* kube.create(Kinds.Api, apiObject(ns, "open", { service: { name: "orders-public", port: 8080 }, hostname: `open-${ns}`, authentication: [jwt(B, [{ prefix: "/" }])] }))
          yield* eventually(
            Effect.gen(function*() {
              assert.strictEqual((yield* statusOf(ns, "open")).virtualService?.code, 2)
              // strict's DENY leaves open's names to open, and the other way round.
              const deny = yield* kube.get(Kinds.AuthorizationPolicy, ns, "strict-deny")
              assert.include(JSON.stringify(deny["spec"]), `open-${ns}.kyma.local`)
            }),
            { live: true }
          )
          const objects = yield* securityObjects(ns)
          const pod = { namespace: ns, labels: { app: "shared", "pod-template-hash": "x" } }
          const ask = (host: string, path: string, token: Request["token"] = null) => istioDecides(objects, pod, { host, port: 8080, path, method: "GET", token })
          assert.isFalse(ask(`strict-${ns}.kyma.local`, "/").allowed, "the issue's request: strict's host, no token")
          assert.isFalse(ask(`orders.${ns}.svc.cluster.local:8080`, "/").allowed)
          assert.isFalse(ask(`strict-${ns}.kyma.local`, "/", { issuer: B.issuer, valid: true }).allowed, "open's token is not strict's")
          assert.isTrue(ask(`strict-${ns}.kyma.local`, "/", { issuer: A.issuer, valid: true }).allowed)
          assert.isTrue(ask(`open-${ns}.kyma.local`, "/").allowed, "open's own host stays open")
          assert.isFalse(ask("10.0.0.9:8080", "/").allowed, "any other Host takes strict's decision too")
          const strict = yield* kube.get(Kinds.Api, ns, "strict")
          for (const host of [`strict-${ns}.kyma.local`, `STRICT-${ns}.kyma.local:443`, `orders.${ns}`, "10.0.0.9"]) {
            for (const path of PATHS) for (const token of TOKENS) {
              const verdict = ask(host, path, token)
              if (verdict.allowed) assert.isTrue(legacyDecides(legacyOf(strict, backend), { path, token }), `${host}${path}: ${verdict.why}`)
            }
          }
          // Same selectors, both authenticated, same mTLS: Istio keeps them apart, nothing to report.
          assert.strictEqual((yield* statusOf(ns, "open")).validationStatus, 2)
          assert.isUndefined(((yield* statusOf(ns, "open")).conditions ?? []).find((c) => c.type === "WorkloadIsolated"))
          yield* istioAcceptsWhatWeWrote(ns)

          // open asks for no mTLS: PeerAuthentication is per pod, so Istio cannot honour it. The later Api says so.
          yield* kube.patch(Kinds.Api, ns, "open", { spec: { disableIstioAuthPolicyMTLS: true } })
          yield* eventually(
            Effect.gen(function*() {
              const s = yield* statusOf(ns, "open")
              const c = (s.conditions ?? []).find((x) => x.type === "WorkloadIsolated")
              assert.strictEqual(c?.status, "False")
              assert.strictEqual(c?.reason, "WorkloadShared")
              assert.include(c?.message ?? "", `Api ${ns}/strict`)
              assert.include(c?.message ?? "", "mTLS is per pod")
              assert.strictEqual(s.validationStatus, 2)
              assert.strictEqual((s.conditions ?? []).find((x) => x.type === "Ready")?.status, "True")
              const events = (yield* kube.list(Kinds.Event, { namespace: ns })).items
              assert.isTrue(
                events.some((e) => (e["involvedObject"] as { name?: string })?.name === "open" && e["type"] === "Warning" && e["reason"] === "WorkloadShared"),
                "a Warning Event on the later Api"
              )
              const strictStatus = yield* statusOf(ns, "strict")
              assert.isUndefined((strictStatus.conditions ?? []).find((x) => x.type === "WorkloadIsolated"), "the older Api reports nothing")
            }),
            { live: true }
          )
        }).pipe(Effect.scoped, Effect.provide(liveKubeApi())), 120_000)
    }
  })
}
