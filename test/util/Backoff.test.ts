/**
 * The one backoff policy (src/util/Backoff.ts): the work queue's per-key delays and the informers'
 * retry Schedule give the same delays, with the same jitter.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Schedule } from "effect"
import { type Backoff, delayOf, scheduleOf } from "../../src/util/Backoff.ts"

/** The schedule's first `n` delays, in milliseconds. */
const delays = (b: Backoff, n: number) =>
  Effect.gen(function*() {
    const step = yield* Schedule.toStep(scheduleOf(b))
    const out: Array<number> = []
    for (let i = 0; i < n; i++) {
      const [, delay] = yield* step(0, undefined)
      out.push(Duration.toMillis(delay))
    }
    return out
  })

describe("backoff", () => {
  it.effect("without jitter the Schedule's delays are the policy's: doubling from base, capped at max", () =>
    Effect.gen(function*() {
      const b: Backoff = { base: Duration.millis(200), max: Duration.seconds(2), jitter: 0 }
      const expected = [1, 2, 3, 4, 5, 6].map((n) => Duration.toMillis(delayOf(b, n)))
      assert.deepStrictEqual(expected, [200, 400, 800, 1600, 2000, 2000])
      assert.deepStrictEqual(yield* delays(b, 6), expected)
    }))

  it.effect("the Schedule honours the policy's jitter: each delay within ±jitter of the policy's, and not all the same", () =>
    Effect.gen(function*() {
      const b: Backoff = { base: Duration.seconds(10), max: Duration.seconds(10), jitter: 0.1 }
      const got = yield* delays(b, 50)
      for (const d of got) {
        assert.isAtLeast(d, 9_000)
        assert.isAtMost(d, 11_000)
      }
      assert.isAbove(new Set(got).size, 1, "spread, not fixed")
    }))
})
