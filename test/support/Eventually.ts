/** Waiting for a running controller to converge, under TestClock or the real clock. */
import { Duration, Effect } from "effect"
import { TestClock } from "effect/testing"

/**
 * Retries `check` until it succeeds: under TestClock the clock is moved `step` at a time (a
 * deterministic number of steps); with `live: true` real time passes instead.
 */
export const eventually = <A, E, R>(
  check: Effect.Effect<A, E, R>,
  options: { readonly step?: Duration.Input; readonly steps?: number; readonly live?: boolean } = {}
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const step = Duration.fromInputUnsafe(options.step ?? (options.live ? "100 millis" : "50 millis"))
    const steps = options.steps ?? (options.live ? 300 : 200)
    for (let i = 0; ; i++) {
      // Assertions throw (defects), so look at the whole exit, not only typed failures.
      const r = yield* Effect.exit(check)
      if (r._tag === "Success") return r.value
      if (i >= steps) return yield* Effect.failCause(r.cause)
      if (options.live) yield* Effect.sleep(step)
      else {
        yield* TestClock.adjust(step)
        for (let j = 0; j < 20; j++) yield* Effect.yieldNow
      }
    }
  })
