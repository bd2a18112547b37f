/**
 * The work queue between watch events and reconcile passes, with client-go's contract:
 *
 * - keys are deduplicated: a key added ten times before a worker takes it is processed once;
 * - a key is processed by at most one worker at a time: added while in flight, it is marked
 *   dirty and handed out again only after `done`, unless its worker found, after everything
 *   added so far (`mark`), that the key needs no other pass (`done(key, mark)`);
 * - `addAfter` delays a key; a key already waiting keeps its earliest time;
 * - `addRateLimited` backs off per key, exponentially with jitter, until `forget`;
 * - `requeueInFlight`, called when no worker runs (before workers start again after they were
 *   interrupted, e.g. because leadership was lost), queues again every key a worker had taken:
 *   an interrupted worker never calls `done`, and a key left "in flight" would only ever be
 *   marked dirty by later adds, and never run again.
 *
 * Time comes from Effect's Clock (sleep), so tests drive it with TestClock.
 */
import { Clock, Duration, Effect, Fiber, Queue, Random, type Scope } from "effect"
import { type Backoff, defaultBackoff, delayOf, jitteredDelayOf } from "../util/Backoff.ts"

/** How `addRateLimited` spaces a key's retries: the one policy, src/util/Backoff.ts. */
export type BackoffOptions = Backoff
export { defaultBackoff }

export interface WorkQueue<K> {
  readonly add: (key: K) => Effect.Effect<void>
  readonly addAfter: (key: K, delay: Duration.Duration) => Effect.Effect<void>
  readonly addRateLimited: (key: K) => Effect.Effect<void>
  /** Reset the key's failure count after a good pass. */
  readonly forget: (key: K) => Effect.Effect<void>
  /** How many times the key failed in a row. */
  readonly failures: (key: K) => Effect.Effect<number>
  /** Waits for a ready key and marks it in flight. */
  readonly take: Effect.Effect<K>
  /** A ready key, marked in flight, if there is one now; never waits. */
  readonly poll: Effect.Effect<K | undefined>
  /**
   * Ends the key's pass; if it was added meanwhile, it becomes ready again. With `settled` (a
   * `mark` taken before the worker checked that the key needs no other pass), only adds after
   * that mark bring it back: the check saw everything added before it.
   */
  readonly done: (key: K, settled?: number) => Effect.Effect<void>
  /** Whether the key was added while in flight. */
  readonly isDirty: (key: K) => Effect.Effect<boolean>
  /** A point in the sequence of adds, for `done`. */
  readonly mark: Effect.Effect<number>
  /**
   * Only while no worker runs: every key taken but not `done` (its worker was interrupted) is
   * ready again, and the ready keys are exactly those known to be queued. Returns how many keys
   * were in flight.
   */
  readonly requeueInFlight: Effect.Effect<number>
  /** Keys waiting to be taken (not counting delayed or in-flight keys). */
  readonly depth: Effect.Effect<number>
  /** Keys currently being processed. */
  readonly inFlight: Effect.Effect<number>
}

/** The delay of the n-th consecutive failure (n >= 1), before jitter. */
export const backoffDelay = delayOf

export const makeWorkQueue = <K>(
  backoff: BackoffOptions = defaultBackoff
): Effect.Effect<WorkQueue<K>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const ready = yield* Queue.unbounded<K>()
    const queued = new Set<K>() // in `ready`, not yet taken
    const processing = new Set<K>()
    const dirty = new Map<K, number>() // added while processing: the number of the last such add
    let adds = 0
    const waiting = new Map<K, { readonly due: number; readonly fiber: Fiber.Fiber<void> }>()
    const failureCount = new Map<K, number>()
    const scope = yield* Effect.scope

    const addNow = (key: K): Effect.Effect<void> =>
      Effect.sync(() => {
        if (processing.has(key)) {
          dirty.set(key, ++adds)
          return
        }
        if (queued.has(key)) return
        queued.add(key)
        Queue.offerUnsafe(ready, key)
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
        yield* addAfter(key, jitteredDelayOf(backoff, n, yield* Random.next))
      })

    // The bookkeeping after the take is done uninterruptibly: a key out of `ready` is always in
    // `processing` (where requeueInFlight finds it), never lost in between.
    const taken = (key: K) => {
      queued.delete(key)
      processing.add(key)
      return key
    }
    const take = Effect.uninterruptibleMask((restore) => Effect.map(restore(Queue.take(ready)), taken))
    const poll = Effect.sync(() => {
      const exit = Queue.takeUnsafe(ready)
      return exit !== undefined && exit._tag === "Success" ? taken(exit.value) : undefined
    })

    const requeueInFlight = Effect.gen(function*() {
      const abandoned = processing.size
      for (const key of processing) queued.add(key)
      processing.clear()
      dirty.clear()
      // Rebuild `ready` from `queued`, so no key is in one and not the other.
      yield* Queue.clear(ready)
      for (const key of queued) Queue.offerUnsafe(ready, key)
      return abandoned
    })

    const done = (key: K, settled?: number) =>
      Effect.suspend(() => {
        processing.delete(key)
        const lastAdd = dirty.get(key)
        if (lastAdd === undefined) return Effect.void
        dirty.delete(key)
        if (settled !== undefined && lastAdd <= settled) return Effect.void
        return addNow(key)
      })

    return {
      add: addNow,
      addAfter,
      addRateLimited,
      forget: (key) => Effect.sync(() => void failureCount.delete(key)),
      failures: (key) => Effect.sync(() => failureCount.get(key) ?? 0),
      take,
      poll,
      done,
      isDirty: (key) => Effect.sync(() => dirty.has(key)),
      mark: Effect.sync(() => adds),
      requeueInFlight,
      depth: Effect.sync(() => queued.size),
      inFlight: Effect.sync(() => processing.size)
    }
  })
