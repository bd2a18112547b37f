/**
 * Readiness: the controller is ready when it can work, that is when its caches have synced AND
 * the API server answers. The rule, in one place:
 *
 *   ready  <=>  caches synced  and  not (every request for the last `unreachableAfter` failed)
 *
 * "Failed" means no usable answer: no connection, a timeout, or a 5xx/429 (kube-apiserver answers
 * 500/504 when etcd does not). Any other answer - success, NotFound, Conflict, even Forbidden -
 * shows the server is there. Every request the controller makes counts (passes, relists, lease
 * renewals); when it has made none for `probeEvery` (a quiet controller with converged Apis), a
 * probe asks: one list of Apis in a namespace, bounded by `probeTimeout`. A list needs etcd (a
 * consistent read), so a paused or lost etcd makes it fail like everything else would.
 *
 * The probe goes to the API below the request metrics, so it does not show up in the controller's
 * request counts (a resync of converged Apis still makes no request); it only feeds this rule.
 */
import { Clock, Context, Duration, Effect, Fiber, Layer, Schedule } from "effect"
import { Kinds } from "../domain/Kube.ts"
import { KubeApi, UNANSWERED_REASONS } from "../k8s/KubeApi.ts"

export interface ReachabilityOptions {
  /** Not ready once every request has failed for this long. Default 5 s. */
  readonly unreachableAfter?: Duration.Input
  /** Probe when no request has ended for this long. Default 2 s. */
  readonly probeEvery?: Duration.Input
  /** A probe without an answer after this long counts as failed. Default 2 s. */
  readonly probeTimeout?: Duration.Input
  /** The namespace the probe lists Apis in (the controller's own: usually none there). */
  readonly probeNamespace?: string
}

/** Whether a request outcome ("ok", a failure reason, or a probe's "timeout") shows the server answering. */
export const isAnswer = (outcome: string): boolean => outcome !== "timeout" && !UNANSWERED_REASONS.has(outcome)

/** Pure bookkeeping of request outcomes; time in milliseconds of the caller's clock. */
export class ReachabilityState {
  private lastAnswer: number | undefined
  private lastOutcome: number | undefined
  /** The first failure after the last answer; undefined while the last outcome was an answer. */
  private failingSince: number | undefined

  constructor(readonly unreachableAfterMs: number) {}

  record(outcome: string, now: number): void {
    this.lastOutcome = now
    if (isAnswer(outcome)) {
      this.lastAnswer = now
      this.failingSince = undefined
    } else this.failingSince ??= now
  }

  /** Milliseconds since any request ended (Infinity before the first). */
  quietFor(now: number): number {
    return this.lastOutcome === undefined ? Infinity : now - this.lastOutcome
  }

  /** Undefined when reachable, else why not (for the /readyz body). */
  problem(now: number): string | undefined {
    if (this.failingSince === undefined) return undefined
    const failing = now - this.failingSince
    if (failing < this.unreachableAfterMs) return undefined
    const since = this.lastAnswer === undefined ? "since start" : `for ${(failing / 1000).toFixed(1)}s`
    return `the API server has not answered ${since} (every request failed or timed out)`
  }
}

export class Reachability extends Context.Service<Reachability, {
  /** Tell about one finished request: "ok" or the failure's reason. */
  readonly record: (outcome: string) => Effect.Effect<void>
  /** Undefined when the API server answers, else why not. */
  readonly problem: Effect.Effect<string | undefined>
}>()("api-controller/runtime/Reachability") {
  /**
   * Tracks outcomes and probes when quiet. Needs the `KubeApi` to probe with: give it the one
   * below the metrics wrapper.
   */
  static readonly layer = (options: ReachabilityOptions = {}): Layer.Layer<Reachability, never, KubeApi> =>
    Layer.effect(
      Reachability,
      Effect.gen(function*() {
        const kube = yield* KubeApi
        const ms = (d: Duration.Input | undefined, fallback: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(d ?? fallback))
        const state = new ReachabilityState(ms(options.unreachableAfter, "5 seconds"))
        const probeEvery = ms(options.probeEvery, "2 seconds")
        const probeTimeout = Duration.millis(ms(options.probeTimeout, "2 seconds"))
        const namespace = options.probeNamespace ?? "default"

        const record = (outcome: string) => Effect.map(Clock.currentTimeMillis, (now) => state.record(outcome, now))

        // One probe at a time: a request the server does not answer is not abandoned and sent
        // again every probeEvery (requests would pile up on a dead connection); it counts as a
        // timeout after probeTimeout, and its answer, when it comes, is recorded like any other.
        let probing = false
        const scope = yield* Effect.scope
        const probe = Effect.gen(function*() {
          if (probing) return yield* record("timeout")
          probing = true
          const request = yield* kube.list(Kinds.Api, { namespace }).pipe(
            Effect.result,
            Effect.flatMap((r) => record(r._tag === "Failure" ? r.failure.reason : "ok")),
            Effect.ensuring(Effect.sync(() => void (probing = false))),
            Effect.forkIn(scope)
          )
          const answered = yield* Fiber.await(request).pipe(Effect.timeoutOption(probeTimeout))
          if (answered._tag === "None") yield* record("timeout")
        })
        yield* Effect.forkScoped(
          Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            if (state.quietFor(now) >= probeEvery) yield* probe
          }).pipe(Effect.repeat(Schedule.spaced(Duration.millis(probeEvery))))
        )

        return Reachability.of({
          record,
          problem: Effect.map(Clock.currentTimeMillis, (now) => state.problem(now))
        })
      })
    )
}
