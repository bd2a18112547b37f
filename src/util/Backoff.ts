/**
 * The one backoff policy: capped exponential, with jitter so many failing things do not retry in
 * lockstep. The work queue uses it per key (`delayOf`, the n-th consecutive failure), the
 * informers for failed lists and watches (`scheduleOf`, an Effect Schedule).
 */
import { Duration, Effect, Random, Schedule } from "effect"

export interface Backoff {
  /** First retry delay. */
  readonly base: Duration.Duration
  /** Upper bound of a retry delay. */
  readonly max: Duration.Duration
  /** ±fraction of random spread. */
  readonly jitter: number
}

/** A pass that failed: 200 ms, 400 ms, ... at most a minute. */
export const defaultBackoff: Backoff = { base: Duration.millis(200), max: Duration.seconds(60), jitter: 0.1 }

/** The delay before the n-th retry in a row (n >= 1), before jitter. */
export const delayOf = (b: Backoff, n: number): Duration.Duration => {
  const base = Duration.toMillis(b.base)
  const max = Duration.toMillis(b.max)
  return Duration.millis(Math.min(max, base * 2 ** Math.min(Math.max(n, 1) - 1, 40)))
}

/** A delay with the policy's jitter applied, for a uniform `random` in [0, 1). */
const jittered = (b: Backoff, delay: Duration.Duration, random: number): Duration.Duration =>
  Duration.millis(Math.max(1, Math.round(Duration.toMillis(delay) * (1 + b.jitter * (random * 2 - 1)))))

/** `delayOf` with jitter applied, for a uniform `random` in [0, 1). */
export const jitteredDelayOf = (b: Backoff, n: number, random: number): Duration.Duration => jittered(b, delayOf(b, n), random)

/** The same policy as a Schedule, for `Effect.retry`: the same delays, the same jitter. */
export const scheduleOf = (b: Backoff): Schedule.Schedule<unknown, unknown> =>
  Schedule.min([Schedule.exponential(b.base), Schedule.spaced(b.max)]).pipe(
    Schedule.modifyDelay(({ duration }) => Effect.map(Random.next, (r) => jittered(b, duration, r)))
  )
