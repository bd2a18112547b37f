/**
 * Leader election against a real kube-apiserver, in real time, with short durations
 * (leaseDuration 3s, renewDeadline 2s, retryPeriod 0.5s): the same two-candidate hand-overs as
 * the memory tests, now with the server's own Lease validation, MicroTime and 409s.
 */
import { assert, layer } from "@effect/vitest"
import { Clock, Effect, Fiber } from "effect"
import { type LeaderElectionConfig, make } from "../../src/k8s/LeaderElection.ts"
import { Kinds } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { liveKubeApi, testNamespace } from "../support/ClusterTest.ts"

const LEASE_MS = 3_000

const configFor = (namespace: string, identity: string, overrides: Partial<LeaderElectionConfig> = {}) => ({
  namespace,
  name: "api-controller",
  identity,
  leaseDuration: "3 seconds",
  renewDeadline: "2 seconds",
  retryPeriod: "500 millis",
  ...overrides
}) satisfies LeaderElectionConfig

interface LeaseSpecView {
  readonly holderIdentity?: string
  readonly leaseDurationSeconds?: number
  readonly acquireTime?: string
  readonly renewTime?: string
  readonly leaseTransitions?: number
}

const specIn = (namespace: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const lease = yield* kube.get(Kinds.Lease, namespace, "api-controller")
    return (lease["spec"] ?? {}) as LeaseSpecView
  })

type Mark = readonly [at: number, who: string, what: "start" | "stop"]

/** A candidate whose work runs until interrupted, recording when it started and stopped. */
const candidate = Effect.fn("test.candidate")(function*(
  namespace: string,
  identity: string,
  marks: Array<Mark>,
  overrides: Partial<LeaderElectionConfig> = {}
) {
  const elector = yield* make(configFor(namespace, identity, overrides))
  const mark = (what: Mark[2]) =>
    Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.sync(() => void marks.push([at, identity, what])))
  const work = mark("start").pipe(Effect.andThen(Effect.never), Effect.onInterrupt(() => mark("stop")))
  const fiber = yield* Effect.forkChild(elector.runWhileLeader(work))
  return { elector, fiber }
})

/** Poll until `done`; the milliseconds it took, or fail after `limitMs`. */
const waitUntil = (done: Effect.Effect<boolean>, limitMs: number) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    while (!(yield* done)) {
      const now = yield* Clock.currentTimeMillis
      if (now - start > limitMs) return assert.fail(`condition not met within ${limitMs}ms`)
      yield* Effect.sleep("20 millis")
    }
    return (yield* Clock.currentTimeMillis) - start
  })

const timeline = (marks: ReadonlyArray<Mark>) => marks.map(([, who, what]) => `${who} ${what}`)

// excludeTestServices: the real clock, as the server has one.
layer(liveKubeApi(), { excludeTestServices: true })("LeaderElection on a real API server", (it) => {
  it.effect("two candidates: one leads; when it stops gracefully the other takes over without waiting for the Lease to run out", () =>
    Effect.gen(function*() {
      const ns = yield* testNamespace("leader")
      const marks: Array<Mark> = []
      const a = yield* candidate(ns, "a", marks)
      yield* waitUntil(a.elector.isLeader, 10_000)
      const b = yield* candidate(ns, "b", marks)
      // Several lease durations: B keeps reading, A keeps renewing, nobody else runs the work.
      yield* Effect.sleep(LEASE_MS * 2)
      assert.deepStrictEqual(timeline(marks), ["a start"])
      assert.isFalse(yield* b.elector.isLeader)
      const held = yield* specIn(ns)
      assert.strictEqual(held.holderIdentity, "a")
      assert.strictEqual(held.leaseDurationSeconds, 3)
      assert.strictEqual(held.leaseTransitions, 0)
      assert.match(held.renewTime ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, "MicroTime as the server keeps it")

      yield* Fiber.interrupt(a.fiber)
      assert.deepStrictEqual(timeline(marks), ["a start", "a stop"])
      assert.strictEqual((yield* specIn(ns)).holderIdentity, "", "released on the way out")
      const took = yield* waitUntil(b.elector.isLeader, LEASE_MS * 3)
      console.log(`[leader election] graceful hand-over took ${took}ms`)
      // Had B waited for the Lease to run out, it would have taken a lease duration at least.
      assert.isBelow(took, LEASE_MS, "at one of B's next attempts, before the Lease could have run out")
      const taken = yield* specIn(ns)
      assert.strictEqual(taken.holderIdentity, "b")
      assert.strictEqual(taken.leaseTransitions, 1)
      yield* Fiber.interrupt(b.fiber)
    }))

  it.effect("a leader that dies without releasing is replaced only after the lease duration", () =>
    Effect.gen(function*() {
      const ns = yield* testNamespace("leader-dead")
      const marks: Array<Mark> = []
      const a = yield* candidate(ns, "a", marks, { releaseOnCancel: false })
      yield* waitUntil(a.elector.isLeader, 10_000)
      const b = yield* candidate(ns, "b", marks)
      yield* Effect.sleep(LEASE_MS)
      assert.isFalse(yield* b.elector.isLeader)

      yield* Fiber.interrupt(a.fiber)
      const dead = yield* specIn(ns)
      assert.strictEqual(dead.holderIdentity, "a", "nothing released")
      const took = yield* waitUntil(b.elector.isLeader, LEASE_MS * 4)
      console.log(`[leader election] takeover from a dead leader took ${took}ms`)
      // B counts a lease duration from when it saw A's last renewal, which it saw after A wrote it:
      // B neither acquires nor starts its work before A's last renewTime plus a lease duration,
      // however slow the machine (a renewal still in flight as A died only makes that later).
      const lastRenewal = Date.parse(dead.renewTime ?? "")
      assert.isFalse(Number.isNaN(lastRenewal), `A's renewTime: ${dead.renewTime}`)
      const bStart = marks.find(([, who, what]) => who === "b" && what === "start")![0]
      // renewTime is in microseconds, the marks in milliseconds: one of slack.
      assert.isAtLeast(bStart, lastRenewal + LEASE_MS - 1, "B's work started a lease duration after A's last renewal at the earliest")
      const taken = yield* specIn(ns)
      assert.isAtLeast(Date.parse(taken.acquireTime ?? ""), lastRenewal + LEASE_MS - 1, "and so did its acquireTime")
      assert.strictEqual(taken.holderIdentity, "b")
      assert.strictEqual(taken.leaseTransitions, 1)
      yield* Fiber.interrupt(b.fiber)
    }))
})
