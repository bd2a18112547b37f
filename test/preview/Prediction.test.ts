/**
 * The plan predicts what the controller does, on the in-memory cluster: for every situation of
 * the prediction table (test/preview/Situations.ts) under both backends, converge the setup with
 * the real reconciler, run `plan` as the command runs (-o json, read-only), apply the input, let
 * the reconciler converge again, and find no difference between what the plan printed and what
 * the reconciler produced. The cluster tier runs the same table on a real API server
 * (test/cluster/PlanPrediction.test.ts).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { BACKENDS } from "../../src/plan/Backends.ts"
import { decodeReport } from "../../src/preview/PlanReport.ts"
import { MemoryCluster } from "../support/MemoryCluster.ts"
import { convergeWith, planIn } from "./MemoryHarness.ts"
import { applyInput, backendsOf, brief, clusterState, createSetup, mismatches, situations } from "./Situations.ts"

for (const backend of BACKENDS) {
  describe(`plan predicts the reconciler on the in-memory cluster, AUTH_BACKEND=${backend.name}`, () => {
    for (const situation of situations) {
      it.effect(situation.name, () =>
        Effect.gen(function*() {
          const ns = "team"
          const { before, planned } = backendsOf(situation, backend)
          yield* createSetup(ns, situation.setup(ns), TestClock.adjust("1 second"))
          yield* convergeWith(before)
          yield* TestClock.adjust("1 second")
          const state = yield* clusterState(ns)
          const cluster = yield* MemoryCluster
          yield* cluster.resetRequests

          const input = situation.input(ns)
          const outcome = yield* planIn(ns, planned, input)
          assert.strictEqual(outcome.stderr, "")
          const report = decodeReport(outcome.stdout)
          assert.deepStrictEqual((yield* cluster.requests).filter((r) => r.verb !== "get" && r.verb !== "list"), [], "plan only reads")
          assert.strictEqual(outcome.exitCode, report.summary.notReady === 0 ? 0 : 2)

          yield* applyInput(ns, input)
          yield* convergeWith(planned)
          assert.deepStrictEqual(yield* mismatches(report, ns, state), [], brief(report))
        }).pipe(Effect.provide(MemoryCluster.layer())))
    }
  })
}
