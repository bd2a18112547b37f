/**
 * The isolation property of test/isolation/ at soak size: 10,000 random namespaces on the
 * in-memory cluster, each built, changed up to three times and judged after every step.
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { runWorld, worldArb } from "../isolation/IsolationProperty.ts"

const RUNS = Number(process.env["ISOLATION_RUNS"] ?? 10_000)

describe(`isolation, over ${RUNS} random namespaces on the in-memory cluster (istio-security)`, () => {
  it("no pod allows a request that the legacy decision of the Api it is addressed to denies, and no loser keeps children", async () => {
    const started = Date.now()
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        const violations = await runWorld(world)
        assert.deepStrictEqual(violations.slice(0, 5), [], JSON.stringify(world))
      }),
      { numRuns: RUNS }
    )
    console.log(`isolation property: ${RUNS} worlds in ${((Date.now() - started) / 1000).toFixed(0)} s, no violation`)
  }, 3_600_000)
})
