import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Latch, Option } from "effect"
import { TestClock } from "effect/testing"
import { backoffDelay, defaultBackoff, makeWorkQueue } from "../../src/controller/WorkQueue.ts"

/** Takes a key if one is ready now, through `take` (a forked taker), without waiting. */
const takeIfReady = <K, E>(q: { readonly take: Effect.Effect<K, E> }) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(q.take)
    yield* Effect.yieldNow
    const polled = fiber.pollUnsafe()
    if (polled === undefined) {
      yield* Fiber.interrupt(fiber)
      return Option.none<K>()
    }
    return Option.some(yield* Fiber.join(fiber))
  })

describe("work queue", () => {
  it.effect("hands out a key added several times once", () =>
    Effect.gen(function*() {
      const q = yield* makeWorkQueue<string>()
      yield* q.add("a")
      yield* q.add("a")
      yield* q.add("b")
      assert.strictEqual(yield* q.depth, 2)
      assert.strictEqual(yield* q.take, "a")
      assert.strictEqual(yield* q.take, "b")
      assert.isTrue(Option.isNone(yield* takeIfReady(q)))
    }))

  it.effect("never hands a key to two workers at once; a re-add during the pass runs after it", () =>
    Effect.gen(function*() {
      const q = yield* makeWorkQueue<string>()
      yield* q.add("a")
      assert.strictEqual(yield* q.take, "a")
      yield* q.add("a") // a watch event arrives while the pass runs
      assert.isTrue(Option.isNone(yield* takeIfReady(q)), "not ready while in flight")
      yield* q.done("a")
      assert.deepStrictEqual(yield* takeIfReady(q), Option.some("a"))
    }))

  it.effect("idle is open exactly while no key waits to be taken", () =>
    Effect.gen(function*() {
      const q = yield* makeWorkQueue<string>()
      assert.isTrue(Latch.isOpen(q.idle), "empty")
      yield* q.add("a")
      yield* q.add("b")
      assert.isFalse(Latch.isOpen(q.idle), "two wait")
      yield* q.take
      assert.isFalse(Latch.isOpen(q.idle), "one waits")
      yield* q.take
      assert.isTrue(Latch.isOpen(q.idle), "both in flight, none waits")
      yield* q.add("a") // while in flight: marked dirty, it does not wait yet
      assert.isTrue(Latch.isOpen(q.idle))
      yield* q.done("a")
      assert.isFalse(Latch.isOpen(q.idle), "handed out again: it waits")
    }))

  it.effect("shutdown: a waiting take and every later one fail with Done, the keys still waiting are dropped, keys in flight can end", () =>
    Effect.gen(function*() {
      const q = yield* makeWorkQueue<string>()
      yield* q.add("a")
      assert.strictEqual(yield* q.take, "a")
      const waiting = yield* Effect.forkChild(Effect.flip(q.take))
      yield* Effect.yieldNow
      assert.isUndefined(waiting.pollUnsafe(), "nothing to take yet")
      yield* q.shutdown
      assert.strictEqual((yield* Fiber.join(waiting))._tag, "Done")
      yield* q.add("b")
      assert.strictEqual((yield* Effect.flip(q.take))._tag, "Done", "b is not handed out")
      assert.strictEqual(yield* q.depth, 0)
      assert.isTrue(Latch.isOpen(q.idle))
      yield* q.done("a")
      assert.strictEqual(yield* q.inFlight, 0)
    }))

  it.effect("shutdown drops the keys that were waiting", () =>
    Effect.gen(function*() {
      const q = yield* makeWorkQueue<string>()
      yield* q.add("a")
      yield* q.add("b")
      yield* q.shutdown
      assert.strictEqual((yield* Effect.flip(q.take))._tag, "Done")
      assert.strictEqual(yield* q.depth, 0)
    }))

  it.effect("a delayed key becomes ready after its delay, and the earliest delay wins", () =>
    Effect.gen(function*() {
      const q = yield* makeWorkQueue<string>()
      yield* q.addAfter("a", Duration.seconds(10))
      yield* q.addAfter("a", Duration.seconds(2))
      yield* q.addAfter("a", Duration.seconds(30))
      yield* TestClock.adjust(Duration.seconds(1))
      assert.isTrue(Option.isNone(yield* takeIfReady(q)))
      yield* TestClock.adjust(Duration.seconds(1))
      assert.deepStrictEqual(yield* takeIfReady(q), Option.some("a"))
      yield* q.done("a")
      yield* TestClock.adjust(Duration.seconds(60))
      assert.isTrue(Option.isNone(yield* takeIfReady(q)), "the later delays were dropped")
    }))

  it.effect("failing keys back off exponentially, capped, until forgotten", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(
        [1, 2, 3, 4, 20].map((n) => Duration.toMillis(backoffDelay(defaultBackoff, n))),
        [200, 400, 800, 1600, 60_000]
      )
      const q = yield* makeWorkQueue<string>({ base: Duration.seconds(1), max: Duration.seconds(8), jitter: 0 })
      const retryAfter = Effect.gen(function*() {
        yield* q.addRateLimited("a")
        let waited = 0
        while (Option.isNone(yield* takeIfReady(q))) {
          yield* TestClock.adjust(Duration.millis(100))
          waited += 100
        }
        yield* q.done("a")
        return waited
      })
      const delays = [yield* retryAfter, yield* retryAfter, yield* retryAfter, yield* retryAfter, yield* retryAfter]
      assert.deepStrictEqual(delays, [1000, 2000, 4000, 8000, 8000])
      assert.strictEqual(yield* q.failures("a"), 5)
      yield* q.forget("a")
      assert.strictEqual(yield* retryAfter, 1000)
    }))

  it.effect("jitter spreads retry delays within the configured fraction", () =>
    Effect.gen(function*() {
      const q = yield* makeWorkQueue<number>({ base: Duration.seconds(10), max: Duration.seconds(10), jitter: 0.1 })
      for (let k = 0; k < 20; k++) yield* q.addRateLimited(k)
      yield* TestClock.adjust(Duration.millis(8_999))
      assert.strictEqual(yield* q.depth, 0, "none before 90%")
      yield* TestClock.adjust(Duration.millis(2_002))
      assert.strictEqual(yield* q.depth, 20, "all by 110%")
    }))

  it.effect("a worker waiting on an empty queue wakes up when a key arrives", () =>
    Effect.gen(function*() {
      const q = yield* makeWorkQueue<string>()
      const worker = yield* Effect.forkChild(q.take)
      yield* Effect.yieldNow
      yield* q.add("late")
      assert.strictEqual(yield* Fiber.join(worker), "late")
    }))

  it.effect("requeueInFlight: keys whose workers were interrupted run again, and later adds are handed out", () =>
    Effect.gen(function*() {
      const q = yield* makeWorkQueue<string>()
      const started = yield* Deferred.make<void>()
      yield* q.add("a")
      yield* q.add("b")
      // A worker takes "a" and is interrupted in the middle of its pass (leadership lost).
      const worker = yield* Effect.forkChild(
        Effect.flatMap(q.take, () => Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.never)))
      )
      yield* Deferred.await(started)
      yield* Fiber.interrupt(worker)
      yield* q.add("a") // a watch event for it meanwhile: only marked dirty, it is "in flight"
      assert.strictEqual(yield* q.inFlight, 1)
      assert.strictEqual(yield* q.depth, 1, "without the requeue, only b would ever run again")

      assert.strictEqual(yield* q.requeueInFlight, 1)
      assert.strictEqual(yield* q.inFlight, 0)
      assert.deepStrictEqual([yield* q.take, yield* q.take].sort(), ["a", "b"])
      yield* q.done("a")
      yield* q.done("b")
      yield* q.add("a")
      assert.deepStrictEqual(yield* takeIfReady(q), Option.some("a"), "later adds are handed out as usual")
    }))

  it.effect("a worker interrupted while it waits takes no key with it", () =>
    Effect.gen(function*() {
      const q = yield* makeWorkQueue<string>()
      const waiting = yield* Effect.forkChild(q.take)
      yield* Effect.yieldNow
      yield* Fiber.interrupt(waiting)
      yield* q.add("b")
      assert.strictEqual(yield* q.depth, 1)
      assert.deepStrictEqual(yield* takeIfReady(q), Option.some("b"))
    }))
})
