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

  // Found by the soak run (10,000 worlds): three Apis ask for one host; api0 leaves it and comes
  // back to find api2's VirtualService holding it. api0's children, kept while its hostname was
  // taken, still left api2's names (the host among them) to api2 as they were when api0 was
  // elsewhere. A host is an Api's name only while it holds it, and an Api whose hostname is taken
  // keeps its children up to date.
  it("a host another Api's VirtualService holds is that Api's to decide, also for an Api that left the host and came back", async () => {
    const jwt = (issuer: string) => [{ type: "JWT", jwt: { issuer, jwksUri: `${issuer}/keys` } }]
    const violations = await runWorld({
      services: [{ name: "s1", selector: { tier: "y" } }, { name: "s2", selector: { tier: "y" } }, { name: "s0", selector: undefined }],
      apis: [
        { service: { name: "s2", port: 8080 }, hostname: "h0", authentication: jwt("https://a.example") },
        { service: { name: "s0", port: 8080 }, hostname: "h0", authentication: jwt("https://a.example") },
        { service: { name: "s1", port: 8080 }, hostname: "h0", authentication: jwt("https://a.example/nested") }
      ],
      platform: [{ selector: undefined, action: "ALLOW", rule: {} }],
      ops: [{ op: "rehost", api: 0, hostname: "h2" }, { op: "rehost", api: 0, hostname: "h0" }]
    } as never)
    assert.deepStrictEqual(violations, [])
  })
})
