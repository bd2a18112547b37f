/**
 * The work queue between watch events and reconcile passes, with client-go's contract:
 *
 * - keys are deduplicated: a key added ten times before a worker takes it is processed once;
 * - a key is processed by at most one worker at a time: added while in flight, it is marked
 *   dirty and handed out again only after `done`;
 * - `addAfter` delays a key; a key already waiting keeps its earliest time;
 * - `addRateLimited` backs off per key, exponentially with jitter, until `forget`;
 * - `process` hands a key to a function and ends its pass however the function ends: a pass
 *   that is interrupted (a worker stopped because leadership was lost) ends too, and its key is
 *   queued again, because the work it was doing is still owed. A key left "in flight" by an
 *   interrupted worker would only ever be marked dirty by later adds, and never run again.
 *
 * Keys are handed out synchronously from the ready set, never through a channel a waiting fiber
 * might be interrupted on, so a key cannot be lost between the queue and its pass.
 *
 * Time comes from Effect's Clock (sleep), so tests drive it with TestClock.
 */
import { Clock, Duration, Effect, Exit, Fiber, Latch, Option, Random, type Scope } from "effect"

export interface BackoffOptions {
  /** First retry delay. */
  readonly base: Duration.Duration
  /** Upper bound of a retry delay. */
  readonly max: Duration.Duration
  /** ±fraction of random spread, so many failing keys do not retry in lockstep. */
  readonly jitter: number
}

export const defaultBackoff: BackoffOptions = {
  base: Duration.millis(200),
  max: Duration.seconds(60),
  jitter: 0.1
}

export interface WorkQueue<K> {
  readonly add: (key: K) => Effect.Effect<void>
  readonly addAfter: (key: K, delay: Duration.Duration) => Effect.Effect<void>
  readonly addRateLimited: (key: K) => Effect.Effect<void>
  /** Reset the key's failure count after a good pass. */
  readonly forget: (key: K) => Effect.Effect<void>
  /** How many times the key failed in a row. */
  readonly failures: (key: K) => Effect.Effect<number>
  /**
   * Waits for a ready key and marks it in flight; the caller must call `done`. Prefer `process`,
   * which cannot leave a key in flight when the caller is interrupted.
   */
  readonly take: Effect.Effect<K>
  /** Ends the key's pass; if it was added meanwhile, it becomes ready again. */
  readonly done: (key: K) => Effect.Effect<void>
  /**
   * Waits for a ready key, runs `pass` on it and ends the pass however `pass` ends. Interrupted,
   * the key is queued again. With `until`, gives up waiting (None) once `until` completes; a
   * pass already started is not cut short by it.
   */
  readonly process: <A, E, R>(
    pass: (key: K) => Effect.Effect<A, E, R>,
    until?: Effect.Effect<void>
  ) => Effect.Effect<Option.Option<A>, E, R>
  /** Keys waiting to be taken (not counting delayed or in-flight keys). */
  readonly depth: Effect.Effect<number>
  /** Keys currently being processed. */
  readonly inFlight: Effect.Effect<number>
}

/** The delay of the n-th consecutive failure (n >= 1), before jitter. */
export const backoffDelay = (options: BackoffOptions, n: number): Duration.Duration => {
  const base = Duration.toMillis(options.base)
  const max = Duration.toMillis(options.max)
  return Duration.millis(Math.min(max, base * 2 ** Math.max(0, n - 1)))
}

export const makeWorkQueue = <K>(
  backoff: BackoffOptions = defaultBackoff
): Effect.Effect<WorkQueue<K>, never, Scope.Scope> =>
  Effect.gen(function*() {
    // Ready keys in the order they became ready (a Set keeps insertion order), and a latch that
    // is open while there is any: waiting for it carries no key, so an interrupted wait loses none.
    const queued = new Set<K>()
    const nonEmpty = yield* Latch.make(false)
    const processing = new Set<K>()
    const dirty = new Set<K>() // added while processing
    const waiting = new Map<K, { readonly due: number; readonly fiber: Fiber.Fiber<void> }>()
    const failureCount = new Map<K, number>()
    const scope = yield* Effect.scope

    const addNow = (key: K): Effect.Effect<void> =>
      Effect.sync(() => {
        if (processing.has(key)) {
          dirty.add(key)
          return
        }
        if (queued.has(key)) return
        queued.add(key)
        nonEmpty.openUnsafe()
      })

    const addAfter = (key: K, delay: Duration.Duration): Effect.Effect<void> =>
      Effect.gen(function*() {
        const ms = Duration.toMillis(delay)
        if (ms <= 0) return yield* addNow(key)
        const now = yield* Clock.currentTimeMillis
        const due = now + ms
        const existing = waiting.get(key)
        if (existing !== undefined && existing.due <= due) return
        if (existing !== undefined) yield* Fiber.interrupt(existing.fiber)
        const fiber = yield* Effect.sleep(delay).pipe(
          Effect.andThen(Effect.sync(() => waiting.delete(key))),
          Effect.andThen(addNow(key)),
          Effect.forkIn(scope)
        )
        waiting.set(key, { due, fiber })
      })

    const addRateLimited = (key: K): Effect.Effect<void> =>
      Effect.gen(function*() {
        const n = (failureCount.get(key) ?? 0) + 1
        failureCount.set(key, n)
        const delay = Duration.toMillis(backoffDelay(backoff, n))
        const spread = (yield* Random.next) * 2 - 1 // [-1, 1)
        yield* addAfter(key, Duration.millis(Math.max(1, Math.round(delay * (1 + backoff.jitter * spread)))))
      })

    /** The oldest ready key, now in flight; None when nothing is ready. Synchronous. */
    const takeNow = (): Option.Option<K> => {
      const next = queued.values().next()
      if (next.done === true) {
        nonEmpty.closeUnsafe()
        return Option.none()
      }
      const key = next.value
      queued.delete(key)
      if (queued.size === 0) nonEmpty.closeUnsafe()
      processing.add(key)
      return Option.some(key)
    }

    /** Waits (interruptibly) until a key is ready, or `until` completes (false). */
    const awaitReady = (until: Effect.Effect<void> | undefined): Effect.Effect<boolean> =>
      until === undefined
        ? Effect.as(nonEmpty.await, true)
        : Effect.raceFirst(Effect.as(nonEmpty.await, true), Effect.as(until, false))

    const take: Effect.Effect<K> = Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        while (true) {
          const key = takeNow()
          if (Option.isSome(key)) return key.value
          yield* restore(awaitReady(undefined))
        }
      })
    )

    const done = (key: K) =>
      Effect.suspend(() => {
        processing.delete(key)
        if (!dirty.delete(key)) return Effect.void
        return addNow(key)
      })

    const process = <A, E, R>(
      pass: (key: K) => Effect.Effect<A, E, R>,
      until?: Effect.Effect<void>
    ): Effect.Effect<Option.Option<A>, E, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          // Give the other fibers a turn between passes: a key is handed out synchronously, so a
          // worker whose passes never wait (an in-memory API) would otherwise starve the event
          // pump and the informers until the queue ran dry.
          yield* restore(Effect.yieldNow)
          while (true) {
            const key = takeNow()
            if (Option.isNone(key)) {
              if (!(yield* restore(awaitReady(until)))) return Option.none<A>()
              continue
            }
            const k = key.value
            return yield* restore(Effect.map(Effect.suspend(() => pass(k)), Option.some)).pipe(
              Effect.onExit((exit) =>
                Exit.hasInterrupts(exit)
                  ? Effect.andThen(done(k), addNow(k))
                  : done(k)
              )
            )
          }
        })
      )

    return {
      add: addNow,
      addAfter,
      addRateLimited,
      forget: (key) => Effect.sync(() => void failureCount.delete(key)),
      failures: (key) => Effect.sync(() => failureCount.get(key) ?? 0),
      take,
      done,
      process,
      depth: Effect.sync(() => queued.size),
      inFlight: Effect.sync(() => processing.size)
    }
  })
