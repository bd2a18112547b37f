/**
 * The long-running controller: the cache queues the Apis each change concerns (ClusterCache,
 * Watches.ts), workers take keys one pass at a time per Api, and how each pass ends decides when
 * the key comes back.
 *
 *   watch event ─▶ ClusterCache: store, index ─keysFor─▶ WorkQueue ─take─▶ worker: Reconciler.reconcile(key)
 *                                                             ▲                  │
 *                                                             └─ retry / backoff ┘      + periodic resync
 *
 * The cache and the queue are filled on every replica, so a standby's stay warm; workers run only
 * while LeaderElection lets them (the leader, when leader election is on).
 */
import { Cause, Clock, Context, Duration, Effect, Exit, FiberSet, Layer, Option, Schedule } from "effect"
import { keyOf, type ObjectKey } from "../domain/Kube.ts"
import { LeaderElection } from "../k8s/LeaderElection.ts"
import { ServerOutage } from "../k8s/ServerOutage.ts"
import { ClusterCache } from "./ClusterCache.ts"
import { recordPass } from "./PassMetrics.ts"
import { Reconciler } from "./Reconciler.ts"
import { type BackoffOptions, defaultBackoff, WorkQueue, type WorkQueueShape } from "./WorkQueue.ts"

export interface ControllerOptions {
  readonly workers: number
  /** Every Api is looked at again this often, whatever the events say. */
  readonly resyncPeriod: Duration.Duration
  /** How a key's retries are spaced (the work queue's, WorkQueue.layer). */
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

/**
 * How a pass ended, the one vocabulary of the loop:
 *
 *   done     the Api is as its spec asks (or gone): the key rests until something changes
 *   skipped  the world was as the Api's last pass left it (the echo of its own writes): it only looked
 *   retry    it failed in a way that may pass (a lost race, a failing or unreachable server): backoff
 *   error    it failed in a way only a change can mend (Forbidden, Invalid): the key rests
 */
export type PassOutcome = "done" | "skipped" | "retry" | "error"

export class Controller extends Context.Service<Controller, {
  readonly queue: WorkQueueShape<ObjectKey>
  /** Look at every Api again. */
  readonly resyncAll: Effect.Effect<void>
}>()("api-controller/controller/Controller") {
  /**
   * The workers, the resync and the shutdown. The queue is filled by the cache (ClusterCache);
   * the workers run while `LeaderElection.runWhileLeader` lets them.
   */
  static readonly layer = (
    options: ControllerOptions = defaultControllerOptions
  ): Layer.Layer<Controller, never, ClusterCache | Reconciler | WorkQueue | LeaderElection | ServerOutage> =>
    Layer.effect(
      Controller,
      Effect.gen(function*() {
        const cache = yield* ClusterCache
        const reconciler = yield* Reconciler
        const queue = yield* WorkQueue
        const election = yield* LeaderElection
        const outage = yield* ServerOutage

        const resyncAll = Effect.suspend(() => Effect.forEach(cache.apis(), (api) => queue.add(keyOf(api)), { discard: true }))

        // controller-runtime's reconcileHandler: one switch on how the pass ended, each branch
        // tells the queue what to do with the key, logs, and counts the pass.
        const pass = (key: ObjectKey) =>
          Effect.gen(function*() {
            const started = yield* Clock.currentTimeMillis
            const ended = yield* Effect.exit(reconciler.reconcile(key))
            const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
            const cause = Exit.isFailure(ended) ? ended.cause : undefined
            const error = cause !== undefined ? Option.getOrUndefined(Cause.findErrorOption(cause)) : undefined
            const outcome: PassOutcome = Exit.isSuccess(ended) ? ended.value : error?.reason === "permanent" ? "error" : "retry"
            switch (outcome) {
              case "done":
              case "skipped":
                yield* queue.forget(key)
                yield* outage.answered({ api: key })
                yield* recordPass(outcome, seconds)
                break
              case "error":
                yield* queue.forget(key)
                yield* outage.answered({ api: key })
                yield* Effect.logError("pass failed; not retrying until the Api or its world changes", { error: error?.message })
                yield* recordPass("error", seconds)
                break
              case "retry": {
                // Transient failures, lost races (409), an unreachable server and defects back off
                // and retry: one bad Api never stops the workers.
                const attempts = (yield* queue.failures(key)) + 1
                yield* queue.addRateLimited(key)
                if (error === undefined) {
                  yield* Effect.logError("pass crashed; retrying with backoff", { cause: Cause.pretty(cause!), attempts })
                } else if (error.reason === "unreachable") {
                  // Said once for all passes and watches (ServerOutage.ts); each pass at debug.
                  yield* outage.unanswered({ api: key }, error)
                  yield* Effect.logDebug("pass failed, the API server does not answer; retrying with backoff", { error: error.message, attempts })
                } else {
                  yield* outage.answered({ api: key })
                  // A lost race: its cache had not yet seen the Api's newest version; not worth a warning unless it keeps happening.
                  const quiet = error.reason === "lostRace" && attempts <= 3
                  yield* (quiet ? Effect.logDebug : Effect.logWarning)("pass failed; retrying with backoff", { error: error.message, attempts })
                }
                yield* recordPass("error", seconds)
                break
              }
            }
            yield* queue.done(key)
          }).pipe(Effect.annotateLogs({ api: key }))

        // A worker takes keys until the queue is shut down (its `take` fails with Done).
        const worker = Effect.forever(Effect.flatMap(queue.take, pass)).pipe(Effect.catch(() => Effect.void))
        const workers = yield* FiberSet.make()

        // The workers of one term of leadership; when it ends they are interrupted mid-pass, and
        // those keys are queued again, so they run when the workers start again (and a shutdown
        // does not wait for passes nobody runs).
        const work = Effect.gen(function*() {
          yield* cache.synced
          yield* Effect.logInfo("caches synced; starting workers", { workers: options.workers, apis: cache.apis().length })
          // Once now, for what a term without workers missed, then every period.
          yield* resyncAll
          yield* Effect.forkScoped(Effect.schedule(resyncAll, Schedule.spaced(options.resyncPeriod)))
          for (let i = 0; i < options.workers; i++) yield* FiberSet.run(workers, worker)
          yield* FiberSet.awaitEmpty(workers)
        }).pipe(
          Effect.scoped,
          Effect.onExit(() =>
            Effect.gen(function*() {
              yield* FiberSet.clear(workers)
              const abandoned = yield* queue.requeueInFlight
              if (abandoned > 0) yield* Effect.logInfo("passes cut off by the stop will run again", { keys: abandoned })
            })
          )
        )

        // Losing leadership stops the workers; wait to win it back (the cache stays warm). A
        // shutdown ends the queue, so the last term's workers end, and the loop with them.
        let stopping = false
        yield* Effect.forkScoped(
          election.runWhileLeader(work).pipe(
            Effect.catch((e) => Effect.logWarning("workers stopped; waiting to lead again", { reason: String(e) })),
            Effect.repeat({ until: () => stopping })
          )
        )

        // Graceful stop: no key is handed out any more, the passes in flight finish (within the
        // grace period), then the scope interrupts what is left.
        yield* Effect.addFinalizer(() =>
          Effect.gen(function*() {
            stopping = true
            const inFlight = yield* queue.inFlight
            yield* queue.shutdown
            if (inFlight > 0) yield* Effect.logInfo("stopping: waiting for in-flight passes", { inFlight })
            yield* FiberSet.awaitEmpty(workers).pipe(Effect.timeout(options.shutdownGrace), Effect.ignore)
          })
        )

        return Controller.of({ queue, resyncAll })
      })
    )
}
