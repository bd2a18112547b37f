/**
 * What the log says through an API server outage with Apis in flight (issue 21, item 8): once that
 * the server does not answer, once that it answers again with how many Apis waited, and the
 * per-key detail only at debug. Before, every pass's retry was a warning of its own: 1,256 of them
 * in a 10 s outage with 500 Apis.
 *
 * The whole app on the in-memory cluster under TestClock. The outage is the controller's side of
 * one: every request it makes fails with no answer (Transport), and every watch it holds ends;
 * the test's own requests still go through.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Logger, References, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Kinds, objectKey } from "../../src/domain/Kube.ts"
import { ClusterCache } from "../../src/controller/ClusterCache.ts"
import { KubeApi, KubeApiError } from "../../src/k8s/KubeApi.ts"
import type { LeaderElectionConfig } from "../../src/k8s/LeaderElection.ts"
import { appWith } from "../../src/runtime/App.ts"
import { eventually } from "../support/Eventually.ts"
import { apiObject, googleJwt, testConfig } from "../support/Fixtures.ts"
import { MemoryCluster } from "../support/MemoryCluster.ts"
import { statusOf } from "../support/World.ts"

const APIS = 60

interface Line {
  readonly level: string
  readonly message: string
  readonly fields: Readonly<Record<string, unknown>>
}

/** Every log line, with its level, its message and its fields. */
const capture = (lines: Array<Line>) =>
  Layer.mergeAll(
    Logger.layer([Logger.make(({ logLevel, message }) => {
      const [text, fields] = Array.isArray(message) ? message : [message]
      lines.push({ level: logLevel, message: String(text), fields: (fields ?? {}) as Record<string, unknown> })
    })]),
    Layer.succeed(References.MinimumLogLevel, "Debug")
  )

/** The controller's API: the cluster's, unless `down`, when every request fails unanswered. */
const withOutage = (kube: KubeApi["Service"], down: { on: boolean }) => {
  const unanswered = (operation: string) => new KubeApiError({ reason: "Transport", operation, detail: "connect ECONNREFUSED" })
  const gate = <A>(operation: string, call: () => Effect.Effect<A, KubeApiError>) =>
    Effect.suspend(() => (down.on ? Effect.fail(unanswered(operation)) : call()))
  return KubeApi.of({
    serves: (kind) => gate("discovery", () => kube.serves(kind)),
    get: (kind, ns, name) => gate("get", () => kube.get(kind, ns, name)),
    list: (kind, options) => gate("list", () => kube.list(kind, options)),
    watch: (kind, options) => Stream.unwrap(gate("watch", () => Effect.succeed(kube.watch(kind, options)))),
    create: (kind, object) => gate("create", () => kube.create(kind, object)),
    replace: (kind, object) => gate("replace", () => kube.replace(kind, object)),
    patch: (kind, ns, name, p) => gate("patch", () => kube.patch(kind, ns, name, p)),
    patchStatus: (kind, ns, name, p) => gate("patchStatus", () => kube.patchStatus(kind, ns, name, p)),
    delete: (kind, ns, name, options) => gate("delete", () => kube.delete(kind, ns, name, options))
  })
}

/** The app alone, and as the Deployment runs it: leading through a Lease (renewals also go unanswered). */
const leaderElections: ReadonlyArray<readonly [string, LeaderElectionConfig | undefined]> = [
  ["", undefined],
  [", with leader election renewing through it", {
    namespace: "kyma-system",
    name: "api-controller",
    identity: "replica-a",
    // Longer than the outage: the leader keeps the Lease, it only fails to renew it meanwhile.
    leaseDuration: "60 seconds",
    renewDeadline: "40 seconds",
    retryPeriod: "2 seconds"
  }]
]

describe("an API server outage with Apis in flight", () => {
  for (const [variant, leaderElection] of leaderElections) it.effect(`is one warning when the first pass or watch fails for it and one line when it answers again, with how many Apis and watches waited; per key only at debug${variant}`, () => {
    const lines: Array<Line> = []
    const down = { on: false }
    return Effect.gen(function*() {
      const memory = yield* Layer.build(MemoryCluster.layer())
      const kube = Context.get(memory, KubeApi)
      const cluster = Context.get(memory, MemoryCluster)
      const app = yield* Layer.build(
        appWith(Layer.succeed(KubeApi, withOutage(kube, down)), {
          config: testConfig,
          controller: { workers: 2, resyncPeriod: Duration.hours(1) },
          ...(leaderElection !== undefined ? { leaderElection } : {})
        })
      )
      const informers = Context.get(app, ClusterCache).informers.length
      // Started, with its caches synced and its watches open.
      yield* eventually(Effect.sync(() => assert.isTrue(lines.some((l) => l.message === "caches synced; starting workers"))))

      // The outage starts with every Api just created: each one's pass fails, and fails again.
      down.on = true
      for (let i = 0; i < APIS; i++) {
        yield* kube.create(Kinds.Api, apiObject("shop", `api-${i}`, {
          service: { name: `svc-${i}`, port: 80 },
          hostname: `host-${i}`,
          authentication: [googleJwt]
        }))
      }
      // Let the watches deliver them, then end the watches, as a server going away does.
      yield* eventually(Effect.sync(() =>
        assert.isAtLeast(lines.filter((l) => l.message.startsWith("pass failed, the API server does not answer")).length, APIS)
      ))
      yield* cluster.endWatches
      yield* eventually(Effect.sync(() =>
        assert.strictEqual(lines.filter((l) => l.message.startsWith("watch failed, the API server does not answer")).length, informers)
      ))
      // Ten seconds of it.
      for (let t = 0; t < 100; t++) {
        yield* TestClock.adjust("100 millis")
        for (let j = 0; j < 20; j++) yield* Effect.yieldNow
      }
      const during = lines.length

      down.on = false
      yield* eventually(
        Effect.forEach(Array.from({ length: APIS }, (_, i) => i), (i) =>
          Effect.map(Effect.provideService(statusOf(objectKey("shop", `api-${i}`)), KubeApi, kube), (s) =>
            assert.strictEqual(s.virtualService?.code, 2, `api-${i}`))),
        { step: "1 second", steps: 120 }
      )

      const warnings = lines.filter((l) => l.level === "Warn")
      const back = lines.filter((l) => l.message === "the API server answers again")
      const perKey = lines.filter((l) => l.message.startsWith("pass failed, the API server does not answer"))
      assert.isAbove(during, 2 * APIS, "the outage was logged")
      assert.deepStrictEqual(
        warnings.map((l) => l.message),
        ["the API server does not answer; passes and watches wait and retry with backoff"],
        "one warning in all"
      )
      assert.strictEqual(back.length, 1, "said once that it answers again")
      assert.strictEqual(back[0]!.level, "Info")
      assert.strictEqual(back[0]!.fields["apisWaited"], APIS, "with how many Apis waited")
      // The lease's renewals wait with the watches.
      assert.strictEqual(back[0]!.fields["informersWaited"], informers + (leaderElection ? 1 : 0), "and how many watches")
      assert.isAtLeast(back[0]!.fields["failures"] as number, 2 * APIS, "and how many attempts failed meanwhile")
      assert.isAtLeast(perKey.length, 2 * APIS, "each failed pass, at debug")
      assert.isTrue(perKey.every((l) => l.level === "Debug"))
    }).pipe(Effect.scoped, Effect.provide(capture(lines)))
  })
})
