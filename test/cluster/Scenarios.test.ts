/**
 * The SPEC scenarios (test/support/Scenarios.ts) against a real kube-apiserver + etcd, under both
 * authentication backends: the same table the in-memory cluster runs, so the fake cannot drift
 * from the real server unnoticed. Garbage collection is kube-controller-manager's, so deletions
 * are waited for.
 */
import { describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { BACKENDS } from "../../src/controller/Settings.ts"
import { liveKubeApi, testNamespace } from "../support/ClusterTest.ts"
import { eventually } from "../support/Eventually.ts"
import { ScenarioEnv, scenarios, scenarioSettings } from "../support/Scenarios.ts"
import { testConfig } from "../support/Fixtures.ts"
import { controllerLayer } from "../support/World.ts"

for (const backend of BACKENDS) {
  const world = controllerLayer(testConfig, scenarioSettings(backend)).pipe(Layer.provideMerge(liveKubeApi()))
  describe(`scenarios on a real kube-apiserver, AUTH_BACKEND=${backend.name}`, () => {
    for (const scenario of scenarios.filter((s) => s.backends === undefined || s.backends.includes(backend.name))) {
      it.live(scenario.name, () =>
        Effect.gen(function*() {
          const namespace = yield* testNamespace("sc")
          const otherNamespace = yield* testNamespace("sc-other")
          yield* scenario.run.pipe(Effect.provideService(
            ScenarioEnv,
            ScenarioEnv.of({ namespace, otherNamespace, backend, eventually: (check) => eventually(check, { live: true }) })
          ))
        }).pipe(Effect.scoped, Effect.provide(world)))
    }
  })
}
