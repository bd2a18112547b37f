/**
 * The controller loop's own series: its passes and its work queue. They are recorded where a pass
 * ends (Controller.ts), as controller-runtime's reconcile handler does; src/runtime/Metrics.ts
 * lists their names with every other series and zeroes them at start.
 */
import { Effect, Metric } from "effect"

export const PassMetricNames = {
  reconcileTotal: "api_controller_reconcile_total",
  reconcileErrorsTotal: "api_controller_reconcile_errors_total",
  reconcileDurationSeconds: "api_controller_reconcile_duration_seconds",
  workQueueDepth: "api_controller_workqueue_depth"
} as const

/**
 * The `result` label of a pass: done; skipped (the world was as the pass's last one left it, so it
 * only looked); error (it failed, whether it is retried or not); requeue (it asked to come back
 * later: no pass does today, the series stays for the dashboards that sum by result).
 */
export type ResultLabel = "done" | "skipped" | "requeue" | "error"
export const RESULT_LABELS: ReadonlyArray<ResultLabel> = ["done", "skipped", "requeue", "error"]

/**
 * Upper bounds of the duration buckets, in seconds: a pass that only reads from the caches takes
 * milliseconds, one that writes children takes a few API round trips, a slow API server seconds.
 */
export const DURATION_BUCKETS_SECONDS: ReadonlyArray<number> = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
]

const reconcileTotal = Metric.counter(PassMetricNames.reconcileTotal, {
  description: "Reconcile passes, by how they ended (done, skipped, requeue, error).",
  incremental: true
})
// One series per label value, made once: `withAttributes` makes a new metric on every call.
const reconcileTotalOf = Object.fromEntries(
  RESULT_LABELS.map((result) => [result, Metric.withAttributes(reconcileTotal, { result })])
) as Record<ResultLabel, Metric.Metric<number, unknown>>
const reconcileErrorsTotal = Metric.counter(PassMetricNames.reconcileErrorsTotal, {
  description: "Reconcile passes that failed.",
  incremental: true
})
const reconcileDuration = Metric.histogram(PassMetricNames.reconcileDurationSeconds, {
  description: "Duration of one reconcile pass, in seconds.",
  boundaries: DURATION_BUCKETS_SECONDS
})
const workQueueDepth = Metric.gauge(PassMetricNames.workQueueDepth, {
  description: "Keys waiting in the work queue (not counting those being reconciled)."
})

/** Counts one pass and observes its duration. `seconds` is wall time in SECONDS. */
export const recordPass = (result: ResultLabel, seconds: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    yield* Metric.update(reconcileTotalOf[result], 1)
    if (result === "error") yield* Metric.update(reconcileErrorsTotal, 1)
    yield* Metric.update(reconcileDuration, Math.max(0, seconds))
  })

export const setQueueDepth = (n: number): Effect.Effect<void> => Metric.update(workQueueDepth, n)

/** Every series at zero, so a scrape right after start shows them all. */
export const initPassMetrics: Effect.Effect<void> = Effect.gen(function*() {
  for (const result of RESULT_LABELS) yield* Metric.update(reconcileTotalOf[result], 0)
  yield* Metric.update(reconcileErrorsTotal, 0)
  yield* Metric.value(reconcileDuration)
  yield* setQueueDepth(0)
})
