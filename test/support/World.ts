/**
 * The controller wired to the in-memory cluster: what the fast reconciler, scenario and
 * model-based tests run against. Time is Effect's Clock, so under `it.effect` it is TestClock.
 */
import { Effect, Layer } from "effect"
import { type ApiStatus, decodeStatus } from "../../src/domain/Api.ts"
import type { ControllerConfig } from "../../src/domain/ControllerConfig.ts"
import { Kinds, type KubeObject, type ObjectKey, objectKey, type ResourceKind, splitKey } from "../../src/domain/Kube.ts"
import { ClusterView } from "../../src/controller/ClusterView.ts"
import { Reconciler, type ReconcileError } from "../../src/controller/Reconciler.ts"
import { Settings, type SettingsShape } from "../../src/controller/Settings.ts"
import { EventRecorder } from "../../src/k8s/EventRecorder.ts"
import { KubeApi, type KubeApiError, orAbsent } from "../../src/k8s/KubeApi.ts"
import { MemoryCluster, type MemoryClusterOptions } from "./MemoryCluster.ts"
import { testConfig } from "./Fixtures.ts"

/** Reconciler + ClusterView + events over whatever KubeApi is provided; the legacy Policy unless told otherwise. */
export const controllerLayer = (config: ControllerConfig = testConfig, settings: Partial<Omit<SettingsShape, "config">> = {}) =>
  Reconciler.layer.pipe(
    Layer.provideMerge(Layer.mergeAll(ClusterView.layerDirect, EventRecorder.layer, Settings.layer(config, settings)))
  )

export const memoryWorld = (
  config: ControllerConfig = testConfig,
  settings: Partial<Omit<SettingsShape, "config">> = {},
  cluster: MemoryClusterOptions = {}
) => controllerLayer(config, settings).pipe(Layer.provideMerge(MemoryCluster.layer(cluster)))

/** Events written so far (the recorder writes them off the pass's path). */
export const eventsIn = (namespace: string) =>
  Effect.gen(function*() {
    yield* (yield* EventRecorder).flush
    return yield* (yield* MemoryCluster).objects(Kinds.Event, namespace)
  })

/** Run passes for one Api until one ends or fails for good (or `max` passes). Returns how each ended. */
export const settle = (key: ObjectKey, max = 10) =>
  Effect.gen(function*() {
    const reconciler = yield* Reconciler
    const results: Array<"done" | "skipped" | ReconcileError> = []
    for (let i = 0; i < max; i++) {
      const r = yield* Effect.result(reconciler.reconcile(key))
      results.push(r._tag === "Failure" ? r.failure : r.success)
      if (r._tag === "Success" || r.failure.reason === "permanent") break
    }
    return results
  })

/** Settle every Api in the cluster, repeatedly, until a whole round is quiet. */
export const settleAll = (rounds = 5) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    for (let i = 0; i < rounds; i++) {
      const apis = yield* kube.list(Kinds.Api)
      for (const a of apis.items) yield* settle(objectKey(a.metadata.namespace, a.metadata.name))
    }
  })

export const statusOf = (key: ObjectKey): Effect.Effect<ApiStatus, KubeApiError, KubeApi> =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const { namespace, name } = splitKey(key)
    const api = yield* kube.get(Kinds.Api, namespace, name)
    return decodeStatus(api["status"])
  })

export const createApi = (object: KubeObject) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const created = yield* kube.create(Kinds.Api, object)
    return objectKey(created.metadata.namespace, created.metadata.name)
  })

export const childOf = (kind: ResourceKind, key: ObjectKey) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const { namespace, name } = splitKey(key)
    return yield* orAbsent(kube.get(kind, namespace, name))
  })
