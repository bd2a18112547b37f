import { Context, Duration, Effect, Layer, Metric } from "effect"
import { Kinds } from "../src/domain/Kube.ts"
import { KubeApi } from "../src/k8s/KubeApi.ts"
import { MemoryCluster } from "../src/k8s/MemoryCluster.ts"
import { KubeApiLive } from "../src/k8s/KubeApiLive.ts"
import { startControlPlane } from "../test/support/ControlPlane.ts"
import { appWith } from "../src/runtime/App.ts"
import { ClusterCache } from "../src/controller/ClusterCache.ts"
import { Controller } from "../src/controller/Controller.ts"
import * as Logging from "../src/runtime/Logging.ts"
import { testConfig } from "../test/support/Fixtures.ts"

const N = Number(process.argv[2] ?? 500)
const program = Effect.gen(function*() {
  const cp = yield* Effect.promise(() => startControlPlane({ log: () => {} }))
  yield* Effect.addFinalizer(() => Effect.promise(() => cp.stop()))
  const live = yield* Layer.build(KubeApiLive.layer({ kubeconfigPath: cp.kubeconfigPath }))
  const kube = Context.get(live, KubeApi)
  const client = Context.get(yield* Layer.build(KubeApiLive.layer({ kubeconfigPath: cp.kubeconfigPath })), KubeApi)
  const cluster = { objects: (k: any) => Effect.map(Effect.orDie(client.list(k)), (l) => l.items) }
  const app = yield* Layer.build(appWith(Layer.succeed(KubeApi, kube), { config: testConfig, controller: { workers: 2, resyncPeriod: Duration.hours(1) } })
    .pipe(Layer.provide(Layer.mergeAll(Logging.layer({ format: "pretty", level: "Error" }), Layer.succeed(Metric.MetricRegistry, new Map())))))
  const cache = Context.get(app, ClusterCache)
  const ctl = Context.get(app, Controller)
  const idle = Effect.gen(function*() {
    for (let q = 0; q < 20;) { q = (yield* ctl.queue.depth) + (yield* ctl.queue.inFlight) === 0 ? q + 1 : 0; yield* Effect.sleep("20 millis") }
  })
  for (let round = 1; round <= 4; round++) {
    for (const ns of [`r${round}`]) yield* Effect.orDie(client.create(Kinds.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }))
    yield* Effect.forEach(Array.from({ length: N }, (_, i) => i), (i) => Effect.orDie(client.create(Kinds.Api, { apiVersion: "gateway.kyma-project.io/v1alpha2", kind: "Api", metadata: { name: `a-${i}`, namespace: `r${round}` }, spec: { service: { name: `s${i}`, port: 80 }, hostname: `r${round}-${i}`, authentication: [{ type: "JWT", jwt: { issuer: "https://a.example.com", jwksUri: "https://a.example.com/k" } }] } })), { concurrency: 16 })
    yield* Effect.sleep("2 seconds")
    yield* idle
    yield* Effect.forEach(Array.from({ length: N }, (_, i) => i), (i) => Effect.orDie(client.delete(Kinds.Api, `r${round}`, `a-${i}`)), { concurrency: 16 })
    yield* Effect.sleep("2 seconds")
    yield* idle
    yield* Effect.sleep("500 millis")
    yield* idle
    ;(globalThis as any).gc(); (globalThis as any).gc()
    const m = process.memoryUsage()
    const left = (yield* cluster.objects(Kinds.Api)).length + (yield* cluster.objects(Kinds.VirtualService)).length
    console.log(`round ${round}: heapUsed ${(m.heapUsed / 2**20).toFixed(1)} MiB rss ${(m.rss/2**20).toFixed(0)} left ${left} cache ${cache.apis().length} events ${(yield* cluster.objects(Kinds.Event)).length}`)
  }
}).pipe(Effect.scoped)
Effect.runPromise(program).then(() => process.exit(0))
