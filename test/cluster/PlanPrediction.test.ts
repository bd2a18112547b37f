/**
 * `plan` predicts what the controller does, on a real kube-apiserver (issue 22): for every
 * situation of the prediction table (test/preview/Situations.ts: a new Api with and without
 * authentication, an invalid spec, a hostname taken, a Service taken, the loser of a retarget, a
 * missing Service, authentication turned off, a backend switch, a deleted holder) under both
 * backends: the whole controller converges the setup, `plan` runs as the command runs (-o json,
 * read-only), the input is applied, the controller (with the planned backend) converges again, and
 * the statuses and children it produced are the ones the plan printed. A mismatch is a bug in one
 * of them. The same table runs on the in-memory cluster in the fast tier.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { BACKENDS } from "../../src/plan/Backends.ts"
import { decodeReport } from "../../src/preview/PlanReport.ts"
import { idle, planLive, startController, statusesCurrent } from "../preview/LiveHarness.ts"
import { applyInput, backendsOf, brief, clusterState, createSetup, mismatches, situations } from "../preview/Situations.ts"
import { liveKubeApi, testNamespace } from "../support/ClusterTest.ts"
import { eventually } from "../support/Eventually.ts"

for (const backend of BACKENDS) {
  describe(`plan predicts the controller on a real kube-apiserver, AUTH_BACKEND=${backend.name}`, () => {
    for (const situation of situations) {
      it.live(situation.name, () =>
        Effect.gen(function*() {
          const ns = yield* testNamespace("plan-predict")
          const { before, planned } = backendsOf(situation, backend)
          // creationTimestamps have one-second resolution: "later" is a second later at least.
          yield* createSetup(ns, situation.setup(ns), Effect.sleep("1100 millis"))
          const setup = yield* startController(before.name)
          yield* statusesCurrent(ns)
          yield* idle(setup.controller)
          yield* setup.stop
          const state = yield* clusterState(ns)

          const input = situation.input(ns)
          const outcome = yield* planLive(ns, planned.name, input)
          assert.strictEqual(outcome.stderr, "")
          const report = decodeReport(outcome.stdout)
          assert.strictEqual(outcome.exitCode, report.summary.notReady === 0 ? 0 : 2)

          // New Apis are younger than the setup's, as the plan assumes.
          yield* Effect.sleep("1100 millis")
          yield* applyInput(ns, input)
          const after = yield* startController(planned.name)
          const found = () => Effect.map(mismatches(report, ns, state), (m) => assert.deepStrictEqual(m, [], brief(report)))
          yield* eventually(found(), { live: true })
          // And it stays so once every event has had its pass.
          yield* idle(after.controller)
          yield* found()
          yield* after.stop
        }).pipe(Effect.provide(liveKubeApi())), 120_000)
    }
  })
}
