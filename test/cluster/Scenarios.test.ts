/**
 * The SPEC scenarios (test/support/Scenarios.ts) against a real kube-apiserver + etcd: the same
 * table the in-memory cluster runs, so the fake cannot drift from the real server unnoticed.
 */
import { describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { liveKubeApi, testNamespace } from "../support/ClusterTest.ts"
import { ScenarioEnv, scenarios } from "../support/Scenarios.ts"
import { controllerLayer } from "../support/World.ts"

const world = controllerLayer().pipe(Layer.provideMerge(liveKubeApi()))

describe("scenarios on a real kube-apiserver", () => {
  for (const scenario of scenarios) {
    it.live(scenario.name, () =>
      Effect.gen(function*() {
        const namespace = yield* testNamespace("sc")
        const otherNamespace = yield* testNamespace("sc-other")
        yield* scenario.run.pipe(Effect.provideService(ScenarioEnv, ScenarioEnv.of({ namespace, otherNamespace })))
      }).pipe(Effect.scoped, Effect.provide(world)))
  }
})
