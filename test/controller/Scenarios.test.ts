/** The SPEC scenarios (test/support/Scenarios.ts) against the in-memory cluster, under both authentication backends. */
import { describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { BACKENDS } from "../../src/plan/Backends.ts"
import { ScenarioEnv, scenarios, scenarioSettings } from "../support/Scenarios.ts"
import { testConfig } from "../support/Fixtures.ts"
import { memoryWorld } from "../support/World.ts"

for (const backend of BACKENDS) {
  const world = Layer.mergeAll(
    memoryWorld(testConfig, scenarioSettings(backend)),
    Layer.succeed(ScenarioEnv, ScenarioEnv.of({ namespace: "team-a", otherNamespace: "team-b", backend, eventually: (check) => check }))
  )
  describe(`scenarios on the in-memory cluster, AUTH_BACKEND=${backend.name}`, () => {
    for (const scenario of scenarios.filter((s) => s.backends === undefined || s.backends.includes(backend.name))) {
      it.effect(scenario.name, () => scenario.run.pipe(Effect.provide(world)))
    }
  })
}
