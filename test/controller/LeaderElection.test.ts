/**
 * Leader election on the in-memory cluster under TestClock: who holds the Lease, who runs the
 * work, and exactly when leadership moves (graceful hand-over at the next retry, a dead
 * leader's Lease only after a lease duration, a leader cut off stops before anyone takes over).
 *
 * Each candidate is its own elector with its own view of the API, so a test can cut one off
 * (requests fail, or hang) or hold one request back to stage a race, while they share one store.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Random, Stream } from "effect"
import { TestClock } from "effect/testing"
import {
  LeaderElection,
  type LeaderElectionConfig,
  LeaderElectionConfigError,
  LeadershipLost,
  make,
  makeIdentity,
  microTime
} from "../../src/k8s/LeaderElection.ts"
import { Kinds } from "../../src/domain/Kube.ts"
import { KubeApi, KubeApiError } from "../../src/k8s/KubeApi.ts"
import { MemoryCluster } from "../support/MemoryCluster.ts"

const NS = "kyma-system"
const LEASE = "api-controller"
const LEASE_MS = 15_000
const RENEW_MS = 10_000
const RETRY_MS = 2_000
/** Latest a follower's next attempt can come: retryPeriod * (1 + jitterFactor). */
const MAX_RETRY_MS = RETRY_MS * 2.2

const configFor = (identity: string, overrides: Partial<LeaderElectionConfig> = {}): LeaderElectionConfig => ({
  namespace: NS,
  name: LEASE,
  identity,
  ...overrides
})

interface LeaseSpecView {
  readonly holderIdentity?: string
  readonly leaseDurationSeconds?: number
  readonly acquireTime?: string
  readonly renewTime?: string
  readonly leaseTransitions?: number
}

const leaseNow = Effect.gen(function*() {
  const cluster = yield* MemoryCluster
  const [lease] = yield* cluster.objects(Kinds.Lease, NS)
  return lease
})

const specNow = Effect.map(leaseNow, (l) => (l?.["spec"] ?? {}) as LeaseSpecView)

/** What the work of every candidate did, on one timeline. */
type Mark = readonly [at: number, who: string, what: "start" | "stop"]

/**
 * A way to the API for one candidate: the shared store, unless cut off. `"fail"` answers every
 * request with a transport error (a network partition); `"hang"` never answers. `outcomes`
 * records how each request ended, `gate` runs before a request goes through (to hold one back).
 */
const link = (kube: KubeApi["Service"]) => {
  let mode: "up" | "fail" | "hang" = "up"
  let gate: ((verb: string) => Effect.Effect<void>) | undefined
  const outcomes: Array<string> = []
  const guard = <A>(verb: string, target: string, call: () => Effect.Effect<A, KubeApiError>) =>
    Effect.suspend((): Effect.Effect<A, KubeApiError> => {
      if (mode === "fail") {
        return Effect.fail(
          new KubeApiError({ reason: "Transport", operation: `${verb} ${target}`, detail: "partitioned" })
        )
      }
      if (mode === "hang") return Effect.never
      const sent = gate === undefined ? Effect.suspend(call) : Effect.andThen(gate(verb), Effect.suspend(call))
      return sent.pipe(
        Effect.tapError((e) => Effect.sync(() => void outcomes.push(`${verb} ${e.reason}`))),
        Effect.tap(() => Effect.sync(() => void outcomes.push(`${verb} ok`)))
      )
    })
  const api = KubeApi.of({
    serves: kube.serves,
    get: (kind, ns, name) => guard("get", name, () => kube.get(kind, ns, name)),
    list: (kind, options) => guard("list", kind.plural, () => kube.list(kind, options)),
    watch: kube.watch,
    create: (kind, o) => guard("create", o.metadata.name, () => kube.create(kind, o)),
    replace: (kind, o) => guard("replace", o.metadata.name, () => kube.replace(kind, o)),
    patch: (kind, ns, name, p) => guard("patch", name, () => kube.patch(kind, ns, name, p)),
    patchStatus: (kind, ns, name, p) => guard("patchStatus", name, () => kube.patchStatus(kind, ns, name, p)),
    delete: (kind, ns, name, o) => guard("delete", name, () => kube.delete(kind, ns, name, o))
  })
  return {
    api,
    outcomes,
    cut: (how: "fail" | "hang") => Effect.sync(() => void (mode = how)),
    heal: Effect.sync(() => void (mode = "up")),
    setGate: (f: ((verb: string) => Effect.Effect<void>) | undefined) => Effect.sync(() => void (gate = f))
  }
}

const nowMillis = TestClock.testClockWith((c) => c.currentTimeMillis)

/** A candidate not yet started: an elector on its own link, whose work runs until interrupted. */
const prepare = Effect.fn("test.prepare")(function*(
  identity: string,
  marks: Array<Mark>,
  overrides: Partial<LeaderElectionConfig> = {}
) {
  const kube = yield* KubeApi
  const net = link(kube)
  const elector = yield* make(configFor(identity, overrides)).pipe(Effect.provideService(KubeApi, net.api))
  const mark = (what: Mark[2]) =>
    Effect.flatMap(nowMillis, (at) => Effect.sync(() => void marks.push([at, identity, what])))
  const work = mark("start").pipe(Effect.andThen(Effect.never), Effect.onInterrupt(() => mark("stop")))
  const start = Effect.tap(Effect.forkChild(elector.runWhileLeader(work)), () => Effect.yieldNow)
  return { identity, elector, net, start }
})

const candidate = Effect.fn("test.candidate")(function*(
  identity: string,
  marks: Array<Mark>,
  overrides: Partial<LeaderElectionConfig> = {}
) {
  const c = yield* prepare(identity, marks, overrides)
  const fiber = yield* c.start
  return { ...c, fiber }
})

const starts = (marks: ReadonlyArray<Mark>, who?: string) =>
  marks.filter(([, w, what]) => what === "start" && (who === undefined || w === who))

const timeline = (marks: ReadonlyArray<Mark>) => marks.map(([, who, what]) => `${who} ${what}`)

const isDone = (fiber: Fiber.Fiber<unknown, unknown>) => Effect.sync(() => fiber.pollUnsafe() !== undefined)

/** Step the clock in small steps until `done` holds; the time it took, or fail after `limitMs`. */
const stepUntil = (done: Effect.Effect<boolean>, limitMs: number, stepMs = 100) =>
  Effect.gen(function*() {
    let elapsed = 0
    while (!(yield* done)) {
      if (elapsed >= limitMs) return assert.fail(`condition not met within ${limitMs}ms`)
      yield* TestClock.adjust(stepMs)
      elapsed += stepMs
    }
    return elapsed
  })

/** Each test on a fresh cluster, at a realistic wall time, with a seeded (reproducible) jitter. */
const inCluster = <A, E>(body: Effect.Effect<A, E, KubeApi | MemoryCluster>) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(Date.parse("2026-11-26T03:08:00Z"))
    return yield* body
  }).pipe(Effect.provide(MemoryCluster.layer()), Random.withSeed("leader-election"))

describe("LeaderElection (memory)", () => {
  it.effect("a single candidate creates the Lease, runs the work, renews, and releases when the work is done", () =>
    inCluster(Effect.gen(function*() {
      const t0 = yield* nowMillis
      const elector = yield* make(configFor("a"))
      const done = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(elector.runWhileLeader(Effect.as(Deferred.await(done), "result")))
      yield* Effect.yieldNow
      assert.isTrue(yield* elector.isLeader)
      const acquired = yield* specNow
      assert.deepStrictEqual(acquired, {
        holderIdentity: "a",
        leaseDurationSeconds: 15,
        acquireTime: "2026-11-26T03:08:00.000000Z",
        renewTime: "2026-11-26T03:08:00.000000Z",
        leaseTransitions: 0
      })

      // Renewals every retryPeriod move renewTime only; one write each, no read (fast path).
      const cluster = yield* MemoryCluster
      yield* cluster.resetRequests
      yield* TestClock.adjust(RETRY_MS * 3)
      const renewed = yield* specNow
      assert.strictEqual(renewed.renewTime, microTime(t0 + RETRY_MS * 3))
      assert.strictEqual(renewed.acquireTime, acquired.acquireTime)
      assert.strictEqual(renewed.leaseTransitions, 0)
      assert.deepStrictEqual((yield* cluster.requests).map((r) => `${r.verb} ${r.plural}`), [
        "replace leases",
        "replace leases",
        "replace leases"
      ])

      yield* Deferred.succeed(done, undefined)
      assert.strictEqual(yield* Fiber.join(fiber), "result")
      assert.isFalse(yield* elector.isLeader)
      const released = yield* specNow
      assert.strictEqual(released.holderIdentity, "")
      assert.strictEqual(released.leaseDurationSeconds, 1)
      assert.strictEqual(released.leaseTransitions, 0, "a release is not a transition")
    })))

  it.effect("two candidates on one cluster: exactly one runs the work, the other only reads", () =>
    inCluster(Effect.gen(function*() {
      const marks: Array<Mark> = []
      const a = yield* candidate("a", marks)
      const b = yield* candidate("b", marks)
      yield* TestClock.adjust(60_000)
      assert.deepStrictEqual(timeline(marks), ["a start"])
      assert.isTrue(yield* a.elector.isLeader)
      assert.isFalse(yield* b.elector.isLeader)
      assert.strictEqual((yield* specNow).holderIdentity, "a")
      assert.deepStrictEqual([...new Set(b.net.outcomes)], ["get ok"], "a follower never writes over a live Lease")
      assert.isAtLeast(b.net.outcomes.length, 60_000 / MAX_RETRY_MS)
      assert.isAtMost(b.net.outcomes.length, 60_000 / RETRY_MS + 1)
    })))

  it.effect("when the leader stops gracefully, the other takes over at its next retry", () =>
    inCluster(Effect.gen(function*() {
      const marks: Array<Mark> = []
      const a = yield* candidate("a", marks)
      const b = yield* candidate("b", marks)
      yield* TestClock.adjust(30_000)
      yield* Fiber.interrupt(a.fiber)
      assert.deepStrictEqual(timeline(marks), ["a start", "a stop"], "the work stopped before the release")
      assert.strictEqual((yield* specNow).holderIdentity, "", "released on the way out")
      assert.isFalse(yield* a.elector.isLeader)

      const took = yield* stepUntil(b.elector.isLeader, LEASE_MS)
      assert.isAtMost(took, MAX_RETRY_MS, "at B's next attempt, not after a lease duration")
      assert.deepStrictEqual(timeline(marks), ["a start", "a stop", "b start"])
      const spec = yield* specNow
      assert.strictEqual(spec.holderIdentity, "b")
      assert.strictEqual(spec.leaseTransitions, 1)
      assert.strictEqual(spec.leaseDurationSeconds, 15)
    })))

  it.effect("a leader that dies without releasing is replaced only after the lease duration", () =>
    inCluster(Effect.gen(function*() {
      const marks: Array<Mark> = []
      const a = yield* candidate("a", marks, { releaseOnCancel: false })
      const b = yield* candidate("b", marks)
      yield* TestClock.adjust(30_000)
      const lastRenewal = Date.parse((yield* specNow).renewTime!)
      yield* Fiber.interrupt(a.fiber)
      assert.strictEqual((yield* specNow).holderIdentity, "a", "nothing released")

      yield* stepUntil(b.elector.isLeader, LEASE_MS * 2)
      const bStart = starts(marks, "b")[0]![0]
      // B saw A's last renewal at most one (jittered) retry after it was written, and counts from then.
      assert.isAtLeast(bStart - lastRenewal, LEASE_MS)
      assert.isAtMost(bStart - lastRenewal, LEASE_MS + 2 * MAX_RETRY_MS)
      assert.strictEqual((yield* specNow).leaseTransitions, 1)
    })))

  it.effect("a leader cut off from the API stops its work at renewDeadline, before anyone takes over", () =>
    inCluster(Effect.gen(function*() {
      const marks: Array<Mark> = []
      const a = yield* candidate("a", marks)
      const b = yield* candidate("b", marks)
      yield* TestClock.adjust(20_000) // the last renewal A gets through is the one at +20s
      const cutAt = yield* nowMillis
      yield* a.net.cut("fail")

      const stoppedAfter = yield* stepUntil(isDone(a.fiber), LEASE_MS)
      assert.strictEqual(stoppedAfter, RENEW_MS, "renewals at +2..+8 fail; at +10 the deadline has passed")
      const error = yield* Effect.flip(Fiber.join(a.fiber))
      assert.instanceOf(error, LeadershipLost)
      assert.strictEqual(error.reason, "RenewDeadlineExceeded")
      assert.strictEqual(error.lease, `${NS}/${LEASE}`)
      assert.strictEqual(error.identity, "a")
      assert.isFalse(yield* a.elector.isLeader)
      assert.deepStrictEqual(timeline(marks), ["a start", "a stop"])

      yield* stepUntil(b.elector.isLeader, LEASE_MS * 2)
      const aStop = marks.find(([, who, what]) => who === "a" && what === "stop")![0]
      const bStart = starts(marks, "b")[0]![0]
      assert.isAbove(bStart, aStop, "never two leaders at once")
      assert.isAtLeast(bStart - cutAt, LEASE_MS, "B waits a full lease duration from A's last renewal")
    })))

  it.effect("a renewal that hangs does not carry the leader past renewDeadline", () =>
    inCluster(Effect.gen(function*() {
      const marks: Array<Mark> = []
      const a = yield* candidate("a", marks)
      yield* TestClock.adjust(4_000)
      yield* a.net.cut("hang")
      const stoppedAfter = yield* stepUntil(isDone(a.fiber), LEASE_MS)
      assert.strictEqual(stoppedAfter, RENEW_MS)
      const error = yield* Effect.flip(Fiber.join(a.fiber))
      assert.strictEqual(error.reason, "RenewDeadlineExceeded")
      assert.include(error.detail, "timed out")
    })))

  it.effect("renewal failures shorter than renewDeadline do not cost leadership", () =>
    inCluster(Effect.gen(function*() {
      const marks: Array<Mark> = []
      const a = yield* candidate("a", marks)
      const b = yield* candidate("b", marks)
      yield* TestClock.adjust(10_000) // last renewal at +10s
      yield* a.net.cut("fail")
      yield* TestClock.adjust(7_000) // renewals at +12, +14, +16 fail; the deadline is +20
      assert.isTrue(yield* a.elector.isLeader)
      yield* a.net.heal
      yield* TestClock.adjust(60_000)
      assert.isTrue(yield* a.elector.isLeader)
      assert.deepStrictEqual(timeline(marks), ["a start"])
      assert.isFalse(yield* b.elector.isLeader)
    })))

  it.effect("server errors on every lease write (injected in the cluster) make the leader give up", () =>
    inCluster(Effect.gen(function*() {
      const elector = yield* make(configFor("a"))
      const fiber = yield* Effect.forkChild(elector.runWhileLeader(Effect.never))
      yield* Effect.yieldNow
      const cluster = yield* MemoryCluster
      yield* cluster.injectFault({ verb: "replace", plural: "leases", reason: "ServerError", times: 1000 })
      yield* TestClock.adjust(RENEW_MS)
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(error._tag, "LeadershipLost")
      assert.include(error.message, "ServerError")
      assert.isFalse(yield* elector.isLeader)
    })))

  it.effect("a leader that finds another holder in the Lease stops at once (TakenOver)", () =>
    inCluster(Effect.gen(function*() {
      const marks: Array<Mark> = []
      const a = yield* candidate("a", marks)
      yield* TestClock.adjust(1_000)
      // Someone (an operator, a misconfigured twin) writes another holder over A's Lease.
      const kube = yield* KubeApi
      const lease = (yield* leaseNow)!
      yield* kube.replace(Kinds.Lease, { ...lease, spec: { ...(lease["spec"] as object), holderIdentity: "intruder" } })
      yield* TestClock.adjust(1_000) // A's next renewal: 409 on the fast path, then reads the intruder
      const error = yield* Effect.flip(Fiber.join(a.fiber))
      assert.strictEqual(error.reason, "TakenOver")
      assert.include(error.detail, "intruder")
      assert.deepStrictEqual(timeline(marks), ["a start", "a stop"])
      assert.strictEqual((yield* specNow).holderIdentity, "intruder", "and does not release what is not its own")
    })))

  it.effect("a write from a stale resourceVersion loses the race (409) and the loser stays follower", () =>
    inCluster(Effect.gen(function*() {
      const kube = yield* KubeApi
      // A Lease given up by a previous holder: free for whoever writes first.
      yield* kube.create(Kinds.Lease, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: LEASE, namespace: NS },
        spec: { holderIdentity: "", leaseDurationSeconds: 1, leaseTransitions: 4 }
      })
      const marks: Array<Mark> = []
      const b = yield* prepare("b", marks)
      // B reads the free Lease, then its write is held back until A has taken the Lease.
      const bAtWrite = yield* Deferred.make<void>()
      const go = yield* Deferred.make<void>()
      yield* b.net.setGate((verb) =>
        verb === "replace" ? Effect.andThen(Deferred.succeed(bAtWrite, undefined), Deferred.await(go)) : Effect.void
      )
      yield* b.start
      yield* Deferred.await(bAtWrite)
      const a = yield* candidate("a", marks)
      assert.isTrue(yield* a.elector.isLeader)
      yield* b.net.setGate(undefined)
      yield* Deferred.succeed(go, undefined)
      yield* Effect.yieldNow

      assert.deepStrictEqual(b.net.outcomes, ["get ok", "replace Conflict"])
      assert.isFalse(yield* b.elector.isLeader)
      yield* TestClock.adjust(60_000)
      assert.isFalse(yield* b.elector.isLeader)
      assert.deepStrictEqual(timeline(marks), ["a start"])
      const spec = yield* specNow
      assert.strictEqual(spec.holderIdentity, "a")
      assert.strictEqual(spec.leaseTransitions, 5)
    })))

  it.effect("two candidates creating the Lease at once: the second create is AlreadyExists and loses", () =>
    inCluster(Effect.gen(function*() {
      const marks: Array<Mark> = []
      const b = yield* prepare("b", marks)
      const bAtCreate = yield* Deferred.make<void>()
      const go = yield* Deferred.make<void>()
      yield* b.net.setGate((verb) =>
        verb === "create" ? Effect.andThen(Deferred.succeed(bAtCreate, undefined), Deferred.await(go)) : Effect.void
      )
      yield* b.start
      yield* Deferred.await(bAtCreate)
      const a = yield* candidate("a", marks)
      assert.isTrue(yield* a.elector.isLeader)
      yield* b.net.setGate(undefined)
      yield* Deferred.succeed(go, undefined)
      yield* TestClock.adjust(30_000)
      assert.deepStrictEqual(b.net.outcomes.slice(0, 2), ["get NotFound", "create AlreadyExists"])
      assert.isFalse(yield* b.elector.isLeader)
      assert.deepStrictEqual(timeline(marks), ["a start"])
    })))

  it.effect("expiry is judged by our clock: an ancient-looking renewTime still gets a full lease duration", () =>
    inCluster(Effect.gen(function*() {
      const kube = yield* KubeApi
      // Written by a holder whose clock is a year behind ours (or that is alive but skewed).
      yield* kube.create(Kinds.Lease, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: LEASE, namespace: NS },
        spec: {
          holderIdentity: "skewed",
          leaseDurationSeconds: 15,
          acquireTime: "2025-11-26T03:08:00.000000Z",
          renewTime: "2025-11-26T03:08:00.000000Z",
          leaseTransitions: 2
        }
      })
      const marks: Array<Mark> = []
      const b = yield* candidate("b", marks)
      assert.isFalse(yield* b.elector.isLeader, "not taken at first sight")
      const took = yield* stepUntil(b.elector.isLeader, LEASE_MS * 2)
      assert.isAtLeast(took, LEASE_MS)
      assert.isAtMost(took, LEASE_MS + MAX_RETRY_MS)
      assert.strictEqual((yield* specNow).leaseTransitions, 3)
    })))

  it.effect("the holder's declared leaseDurationSeconds counts, and a renewal from a skewed holder restarts it", () =>
    inCluster(Effect.gen(function*() {
      const kube = yield* KubeApi
      const created = yield* kube.create(Kinds.Lease, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: LEASE, namespace: NS },
        spec: { holderIdentity: "slow", leaseDurationSeconds: 40, renewTime: "2025-11-26T03:08:00.000000Z" }
      })
      const marks: Array<Mark> = []
      const b = yield* candidate("b", marks)
      yield* TestClock.adjust(30_000)
      // The holder renews (with its skewed clock: renewTime moves, however wrong it is).
      yield* kube.replace(Kinds.Lease, {
        ...created,
        spec: { ...(created["spec"] as object), renewTime: "2025-11-26T03:08:30.000000Z" }
      })
      yield* TestClock.adjust(30_000)
      assert.isFalse(yield* b.elector.isLeader, "40s from the renewal B saw have not passed")
      const took = yield* stepUntil(b.elector.isLeader, 40_000)
      assert.isAtMost(took, 10_000 + MAX_RETRY_MS)
    })))

  it.effect("runWhileLeader: a failing work fails with its own error and the Lease is released", () =>
    inCluster(Effect.gen(function*() {
      const elector = yield* make(configFor("a"))
      const error = yield* Effect.flip(elector.runWhileLeader(Effect.fail("boom" as const)))
      assert.strictEqual(error, "boom")
      assert.strictEqual((yield* specNow).holderIdentity, "")
      assert.isFalse(yield* elector.isLeader)
    })))

  it.effect("changes: false while waiting, true while leading, false after release", () =>
    inCluster(Effect.gen(function*() {
      const elector = yield* make(configFor("a"))
      const seen = yield* Effect.forkChild(Stream.runCollect(Stream.take(elector.changes, 3)))
      yield* Effect.yieldNow
      yield* elector.runWhileLeader(TestClock.adjust(5_000))
      assert.deepStrictEqual(Array.from(yield* Fiber.join(seen)), [false, true, false])
    })))

  it.effect("after losing, the same elector can run again and becomes leader when the Lease is free", () =>
    inCluster(Effect.gen(function*() {
      const marks: Array<Mark> = []
      const a = yield* candidate("a", marks)
      yield* TestClock.adjust(1_000)
      yield* a.net.cut("fail")
      yield* TestClock.adjust(RENEW_MS + RETRY_MS)
      assert.strictEqual((yield* Effect.flip(Fiber.join(a.fiber)))._tag, "LeadershipLost")
      yield* a.net.heal
      const again = yield* a.start
      // Its own, unexpired Lease: A renews it straight away (same holder, no transition).
      assert.isTrue(yield* a.elector.isLeader)
      assert.strictEqual((yield* specNow).leaseTransitions, 0)
      yield* Fiber.interrupt(again)
    })))

  it.effect("a configuration that cannot be safe is refused, one problem per line", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(make(configFor("", {
        leaseDuration: "10 seconds",
        renewDeadline: "10 seconds",
        retryPeriod: "0 seconds"
      })))
      assert.instanceOf(error, LeaderElectionConfigError)
      assert.deepStrictEqual(error.problems, [
        "retryPeriod must be a positive, finite duration",
        "identity must not be empty"
      ], "no comparisons with a duration that is itself invalid")
      const unsafe = yield* Effect.flip(
        make(configFor("a", { leaseDuration: "10 seconds", renewDeadline: "2 seconds" }))
      )
      assert.deepStrictEqual(unsafe.problems, [
        "renewDeadline (2000ms) must be greater than retryPeriod * jitterFactor (2000ms * 1.2)"
      ])
      const inverted = yield* Effect.flip(make(configFor("a", { leaseDuration: "5 seconds" })))
      assert.deepStrictEqual(inverted.problems, ["leaseDuration (5000ms) must be greater than renewDeadline (10000ms)"])
    }).pipe(Effect.provide(MemoryCluster.layer())))

  it.effect("makeIdentity keeps the pod name and adds a suffix; layerAlwaysLeader just runs the work", () =>
    Effect.gen(function*() {
      const id = yield* makeIdentity("api-controller-7d9f8-x2x4q")
      assert.match(id, /^api-controller-7d9f8-x2x4q_[0-9a-z]{6}$/)
      const elector = yield* LeaderElection
      assert.isTrue(yield* elector.isLeader)
      assert.strictEqual(yield* elector.runWhileLeader(Effect.succeed(1)), 1)
    }).pipe(Effect.provide(LeaderElection.layerAlwaysLeader())))

  it.effect("LeaderElection.layer builds the service on KubeApi", () =>
    Effect.gen(function*() {
      const elector = yield* LeaderElection
      assert.strictEqual(elector.lease, `${NS}/${LEASE}`)
      assert.strictEqual(yield* elector.runWhileLeader(Effect.succeed("led")), "led")
      assert.strictEqual((yield* specNow).holderIdentity, "")
    }).pipe(Effect.provide(Layer.provideMerge(LeaderElection.layer(configFor("a")), MemoryCluster.layer()))))
})
