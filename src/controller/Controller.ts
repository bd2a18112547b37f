/**
 * The long-running controller: cache changes become keys in the work queue, workers take keys
 * one pass at a time per Api, and the outcome of each pass decides when the key comes back.
 *
 *   ClusterCache change ──keysFor──▶ WorkQueue ──take──▶ worker: Reconciler.reconcile(key)
 *        ▲                              ▲                     │
 *        └────── watch events ──────────┴── requeue / backoff ┘      + periodic resync
 *
 * The event pump runs on every replica, so a standby's cache and queue stay warm; workers run
 * only where `gate` lets them (the leader, when leader election is on).
 */
import { Cause, Clock, Context, Deferred, Duration, Effect, Fiber, Layer, Option, PubSub, Queue, Schedule } from "effect"
import { type ObjectKey, objectKey } from "../domain/Kube.ts"
import { ClusterCache } from "./ClusterCache.ts"
import { Reconciler } from "./Reconciler.ts"
import { keysFor } from "./Watches.ts"
import { type BackoffOptions, defaultBackoff, makeWorkQueue, type WorkQueue } from "./WorkQueue.ts"

export interface ControllerOptions {
  readonly workers: number
  /** Every Api is looked at again this often, whatever the events say. */
  readonly resyncPeriod: Duration.Duration
  readonly backoff: BackoffOptions
  /** On shutdown, how long in-flight passes may take to finish. */
  readonly shutdownGrace: Duration.Duration
}

export const defaultControllerOptions: ControllerOptions = {
  workers: 2,
  resyncPeriod: Duration.minutes(10),
  backoff: defaultBackoff,
  shutdownGrace: Duration.seconds(20)
}

export type PassOutcome = "done" | "skipped" | "requeue" | "retry" | "error"

/** Hooks for metrics and views; all optional. */
export interface ControllerHooks {
  readonly onPass?: (key: ObjectKey, outcome: PassOutcome, seconds: number) => Effect.Effect<void>
  readonly onQueueDepth?: (depth: number) => Effect.Effect<void>
}

export class Controller extends Context.Service<Controller, {
  readonly queue: WorkQueue<ObjectKey>
  /** Look at every Api again. */
  readonly resyncAll: Effect.Effect<void>
}>()("api-controller/controller/Controller") {
  /**
   * Starts the event pump, the resync timer and, behind `gate`, the workers. `gate` wraps the
   * workers' lifetime: identity without leader election, `runWhileLeader` with it.
   */
  static readonly layer = (
    options: ControllerOptions = defaultControllerOptions,
    hooks: ControllerHooks = {},
    gate: <A, E, R>(work: Effect.Effect<A, E, R>) => Effect.Effect<A, unknown, R> = (w) => w
  ) =>
    Layer.effect(
      Controller,
      Effect.gen(function*() {
        const cache = yield* ClusterCache
        const reconciler = yield* Reconciler
        const queue = yield* makeWorkQueue<ObjectKey>(options.backoff)
        // One fiber reports the depth, reading it afresh after every signal: reports made by the
        // pump and the workers themselves could land out of order and leave a stale value behind
        // (a gauge stuck above 0 with the queue empty).
        const depthChanged = yield* Queue.sliding<void>(1)
        if (hooks.onQueueDepth !== undefined) {
          const report = hooks.onQueueDepth
          yield* Effect.forkScoped(Effect.forever(
            Effect.andThen(Queue.take(depthChanged), Effect.flatMap(queue.depth, report))
          ))
        }
        const reportDepth = Effect.sync(() => void Queue.offerUnsafe(depthChanged, undefined))

        // Subscribe before the caches sync, so no change between sync and subscription is lost.
        const subscription = yield* cache.subscribe
        let pumping = false
        yield* Effect.forkScoped(Effect.forever(
          Effect.gen(function*() {
            // Whatever has piled up since the last wake-up, one depth report for all of it.
            const changes = yield* PubSub.takeAll(subscription)
            pumping = true
            for (const change of changes) {
              // A pass that wrote this version knows it: only the others it concerns are woken.
              for (const key of keysFor(change, cache)) if (key !== change.by) yield* queue.add(key)
            }
            pumping = false
            yield* reportDepth
          })
        ))
        /**
         * Until every change published so far is a key in the queue. The initial lists publish one
         * change per Api and per child; queued before the workers start they collapse into one key
         * per Api, while behind running workers each re-added a key already done (~4 passes per Api).
         */
        const caughtUp = Effect.gen(function*() {
          while (pumping || Option.getOrElse(PubSub.remainingUnsafe(subscription), () => 0) > 0) yield* Effect.yieldNow
        })

        const resyncAll = Effect.gen(function*() {
          for (const api of cache.apis()) yield* queue.add(objectKey(api.metadata.namespace, api.metadata.name))
          yield* reportDepth
        })

        const pass = (key: ObjectKey) =>
          Effect.gen(function*() {
            const started = yield* Clock.currentTimeMillis
            const exit = yield* Effect.exit(reconciler.reconcile(key))
            const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
            let outcome: PassOutcome
            if (exit._tag === "Success") {
              yield* queue.forget(key)
              if (exit.value._tag === "RequeueAfter") {
                yield* queue.addAfter(key, exit.value.after)
                outcome = "requeue"
              } else outcome = exit.value._tag === "Skipped" ? "skipped" : "done"
            } else {
              const failure = Cause.findErrorOption(exit.cause)
              if (failure._tag === "Some" && !failure.value.retryable) {
                yield* queue.forget(key)
                yield* Effect.logError("pass failed; not retrying until the Api or its world changes", {
                  error: failure.value.message
                })
                outcome = "error"
              } else {
                // Transient API failures, lost races (409) and defects back off and retry: one
                // bad Api never stops the workers.
                const attempts = (yield* queue.failures(key)) + 1
                yield* queue.addRateLimited(key)
                yield* (failure._tag === "Some"
                  ? failure.value.lostRace === true && attempts <= 3
                    // Its cache had not yet seen the Api's newest version; not worth a warning unless it keeps happening.
                    ? Effect.logDebug("the Api changed during the pass (409); retrying from its newer version", { error: failure.value.message, attempts })
                    : Effect.logWarning("pass failed; retrying with backoff", { error: failure.value.message, attempts })
                  : Effect.logError("pass crashed; retrying with backoff", { cause: Cause.pretty(exit.cause), attempts }))
                outcome = "retry"
              }
            }
            // Woken while it ran, most often by the watch echo of its own writes: if the world is
            // still as the pass left it, the next pass would only find that out.
            let settled: number | undefined
            if (outcome === "done" && (yield* queue.isDirty(key))) {
              const mark = yield* queue.mark
              if (yield* reconciler.isSettled(key)) settled = mark
            }
            yield* queue.done(key, settled)
            yield* hooks.onPass?.(key, outcome, seconds) ?? Effect.void
            yield* reportDepth
          }).pipe(Effect.annotateLogs({ api: key }))

        // Graceful stop: workers stop taking keys, in-flight passes finish (bounded), then the
        // scope interrupts what is left. A key taken as the stop fires is simply not run: the
        // next leader's initial resync covers it.
        const stopping = yield* Deferred.make<void>()
        // The stop is checked before and after each take: a ready key would otherwise win the
        // race against an already-completed stop, and a stopping worker would keep draining the
        // queue until the grace period cut a pass off half-way.
        const worker = Effect.gen(function*() {
          while (!Deferred.isDoneUnsafe(stopping)) {
            // A ready key is taken at once; only an empty queue is waited on, racing the stop
            // (a race forks two fibers: not worth it per pass in a burst).
            let key = yield* queue.poll
            if (key === undefined) {
              const next = yield* Effect.raceFirst(
                Effect.map(queue.take, Option.some),
                Effect.as(Deferred.await(stopping), Option.none<ObjectKey>())
              )
              if (Option.isNone(next)) return
              key = next.value
            }
            if (Deferred.isDoneUnsafe(stopping)) return yield* queue.done(key)
            yield* pass(key)
          }
        })

        const work = Effect.gen(function*() {
          yield* cache.synced
          yield* caughtUp
          yield* Effect.logInfo("caches synced; starting workers", { workers: options.workers, apis: cache.apis().length })
          yield* resyncAll
          const resync = yield* Effect.forkChild(
            Effect.forever(Effect.sleep(options.resyncPeriod).pipe(Effect.andThen(resyncAll)))
          )
          yield* Effect.all(Array.from({ length: options.workers }, () => worker), { concurrency: "unbounded" })
          yield* Fiber.interrupt(resync)
        })

        // Workers stopped in the middle of their passes (leadership lost) never ended them; once
        // they are all gone, those keys are queued again, so they run when the workers start again
        // (and a shutdown does not wait for passes nobody runs).
        const afterTerm = Effect.gen(function*() {
          const abandoned = yield* queue.requeueInFlight
          if (abandoned > 0) yield* Effect.logInfo("passes cut off by the stop will run again", { keys: abandoned })
        })

        // Losing leadership stops the workers; wait to win it back (the caches stay warm).
        yield* Effect.forkScoped(
          gate(work).pipe(
            Effect.catch((e) => Effect.logWarning("workers stopped; waiting to lead again", { reason: String(e) })),
            Effect.ensuring(afterTerm),
            Effect.repeat({ until: () => Deferred.isDoneUnsafe(stopping) })
          )
        )

        yield* Effect.addFinalizer(() =>
          Effect.gen(function*() {
            yield* Deferred.succeed(stopping, undefined)
            const inFlight = yield* queue.inFlight
            if (inFlight > 0) yield* Effect.logInfo("stopping: waiting for in-flight passes", { inFlight })
            yield* Effect.repeat(queue.inFlight, { until: (n) => n === 0, schedule: Schedule.spaced("20 millis") }).pipe(
              Effect.timeout(options.shutdownGrace),
              Effect.ignore
            )
          })
        )

        return Controller.of({ queue, resyncAll })
      })
    )
}
