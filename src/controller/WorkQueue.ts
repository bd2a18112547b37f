/**
 * The work queue between watch events and reconcile passes, with client-go's contract:
 *
 * - keys are deduplicated: a key added ten times before a worker takes it is processed once;
 * - a key is processed by at most one worker at a time: added while in flight, it is marked
 *   dirty and handed out again after `done`;
 * - `addAfter` delays a key; a key already waiting keeps its earliest time;
 * - `addRateLimited` backs off per key, exponentially with jitter, until `forget`;
 * - `shutdown` stops the workers: a `take` waiting or to come fails with `Done`, and the keys still
 *   waiting are not handed out (the next leader's initial resync covers them);
 * - `requeueInFlight`, called when no worker runs (before workers start again after they were
 *   interrupted, e.g. because leadership was lost), queues again every key a worker had taken:
 *   an interrupted worker never calls `done`, and a key left "in flight" would only ever be
 *   marked dirty by later adds, and never run again.
 *
 * `idle` is open exactly while no key waits: the Event writer holds Events back until it opens.
 * Time comes from Effect's Clock (sleep), so tests drive it with TestClock.
 */
import { Cause, Clock, Context, Duration, Effect, Fiber, Latch, Layer, Queue, Random, type Scope } from "effect"
import type { ObjectKey } from "../domain/Kube.ts"
import { type Backoff, defaultBackoff, delayOf, jitteredDelayOf } from "../util/Backoff.ts"

/** How `addRateLimited` spaces a key's retries: the one policy, src/util/Backoff.ts. */
export type BackoffOptions = Backoff
export { defaultBackoff }

export interface WorkQueueShape<K> {
  readonly add: (key: K) => Effect.Effect<void>
  readonly addAfter: (key: K, delay: Duration.Duration) => Effect.Effect<void>
  readonly addRateLimited: (key: K) => Effect.Effect<void>
  /** Reset the key's failure count after a good pass. */
  readonly forget: (key: K) => Effect.Effect<void>
  /** How many times the key failed in a row. */
  readonly failures: (key: K) => Effect.Effect<number>
  /** Waits for a ready key and marks it in flight; fails with `Done` once the queue is shut down. */
  readonly take: Effect.Effect<K, Cause.Done>
  /** Ends the key's pass; if it was added meanwhile, it becomes ready again. */
  readonly done: (key: K) => Effect.Effect<void>
  /** No key is handed out any more; keys in flight may still be `done`. */
  readonly shutdown: Effect.Effect<void>
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
  /** Open while no key waits (depth 0); only the queue opens and closes it. */
  readonly idle: Latch.Latch
}

/** The delay of the n-th consecutive failure (n >= 1), before jitter. */
export const backoffDelay = delayOf

export const makeWorkQueue = <K>(
  backoff: BackoffOptions = defaultBackoff
): Effect.Effect<WorkQueueShape<K>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const ready = yield* Queue.unbounded<K, Cause.Done>()
    const queued = new Set<K>() // in `ready`, not yet taken
    const processing = new Set<K>()
    const dirty = new Set<K>() // added while processing
    const waiting = new Map<K, { readonly due: number; readonly fiber: Fiber.Fiber<void> }>()
    const failureCount = new Map<K, number>()
    const idle = Latch.makeUnsafe(true)
    let shutDown = false
    const scope = yield* Effect.scope

    const addNow = (key: K): Effect.Effect<void> =>
      Effect.sync(() => {
        if (processing.has(key)) {
          dirty.add(key)
          return
        }
        if (queued.has(key) || shutDown) return
        queued.add(key)
        idle.closeUnsafe()
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
      if (queued.size === 0) idle.openUnsafe()
      return key
    }
    const take = Effect.uninterruptibleMask((restore) => Effect.map(restore(Queue.take(ready)), taken))

    const requeueInFlight = Effect.gen(function*() {
      const abandoned = processing.size
      for (const key of processing) queued.add(key)
      processing.clear()
      dirty.clear()
      // Rebuild `ready` from `queued`, so no key is in one and not the other.
      yield* Queue.clear(ready)
      for (const key of queued) Queue.offerUnsafe(ready, key)
      if (queued.size > 0) idle.closeUnsafe()
      return abandoned
    })

    const done = (key: K) =>
      Effect.suspend(() => {
        processing.delete(key)
        if (!dirty.delete(key)) return Effect.void
        return addNow(key)
      })

    // What was waiting is dropped at once (no `take` can get it), then takers are told `Done`.
    const shutdown = Effect.andThen(Queue.clear(ready), Queue.end(ready)).pipe(
      Effect.andThen(Effect.sync(() => {
        shutDown = true
        queued.clear()
        idle.openUnsafe()
      }))
    )

    return {
      add: addNow,
      addAfter,
      addRateLimited,
      forget: (key) => Effect.sync(() => void failureCount.delete(key)),
      failures: (key) => Effect.sync(() => failureCount.get(key) ?? 0),
      take,
      done,
      shutdown,
      requeueInFlight,
      depth: Effect.sync(() => queued.size),
      inFlight: Effect.sync(() => processing.size),
      idle
    }
  })

/** The controller's queue of Api keys: the cache fills it (src/controller/Watches.ts), the workers drain it. */
export class WorkQueue extends Context.Service<WorkQueue, WorkQueueShape<ObjectKey>>()("api-controller/controller/WorkQueue") {
  static readonly layer = (backoff: BackoffOptions = defaultBackoff): Layer.Layer<WorkQueue> =>
    Layer.effect(WorkQueue, makeWorkQueue<ObjectKey>(backoff))
}
