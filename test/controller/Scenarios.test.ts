/** The SPEC scenarios (test/support/Scenarios.ts) against the in-memory cluster. */
import { describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ScenarioEnv, scenarios } from "../support/Scenarios.ts"
import { memoryWorld } from "../support/World.ts"

const world = Layer.mergeAll(memoryWorld(), Layer.succeed(ScenarioEnv, ScenarioEnv.of({ namespace: "team-a", otherNamespace: "team-b" })))

describe("scenarios on the in-memory cluster", () => {
  for (const scenario of scenarios) {
    it.effect(scenario.name, () => scenario.run.pipe(Effect.provide(world)))
  }
})
