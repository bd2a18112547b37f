/**
 * Model-based tests: every transition of every lifecycle machine, generated with `xstate/graph`
 * and replayed against the reconciler on the in-memory cluster (test/support/ModelWorld.ts).
 * Prints the coverage. The same paths run on the real API server in test/cluster/ModelBased.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { MemoryCluster } from "../support/MemoryCluster.ts"
import { IstioSecurityBackend } from "../../src/plan/IstioSecurityBackend.ts"
import { modelWorldLayer, replayEveryMachine } from "../support/ModelWorld.ts"

describe("model-based: every machine transition, replayed against the reconciler on the in-memory cluster", () => {
  it.effect("covers every transition of every machine (AUTH_BACKEND=istio-security)", () =>
    Effect.gen(function*() {
      let n = 0
      const lines = yield* replayEveryMachine({
        backend: IstioSecurityBackend,
        newNamespace: Effect.sync(() => `mbt-${n++}`),
        // A fresh in-memory cluster per path.
        run: (effect) => Effect.provide(effect, modelWorldLayer(IstioSecurityBackend).pipe(Layer.provideMerge(MemoryCluster.layer()))),
        report: (line) => console.log(`[in memory] ${line}`)
      })
      const covered = lines.reduce((s, l) => s + l.covered, 0)
      const total = lines.reduce((s, l) => s + l.total, 0)
      console.log(`[in memory] model-based coverage: ${covered}/${total} transitions (${((covered / total) * 100).toFixed(0)}%)`)
      assert.strictEqual(covered, total)
    }), 60_000)
})
