import { Context, Effect, Layer } from "effect"
import * as HealthServer from "../src/runtime/HealthServer.ts"
import * as Metrics from "../src/runtime/Metrics.ts"
const program = Effect.gen(function*() {
  const ctx = yield* Layer.build(HealthServer.layer({ port: 0, readiness: Effect.succeed(true) }))
  const { url } = Context.get(ctx, HealthServer.HealthServer)
  yield* Metrics.initMetrics
  for (let round = 1; round <= 5; round++) {
    for (let i = 0; i < 1000; i++) yield* Effect.promise(() => fetch(`${url}/metrics`).then((r) => r.text()))
    ;(globalThis as any).gc(); (globalThis as any).gc()
    const m = process.memoryUsage()
    console.log(`round ${round}: heapUsed ${(m.heapUsed / 2**20).toFixed(1)} MiB rss ${(m.rss/2**20).toFixed(0)}`)
  }
}).pipe(Effect.scoped)
Effect.runPromise(program).then(() => process.exit(0))
