/**
 * Reconciler properties that need a look inside the API traffic, so they run on the in-memory
 * cluster, which records every request: writes only when needed, never over a newer version,
 * retries and cleanup.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { API_FINALIZER } from "../../src/domain/Api.ts"
import { Kinds } from "../../src/domain/Kube.ts"
import { Reconciler } from "../../src/controller/Reconciler.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { MemoryCluster, WRITE_VERBS } from "../../src/k8s/MemoryCluster.ts"
import { apiObject, googleJwt } from "../support/Fixtures.ts"
import { createApi, memoryWorld, settle, statusOf } from "../support/World.ts"

const writes = Effect.gen(function*() {
  const cluster = yield* MemoryCluster
  return (yield* cluster.requests).filter((r) => WRITE_VERBS.has(r.verb) && r.plural !== "events")
})

const spec = { service: { name: "httpbin", port: 8000 }, hostname: "httpbin", authentication: [googleJwt] }

describe("reconciler", () => {
  it.effect("a pass over a converged Api makes no write at all", () =>
    Effect.gen(function*() {
      const key = yield* createApi(apiObject("ns", "quiet", spec))
      yield* settle(key)
      const cluster = yield* MemoryCluster
      yield* cluster.resetRequests
      const reconciler = yield* Reconciler
      const result = yield* reconciler.reconcile(key)
      assert.strictEqual(result._tag, "Done")
      assert.deepStrictEqual(yield* writes, [])
      const all = yield* cluster.requests
      assert.deepStrictEqual(all.filter((r) => r.plural === "events"), [], "no events either")
    }).pipe(Effect.provide(memoryWorld())))

  it.effect("a new Api costs one finalizer patch, one create per child and two status writes", () =>
    Effect.gen(function*() {
      const key = yield* createApi(apiObject("ns", "fresh", spec))
      const cluster = yield* MemoryCluster
      yield* cluster.resetRequests
      yield* settle(key)
      const w = yield* writes
      assert.deepStrictEqual(w.map((r) => `${r.verb} ${r.plural}`), [
        "patch apis", // finalizer
        "create virtualservices",
        "create policies",
        "patchStatus apis", // InProgress
        "patchStatus apis" // Created, once the children are seen
      ])
    }).pipe(Effect.provide(memoryWorld())))

  it.effect("adds the finalizer before creating any child", () =>
    Effect.gen(function*() {
      const key = yield* createApi(apiObject("ns", "fin", spec))
      const reconciler = yield* Reconciler
      const kube = yield* KubeApi
      yield* reconciler.reconcile(key)
      const api = yield* kube.get(Kinds.Api, "ns", "fin")
      assert.include(api.metadata.finalizers ?? [], API_FINALIZER)
    }).pipe(Effect.provide(memoryWorld())))

  it.effect("never writes status over a newer version of the Api: the pass fails and is retried", () =>
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
      if (failed._tag === "Failure") assert.isTrue(failed.failure.retryable)
      yield* settle(key)
      const s = yield* statusOf(key)
      assert.strictEqual(s.observedGeneration, 2)
      assert.strictEqual(s.virtualService?.code, 2)
    }).pipe(Effect.provide(memoryWorld())))

  it.effect("a transient write failure keeps the child in progress with the error, then recovers", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster
      yield* cluster.injectFault({ verb: "create", plural: "virtualservices", reason: "ServerError" })
      const key = yield* createApi(apiObject("ns", "flaky", spec))
      const reconciler = yield* Reconciler
      const first = yield* Effect.result(reconciler.reconcile(key))
      assert.strictEqual(first._tag, "Failure", "the queue must back off and retry")
      let s = yield* statusOf(key)
      assert.strictEqual(s.virtualService?.code, 1)
      assert.include(s.virtualService?.lastError ?? "", "will retry")
      yield* settle(key)
      s = yield* statusOf(key)
      assert.strictEqual(s.virtualService?.code, 2)
      assert.isUndefined(s.virtualService?.lastError)
    }).pipe(Effect.provide(memoryWorld())))

  it.effect("a permanent write failure is an error, with an event saying why", () =>
    Effect.gen(function*() {
      const cluster = yield* MemoryCluster
      yield* cluster.injectFault({ verb: "create", plural: "policies", reason: "Forbidden", times: 100 })
      const key = yield* createApi(apiObject("ns", "denied", spec))
      yield* settle(key)
      const s = yield* statusOf(key)
      assert.strictEqual(s.authenticationStatus?.code, 3)
      assert.include(s.authenticationStatus?.lastError ?? "", "Forbidden")
      assert.strictEqual(s.conditions?.[0]?.reason, "PolicyFailed")
      const events = yield* cluster.objects(Kinds.Event, "ns")
      assert.isTrue(events.some((e) => e["reason"] === "PolicyWriteFailed"), "a Warning event for the failure")
      assert.isTrue(events.some((e) => e["reason"] === "PolicyError"), "an event for the state change")
    }).pipe(Effect.provide(memoryWorld())))

  it.effect("a child already gone during cleanup is not an error", () =>
    Effect.gen(function*() {
      const key = yield* createApi(apiObject("ns", "gone", spec))
      yield* settle(key)
      const kube = yield* KubeApi
      yield* kube.delete(Kinds.Policy, "ns", "gone")
      yield* kube.delete(Kinds.Api, "ns", "gone")
      yield* settle(key)
      const left = yield* Effect.result(kube.get(Kinds.Api, "ns", "gone"))
      assert.strictEqual(left._tag, "Failure")
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
      // It went False (InProgress) and back to True during the update, so the time moved.
      assert.notStrictEqual(after?.lastTransitionTime, first?.lastTransitionTime)
      yield* TestClock.adjust("1 hour")
      yield* settle(key)
      assert.strictEqual((yield* statusOf(key)).conditions?.[0]?.lastTransitionTime, after?.lastTransitionTime)
    }).pipe(Effect.provide(memoryWorld())))
})
