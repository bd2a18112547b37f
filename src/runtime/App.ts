/**
 * The whole controller as one layer: Kubernetes access (instrumented for metrics), the cached
 * cluster view, the reconciler, the controller loop (behind leader election when asked), the
 * health/metrics server and the state gauges. The CLI, the end-to-end demo and the tests that
 * run a controller all build it here, so they run the same thing.
 */
import { Context, Duration, Effect, Layer, Schedule, Stream } from "effect"
import type { ControllerConfig } from "../domain/ControllerConfig.ts"
import { ClusterCache } from "../controller/ClusterCache.ts"
import { Controller, type ControllerOptions, defaultControllerOptions } from "../controller/Controller.ts"
import { LeaderElection, type LeaderElectionConfig } from "../k8s/LeaderElection.ts"
import { Reconciler } from "../controller/Reconciler.ts"
import { WorkQueue } from "../controller/WorkQueue.ts"
import { Settings, type SettingsShape } from "../controller/Settings.ts"
import { decodeStatus } from "../domain/Api.ts"
import { EventRecorder } from "../k8s/EventRecorder.ts"
import { instrumented, type RequestListener } from "../k8s/InstrumentedKubeApi.ts"
import { ServerOutage } from "../k8s/ServerOutage.ts"
import type { KubeApi } from "../k8s/KubeApi.ts"
import { machineStatesOf, readinessCondition, stateNamesOf } from "../lifecycle/StatusProjection.ts"
import * as WebView from "../web/WebView.ts"
import { HealthServer } from "./HealthServer.ts"
import * as Metrics from "./Metrics.ts"
import { Reachability, type ReachabilityOptions } from "./Reachability.ts"

export interface AppOptions {
  readonly config: ControllerConfig
  readonly controller?: Partial<ControllerOptions>
  /**
   * Serve /healthz, /readyz and /metrics here; omit for no server (tests). Readiness: caches
   * synced and the API server answering (src/runtime/Reachability.ts); `reachability` tunes the latter.
   */
  readonly health?: {
    readonly host: string
    readonly port: number
    readonly reachability?: ReachabilityOptions
  }
  /** Serve the live web view (src/web) on its own port; omit for none. Provides `WebView` with the bound address. */
  readonly web?: WebView.WebViewOptions
  /** Only the Lease holder runs workers; omit to always run them. */
  readonly leaderElection?: LeaderElectionConfig
  /** Also told about every Kubernetes request (tests and benchmarks count them). */
  readonly onRequest?: RequestListener
  /** How often the per-state and conflict gauges are recomputed from the cache. */
  readonly gaugePeriod?: Duration.Duration
  /** Fixed settings (tests); omitted, the backend and VirtualService version are discovered (SPEC 10). */
  readonly settings?: Partial<Omit<SettingsShape, "config">>
}

/** Apis per machine state and conflicts, from the cached statuses. */
const recordGauges = Effect.gen(function*() {
  const cache = yield* ClusterCache
  const machines = cache.apis().map((a) => machineStatesOf(decodeStatus(a["status"])))
  const states = machines.map((m) => stateNamesOf(m))
  yield* Metrics.recordStates(Metrics.countStates(states))
  yield* Metrics.recordConflicts({
    hostname: states.filter((s) => s.virtualService === "HostnameOccupied").length,
    service: states.filter((s) => s.validation === "TargetServiceOccupied").length
  })
  yield* Metrics.recordReadyConditions(machines.map(readinessCondition))
})

const settingsLayer = (options: AppOptions) =>
  options.settings !== undefined
    ? Settings.layer(options.config, options.settings)
    : Settings.layerDiscovered(options.config).pipe(
      Layer.tap((ctx) => {
        const s = Context.get(ctx, Settings)
        return Effect.logInfo("authentication backend chosen", {
          backend: s.backend.name,
          reason: s.backendReason,
          virtualServiceVersion: s.virtualServiceKind.version
        })
      })
    )

/** Everything but `KubeApi`, which the caller provides (live, or in memory). */
export const appLayer = (options: AppOptions) => {
  const controllerOptions: ControllerOptions = { ...defaultControllerOptions, ...options.controller }
  const onRequest: RequestListener = (r) =>
    Effect.andThen(Metrics.recordKubeRequest(r.verb, r.resource, r.outcome), options.onRequest?.(r) ?? Effect.void)

  // With a health server, every request's outcome also feeds readiness (watches excepted: a
  // watch is reported when it is opened, before the server has answered anything).
  const kube = options.health === undefined
    ? instrumented(onRequest)
    : Layer.unwrap(Effect.map(Effect.service(Reachability), (reachability) =>
      instrumented((r) =>
        Effect.andThen(onRequest(r), r.verb === "watch" ? Effect.void : reachability.record(r.outcome))
      ))).pipe(Layer.provideMerge(Reachability.layer(options.health.reachability)))
  const leader = options.leaderElection !== undefined
    ? LeaderElection.layer(options.leaderElection)
    : LeaderElection.layerAlwaysLeader()

  // Events wait while passes do (src/k8s/EventRecorder.ts).
  const holdEvents = Layer.effectDiscard(Effect.gen(function*() {
    const queue = yield* WorkQueue
    yield* (yield* EventRecorder).holdWhileBusy(queue.idle)
  }))

  const gauges = Layer.effectDiscard(Effect.gen(function*() {
    yield* Metrics.initMetrics
    const settings = yield* Settings
    yield* Metrics.recordBackend(settings.backend.name, settings.virtualServiceKind.version)
    yield* Effect.forkScoped(Stream.runForEach((yield* LeaderElection).changes, Metrics.recordLeader))
    const cache = yield* ClusterCache
    yield* Effect.forkScoped(
      cache.synced.pipe(
        Effect.andThen(recordGauges.pipe(Effect.repeat(Schedule.spaced(options.gaugePeriod ?? Duration.seconds(5)))))
      )
    )
  }))

  const health = options.health === undefined ? Layer.empty : Layer.unwrap(Effect.gen(function*() {
    const cache = yield* ClusterCache
    // Always there with a health server (see `kube` above); optional only for the types.
    const reachability = yield* Effect.serviceOption(Reachability)
    const h = options.health!
    const queue = yield* WorkQueue
    return HealthServer.layer({
      host: h.host,
      port: h.port,
      // The queue's depth as it is when scraped.
      beforeScrape: Effect.flatMap(queue.depth, Metrics.setQueueDepth),
      readiness: Effect.gen(function*() {
        if (!(yield* cache.isSynced)) return { ready: false, reason: "caches not synced yet" } as const
        const problem = reachability._tag === "Some" ? yield* reachability.value.problem : undefined
        return problem === undefined ? true : { ready: false, reason: problem } as const
      })
    })
  }))

  const web = options.web === undefined ? Layer.empty : WebView.layer(options.web)

  return Layer.mergeAll(Controller.layer(controllerOptions), holdEvents, gauges, health, web).pipe(
    Layer.provideMerge(Reconciler.layer),
    Layer.provideMerge(ClusterCache.layer),
    Layer.provideMerge(Layer.mergeAll(
      EventRecorder.layer,
      settingsLayer(options),
      WorkQueue.layer(controllerOptions.backoff),
      // Leader election says an outage through the same ServerOutage as passes and watches.
      leader.pipe(Layer.provideMerge(ServerOutage.layer))
    )),
    Layer.provideMerge(kube)
  )
}

/** The app over a given `KubeApi` layer. */
export const appWith = <E>(kube: Layer.Layer<KubeApi, E>, options: AppOptions) =>
  appLayer(options).pipe(Layer.provideMerge(kube))
