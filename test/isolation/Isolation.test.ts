/**
 * Isolation on shared workloads, as a property (test/isolation/IsolationProperty.ts): random
 * namespaces on the in-memory cluster, judged over every policy on every pod. The fast tier runs
 * a few hundred worlds; `npm run test:soak` runs 10,000 (test/soak/IsolationProperty.test.ts).
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { runWorld, worldArb } from "./IsolationProperty.ts"

describe("isolation, over random namespaces on the in-memory cluster (istio-security)", () => {
  it("no pod allows a request that the legacy decision of the Api it is addressed to denies, and no loser keeps children", async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        const violations = await runWorld(world)
        assert.deepStrictEqual(violations.slice(0, 5), [], JSON.stringify(world))
      }),
      { numRuns: Number(process.env["ISOLATION_RUNS"] ?? 150), seed: 20261206 }
    )
  }, 120_000)
})
