/**
 * Starting the app (src/runtime/App.ts) over Apis that are already converged, on the in-memory
 * cluster: one pass per Api, as client-go's informers + work queue give. The initial lists
 * publish one change per Api and per child; those keys must be deduplicated in the queue before
 * the workers start, not replayed one by one behind them (which made ~4 no-op passes per Api).
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Layer, Metric, Scope } from "effect"
import { Controller } from "../../src/controller/Controller.ts"
import { Kinds } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { MemoryCluster, WRITE_VERBS } from "../support/MemoryCluster.ts"
import { appWith } from "../../src/runtime/App.ts"
import * as Logging from "../../src/runtime/Logging.ts"
import * as Metrics from "../../src/runtime/Metrics.ts"
import { apiObject, googleJwt, testConfig } from "../support/Fixtures.ts"

const COUNT = 200

/** Starts the app on `kube` in a scope of its own; passes are counted in a registry of its own. */
const startApp = (kube: KubeApi["Service"]) =>
  Effect.gen(function*() {
    const registry: Metric.MetricRegistry = new Map()
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      appWith(Layer.succeed(KubeApi, kube), { config: testConfig, controller: { workers: 2, resyncPeriod: Duration.hours(1) } })
        .pipe(Layer.provide(Layer.mergeAll(
          Logging.layer({ format: "pretty", level: "Error" }),
          Layer.succeed(Metric.MetricRegistry, registry)
        ))),
      scope
    )
    const controller = Context.get(context, Controller)
    const passes = Metrics.metricsText.pipe(
      Effect.map((text) =>
        text.split("\n").filter((l) => l.startsWith(`${Metrics.MetricNames.reconcileTotal}{`))
          .reduce((n, l) => n + Number(l.split(" ").at(-1)), 0)
      ),
      Effect.provideService(Metric.MetricRegistry, registry)
    )
    /** Until nothing is queued or in flight for 20 looks in a row. */
    const idle = Effect.gen(function*() {
      for (let quiet = 0; quiet < 20;) {
        quiet = (yield* controller.queue.depth) + (yield* controller.queue.inFlight) === 0 ? quiet + 1 : 0
        yield* Effect.sleep("20 millis")
      }
    })
    return { passes, idle, stop: Scope.close(scope, Exit.void) }
  })

describe("starting over converged Apis", () => {
  it.live("one no-op pass per Api, no write", () =>
    Effect.gen(function*() {
      const memory = yield* Layer.build(MemoryCluster.layer())
      const kube = Context.get(memory, KubeApi)
      const cluster = Context.get(memory, MemoryCluster)

      const first = yield* startApp(kube)
      for (let i = 0; i < COUNT; i++) {
        yield* kube.create(Kinds.Api, apiObject("team", `api-${i}`, {
          service: { name: `svc-${i}`, port: 80 },
          hostname: `host-${i}`,
          authentication: [googleJwt]
        }))
      }
      yield* first.idle
      yield* first.stop
      const children = (yield* cluster.objects(Kinds.VirtualService)).length + (yield* cluster.objects(Kinds.Policy)).length
      assert.strictEqual(children, 2 * COUNT, "converged before the restart")

      yield* cluster.resetRequests
      const second = yield* startApp(kube)
      yield* second.idle
      const passes = yield* second.passes
      yield* second.stop
      assert.strictEqual(passes, COUNT, "one pass per Api after the start")
      assert.deepStrictEqual((yield* cluster.requests).filter((r) => WRITE_VERBS.has(r.verb)), [])
    }).pipe(Effect.scoped))
})
