/**
 * Model-based replay on the real API server: the same `xstate/graph` paths as the in-memory tier
 * (test/machines/ModelBased.test.ts), each in a namespace of its own on kube-apiserver + etcd,
 * with faults injected by a KubeApi wrapper. Prints covered/total per machine for this world.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { IstioSecurityBackend } from "../../src/plan/IstioSecurityBackend.ts"
import { liveKubeApi, testNamespace } from "../support/ClusterTest.ts"
import { modelWorldLayer, replayEveryMachine } from "../support/ModelWorld.ts"

describe("model-based: every machine transition, replayed against the reconciler on a real kube-apiserver", () => {
  it.live("covers every transition of every machine (AUTH_BACKEND=istio-security)", () =>
    Effect.gen(function*() {
      const started = Date.now()
      const lines = yield* replayEveryMachine({
        backend: IstioSecurityBackend,
        newNamespace: testNamespace("mbt"),
        run: (effect) =>
          Effect.scoped(effect).pipe(
            Effect.provide(modelWorldLayer(IstioSecurityBackend).pipe(Layer.provideMerge(liveKubeApi())))
          ),
        report: (line) => console.log(`[real API server] ${line}`)
      })
      const covered = lines.reduce((s, l) => s + l.covered, 0)
      const total = lines.reduce((s, l) => s + l.total, 0)
      console.log(
        `[real API server] model-based coverage: ${covered}/${total} transitions (${((covered / total) * 100).toFixed(0)}%) ` +
          `in ${((Date.now() - started) / 1000).toFixed(1)}s`
      )
      assert.strictEqual(covered, total)
    }), 600_000)
})
