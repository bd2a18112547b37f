/**
 * Reconciler properties that need a look inside the API traffic, so they run on the in-memory
 * cluster, which records every request: a new Api converges in one pass with one status write
 * (SPEC 5), the echo of its own writes costs nothing, nothing is written over a newer version,
 * retries, secure before expose, and no finalizer (SPEC 2, 8).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { LEGACY_FINALIZER } from "../../src/domain/Api.ts"
import { Kinds } from "../../src/domain/Kube.ts"
import { Reconciler } from "../../src/controller/Reconciler.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { MemoryCluster, WRITE_VERBS } from "../support/MemoryCluster.ts"
import { apiObject, googleJwt } from "../support/Fixtures.ts"
import { childOf, createApi, eventsIn, memoryWorld, settle, statusOf } from "../support/World.ts"

const writes = Effect.gen(function*() {
  const cluster = yield* MemoryCluster
  return (yield* cluster.requests).filter((r) => WRITE_VERBS.has(r.verb) && r.plural !== "events")
})

const spec = { service: { name: "httpbin", port: 8000 }, hostname: "httpbin", authentication: [googleJwt] }

describe("reconciler", () => {
  it.effect("a new Api is created in one pass: one create per child, authentication first, one status write", () =>
    Effect.gen(function*() {
      const key = yield* createApi(apiObject("ns", "fresh", spec))
      const cluster = yield* MemoryCluster
      yield* cluster.resetRequests
      const reconciler = yield* Reconciler
      const result = yield* reconciler.reconcile(key)
      assert.strictEqual(result, "done")
      assert.deepStrictEqual((yield* writes).map((r) => `${r.verb} ${r.plural}`), [
        "create policies",
        "create virtualservices",
        "patchStatus apis"
      ])
      const s = yield* statusOf(key)
      assert.deepStrictEqual([s.validationStatus, s.authenticationStatus?.code, s.virtualService?.code], [2, 2, 2])
      const vs = yield* childOf(Kinds.VirtualService, key)
      assert.deepStrictEqual(s.virtualService?.resource, {
        name: "fresh",
        uid: vs!.metadata.uid!,
        version: vs!.metadata.resourceVersion!
      }, "the resource named is the one the create returned")
      assert.strictEqual(s.conditions?.[0]?.status, "True")
      const events = yield* eventsIn("ns")
      assert.deepStrictEqual(events.map((e) => [e["type"], e["reason"]]), [["Normal", "Ready"]], "one Event: Ready")
    }).pipe(Effect.provide(memoryWorld())))

  it.effect("the pass after a converged one is skipped: no read beyond the cache's, no write, no Event", () =>
    Effect.gen(function*() {
      const key = yield* createApi(apiObject("ns", "quiet", spec))
      yield* settle(key)
      const cluster = yield* MemoryCluster
      yield* cluster.resetRequests
      const reconciler = yield* Reconciler
      const result = yield* reconciler.reconcile(key)
      assert.strictEqual(result, "skipped")
      assert.deepStrictEqual(yield* writes, [])
      assert.deepStrictEqual((yield* eventsIn("ns")).length, 1, "still only the Ready Event")
    }).pipe(Effect.provide(memoryWorld())))

  it.effect("a change by someone else after the pass is not skipped: a child deleted by hand is restored", () =>
    Effect.gen(function*() {
      const key = yield* createApi(apiObject("ns", "drift", spec))
      yield* settle(key)
      const kube = yield* KubeApi
      yield* kube.delete(Kinds.VirtualService, "ns", "drift")
      const reconciler = yield* Reconciler
      assert.strictEqual(yield* reconciler.reconcile(key), "done")
      assert.isDefined(yield* childOf(Kinds.VirtualService, key))
    }).pipe(Effect.provide(memoryWorld())))

  it.effect("removes the finalizer an earlier version added, the first time it sees the Api", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const key = yield* createApi({
        ...apiObject("ns", "old", spec),
        metadata: { name: "old", namespace: "ns", finalizers: [LEGACY_FINALIZER, "example.com/keep"] }
      })
      yield* settle(key)
      const api = yield* kube.get(Kinds.Api, "ns", "old")
      assert.deepStrictEqual(api.metadata.finalizers, ["example.com/keep"], "only ours goes")
      assert.strictEqual((yield* statusOf(key)).virtualService?.code, 2)
    }).pipe(Effect.provide(memoryWorld())))

  it.effect("adds no finalizer: cleanup is garbage collection of owned children", () =>
    Effect.gen(function*() {
      const key = yield* createApi(apiObject("ns", "nofin", spec))
      yield* settle(key)
      const kube = yield* KubeApi
      assert.isUndefined((yield* kube.get(Kinds.Api, "ns", "nofin")).metadata.finalizers)
      const vs = yield* childOf(Kinds.VirtualService, key)
      assert.deepStrictEqual(
        vs?.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.controller, r.blockOwnerDeletion]),
        [["Api", "nofin", true, true]]
      )
    }).pipe(Effect.provide(memoryWorld())))

  it.effect("never writes status over a newer version of the Api: the pass fails as a lost race and is retried", () =>
    Effect.gen(function*() {
      const key = yield* createApi(apiObject("ns", "race", spec))
      yield* settle(key)
      const cluster = yield* MemoryCluster
      const kube = yield* KubeApi
      // The spec changes between the pass's read and its status write.
      yield* cluster.injectFault({ verb: "patchStatus", plural: "apis", reason: "Conflict" })
      const api = yield* kube.get(Kinds.Api, "ns", "race")
      yield* kube.replace(Kinds.Api, { ...api, spec: { ...spec, hostname: "race-two" } })
      const reconciler = yield* Reconciler
      const failed = yield* Effect.result(reconciler.reconcile(key))
      assert.strictEqual(failed._tag, "Failure")
      // The worker retries a lost race and logs it at debug level, not as a warning (it is expected now and then).
      if (failed._tag === "Failure") assert.strictEqual(failed.failure.reason, "lostRace")
      yield* settle(key)
      const s = yield* statusOf(key)
      assert.strictEqual(s.observedGeneration, 2)
      assert.strictEqual(s.virtualService?.code, 2)
    }).pipe(Effect.provide(memoryWorld())))

  it.effect("a transient VirtualService write failure is in progress with the error, then recovers", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster
      yield* cluster.injectFault({ verb: "create", plural: "virtualservices", reason: "ServerError" })
      const key = yield* createApi(apiObject("ns", "flaky", spec))
      const reconciler = yield* Reconciler
      const first = yield* Effect.result(reconciler.reconcile(key))
      assert.strictEqual(first._tag, "Failure", "the queue must back off and retry")
      // A 5xx: the server did not answer usefully (etcd down, say), which the workers say once for all passes.
      if (first._tag === "Failure") assert.strictEqual(first.failure.reason, "unreachable")
      let s = yield* statusOf(key)
      assert.strictEqual(s.virtualService?.code, 1)
      assert.include(s.virtualService?.lastError ?? "", "will retry")
      yield* settle(key)
      s = yield* statusOf(key)
      assert.strictEqual(s.virtualService?.code, 2)
      assert.isUndefined(s.virtualService?.lastError)
    }).pipe(Effect.provide(memoryWorld())))

  it.effect("secure before expose: while the Policy cannot be written, no VirtualService is created", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster
      yield* cluster.injectFault({ verb: "create", plural: "policies", reason: "ServerError", times: 2 })
      const key = yield* createApi(apiObject("ns", "unsafe", spec))
      const reconciler = yield* Reconciler
      assert.strictEqual((yield* Effect.result(reconciler.reconcile(key)))._tag, "Failure")
      const s = yield* statusOf(key)
      assert.deepStrictEqual([s.authenticationStatus?.code, s.virtualService?.code], [1, 1])
      assert.include(s.virtualService?.lastError ?? "", "waiting for authentication")
      assert.isUndefined(yield* childOf(Kinds.VirtualService, key), "nothing is exposed")
      yield* settle(key)
      const healed = yield* statusOf(key)
      assert.deepStrictEqual([healed.authenticationStatus?.code, healed.virtualService?.code], [2, 2])
    }).pipe(Effect.provide(memoryWorld())))

  it.effect("a permanent Policy failure is an error with one Warning Event, and nothing is exposed", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster
      yield* cluster.injectFault({ verb: "create", plural: "policies", reason: "Forbidden", times: 100 })
      const key = yield* createApi(apiObject("ns", "denied", spec))
      yield* settle(key)
      yield* settle(key)
      const s = yield* statusOf(key)
      assert.strictEqual(s.authenticationStatus?.code, 3)
      assert.include(s.authenticationStatus?.lastError ?? "", "Forbidden")
      assert.strictEqual(s.virtualService?.code, 0)
      assert.strictEqual(s.conditions?.[0]?.reason, "AuthenticationFailed")
      assert.isUndefined(yield* childOf(Kinds.VirtualService, key))
      const events = yield* eventsIn("ns")
      assert.deepStrictEqual(events.map((e) => [e["type"], e["reason"]]), [["Warning", "AuthenticationFailed"]])
    }).pipe(Effect.provide(memoryWorld())))

  it.effect("a kind the cluster does not serve is a permanent error naming the kind and AUTH_BACKEND, not a retry", () =>
    Effect.gen(function*() {
      const key = yield* createApi(apiObject("ns", "nocrd", spec))
      const reconciler = yield* Reconciler
      const result = yield* reconciler.reconcile(key)
      assert.strictEqual(result, "done", "nothing to retry")
      const s = yield* statusOf(key)
      assert.strictEqual(s.authenticationStatus?.code, 3)
      assert.include(s.authenticationStatus?.lastError ?? "", "does not serve Policy (authentication.istio.io/v1alpha1)")
      assert.include(s.authenticationStatus?.lastError ?? "", "AUTH_BACKEND=istio-policy")
      assert.strictEqual(s.virtualService?.code, 0, "not exposed")
    }).pipe(Effect.provide(memoryWorld(undefined, {}, { unserved: [Kinds.Policy] }))))

  it.effect("an Api being deleted gets no writes: its owned children go by garbage collection", () =>
    Effect.gen(function*() {
      const key = yield* createApi({
        ...apiObject("ns", "going", spec),
        metadata: { name: "going", namespace: "ns", finalizers: ["example.com/hold"] }
      })
      const kube = yield* KubeApi
      yield* kube.delete(Kinds.Api, "ns", "going")
      const cluster = yield* MemoryCluster
      yield* cluster.resetRequests
      yield* settle(key)
      assert.deepStrictEqual(yield* writes, [])
    }).pipe(Effect.provide(memoryWorld())))

  it.effect("a create refused because the namespace is being deleted ends the pass quietly: no status write, no Event, no retry", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster
      const key = yield* createApi(apiObject("ns", "leaving", spec))
      yield* cluster.injectFault({
        verb: "create",
        plural: "policies",
        reason: "Forbidden",
        causes: [{ field: "metadata.namespace", reason: "NamespaceTerminating", message: "namespace ns is being terminated" }],
        times: 100
      })
      yield* cluster.resetRequests
      const reconciler = yield* Reconciler
      const result = yield* reconciler.reconcile(key)
      assert.strictEqual(result, "done", "nothing to retry")
      const attempted = (yield* cluster.requests).filter((r) => WRITE_VERBS.has(r.verb))
      assert.deepStrictEqual(attempted.map((r) => `${r.verb} ${r.plural}`), ["create policies"], "the refused create, then nothing")
      assert.deepStrictEqual(yield* statusOf(key), {}, "no status written")
      assert.deepStrictEqual(yield* eventsIn("ns"), [])

      // Its other children going, one by one, wake it again: no more creates for the namespace to refuse.
      yield* cluster.resetRequests
      for (let i = 0; i < 3; i++) assert.strictEqual(yield* reconciler.reconcile(key), "done")
      assert.deepStrictEqual((yield* cluster.requests).filter((r) => WRITE_VERBS.has(r.verb)), [], "the Api is left to the namespace")
    }).pipe(Effect.provide(memoryWorld())))

  it.effect("the Ready condition keeps its transition time while its status does not change", () =>
    Effect.gen(function*() {
      const key = yield* createApi(apiObject("ns", "clock", spec))
      yield* settle(key)
      const first = (yield* statusOf(key)).conditions?.[0]
      yield* TestClock.adjust("1 hour")
      const kube = yield* KubeApi
      const api = yield* kube.get(Kinds.Api, "ns", "clock")
      yield* kube.replace(Kinds.Api, { ...api, spec: { ...spec, service: { name: "httpbin", port: 8080 } } })
      yield* settle(key)
      const after = (yield* statusOf(key)).conditions?.[0]
      assert.strictEqual(after?.status, "True")
      assert.strictEqual(after?.observedGeneration, 2)
      // One pass took it from Ready to Ready: the time stays.
      assert.strictEqual(after?.lastTransitionTime, first?.lastTransitionTime)
    }).pipe(Effect.provide(memoryWorld())))
})
