/**
 * The controller's metrics, as Effect `Metric`s rendered in the Prometheus text format.
 *
 * Every series is named `api_controller_*`, and every name is listed here. The controller loop's
 * own series (passes, the work queue) are defined beside it, in src/controller/PassMetrics.ts; the
 * others are recorded through the small helpers below (`recordStates`, `recordKubeRequest`, ...),
 * so their labels and units are decided in this one file.
 *
 * Metrics live in the `Metric.MetricRegistry` of the running fiber's context. By default that is
 * one process-wide registry; tests provide a fresh `new Map()` for isolation, and the health
 * server renders whatever registry its layer was built with.
 */
import { totalmem } from "node:os"
import { getHeapSpaceStatistics } from "node:v8"
import { Effect, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { failureReasons, MACHINE_NAMES, type MachineName, storedStates } from "../../machines/Catalog.ts"
import {
  DURATION_BUCKETS_SECONDS,
  initPassMetrics,
  PassMetricNames,
  RESULT_LABELS,
  recordPass,
  type ResultLabel,
  setQueueDepth
} from "../controller/PassMetrics.ts"
import { Kinds } from "../domain/Kube.ts"
import { KubeApiErrorReason, REQUEST_VERBS } from "../k8s/KubeApi.ts"
import { Reason } from "../lifecycle/StatusProjection.ts"

/** The pass series' helpers, for tests that record them by hand. */
export { DURATION_BUCKETS_SECONDS, RESULT_LABELS, recordPass, type ResultLabel, setQueueDepth }

/** The Prometheus names, for dashboards, alerts and tests. */
export const MetricNames = {
  ...PassMetricNames,
  apis: "api_controller_apis",
  conflicts: "api_controller_conflicts",
  kubeRequestsTotal: "api_controller_kube_requests_total",
  authBackend: "api_controller_auth_backend_info",
  memoryBytes: "api_controller_memory_bytes"
} as const

const apis = Metric.gauge(MetricNames.apis, {
  description: "Apis per lifecycle machine and state."
})
const conflicts = Metric.gauge(MetricNames.conflicts, {
  description: "Apis blocked by a conflict, by type (hostname, service)."
})
const authBackend = Metric.gauge(MetricNames.authBackend, {
  description: "1 for the authentication backend and VirtualService version the controller writes (SPEC 10)."
})
const memoryBytes = Metric.gauge(MetricNames.memoryBytes, {
  description: "The process's memory at scrape time, by area: rss, and V8's heap_total, heap_used, young_generation (the new space), external."
})
const kubeRequestsTotal = Metric.counter(MetricNames.kubeRequestsTotal, {
  description: "Requests to the Kubernetes API, by verb, resource and outcome (HTTP code or error reason).",
  incremental: true
})

/**
 * One labelled series of `metric` per label set, made once. `Metric.withAttributes` builds a new
 * metric on every call, and each new one serialises its labels into a series key on its first
 * update: per request and per pass, that was most of the metrics' CPU in the profile.
 */
const labelled = <I, S>(metric: Metric.Metric<I, S>) => {
  const series = new Map<string, Metric.Metric<I, S>>()
  return (attributes: Readonly<Record<string, string>>): Metric.Metric<I, S> => {
    let key = ""
    for (const name in attributes) key += `${name}=${attributes[name]}\u0000`
    let m = series.get(key)
    if (m === undefined) {
      m = Metric.withAttributes(metric, attributes)
      series.set(key, m)
    }
    return m
  }
}

const apisOf = labelled(apis)
const conflictsOf = labelled(conflicts)
const kubeRequestsTotalOf = labelled(kubeRequestsTotal)
const memoryBytesOf = labelled(memoryBytes)

// ---------------------------------------------------------------------------------------------
// Apis per state

/** Every state a status can hold, of each machine (machines/Catalog.ts). */
export const MACHINE_STATES = Object.fromEntries(MACHINE_NAMES.map((m) => [m, storedStates(m)])) as {
  readonly [M in MachineName]: ReadonlyArray<string>
}

/** How many Apis are in each state; a state left out counts 0. */
export type StateCounts = { readonly [M in MachineName]: Readonly<Partial<Record<string, number>>> }

/** No Api in any state. */
const noCounts = (): { [M in MachineName]: Partial<Record<string, number>> } =>
  Object.fromEntries(MACHINE_NAMES.map((m) => [m, {}])) as { [M in MachineName]: Partial<Record<string, number>> }

// ---------------------------------------------------------------------------------------------
// bounded label values: a series per label value, so every value must come from a small set

/** The label value for anything outside a label's set. */
export const OTHER = "other"

/**
 * A label whose values are those of `known`, plus at most `spare` others first seen (for values
 * the code cannot list, such as the resources of an authentication backend); anything else is
 * `other`. However odd the input, the label never has more than |known| + spare + 1 values.
 */
export const boundedLabel = (known: Iterable<string>, spare = 0) => {
  const allowed = new Set(known)
  let extra = 0
  return (value: string): string => {
    if (allowed.has(value)) return value
    if (extra < spare && /^[a-z0-9][a-z0-9.-]{0,62}$/.test(value)) {
      extra++
      allowed.add(value)
      return value
    }
    return OTHER
  }
}

/** Outcomes: "ok", a failure reason of KubeApiError, or the words and HTTP codes callers use. */
const REQUEST_OUTCOMES = [
  "ok",
  ...KubeApiErrorReason.literals,
  "network",
  "timeout",
  ...Array.from({ length: 500 }, (_, i) => String(100 + i))
]
const verbLabel = boundedLabel(REQUEST_VERBS)
const outcomeLabel = boundedLabel(REQUEST_OUTCOMES)
/** The resources the controller talks to are a handful; room for a backend's few more. */
// Every kind the controller talks to (both backends' children, Services, Events, Leases).
const resourceLabel = boundedLabel(new Set(Object.values(Kinds).map((k) => k.plural)), 10)

/** Counts the Apis per machine state from snapshots, e.g. the status codes in the Api cache. */
export const countStates = (snapshots: Iterable<{ readonly [M in MachineName]: string }>): StateCounts => {
  const counts = noCounts()
  for (const s of snapshots) {
    for (const m of MACHINE_NAMES) counts[m][s[m]] = (counts[m][s[m]] ?? 0) + 1
  }
  return counts
}

/** Exports which authentication backend and VirtualService version are in use. */
export const recordBackend = (backend: string, virtualServiceVersion: string): Effect.Effect<void> =>
  Metric.update(Metric.withAttributes(authBackend, { backend, virtual_service_version: virtualServiceVersion }), 1)

/**
 * Sets the Apis-per-state gauge from a full snapshot of counts. Every known state of every
 * machine is set, to 0 when absent, so a state that empties drops to 0 instead of keeping its
 * last value.
 */
export const recordStates = (counts: StateCounts): Effect.Effect<void> =>
  Effect.forEach(
    MACHINE_NAMES.flatMap((machine) => {
      // Only the machine's own states are series: a count under any other name (a status edited
      // by hand is read as the machine's fallback state anyway) goes to "other".
      const given: Readonly<Record<string, number | undefined>> = counts[machine]
      const known = new Set(MACHINE_STATES[machine])
      const other = Object.entries(given).filter(([state]) => !known.has(state)).reduce((n, [, v]) => n + (v ?? 0), 0)
      return [
        ...MACHINE_STATES[machine].map((state) => [machine, state, given[state] ?? 0] as const),
        ...(other > 0 ? [[machine, OTHER, other] as const] : [])
      ]
    }),
    ([machine, state, n]) => Metric.update(apisOf({ machine, state }), n),
    { discard: true }
  )

// ---------------------------------------------------------------------------------------------
// conflicts

/** Sets how many Apis are currently blocked by a hostname and by a service conflict. */
export const recordConflicts = (c: { readonly hostname: number; readonly service: number }): Effect.Effect<void> =>
  Effect.andThen(
    Metric.update(conflictsOf({ type: "hostname" }), c.hostname),
    Metric.update(conflictsOf({ type: "service" }), c.service)
  )

// ---------------------------------------------------------------------------------------------
// Kubernetes API requests

/**
 * Counts one request to the Kubernetes API. `verb` e.g. `get`, `list`, `watch`, `patch`;
 * `resource` the plural (`apis`, `virtualservices`, `leases`, ...); `outcome` the HTTP code, or a
 * reason when there is none (e.g. `network`, `timeout`).
 */
export const recordKubeRequest = (verb: string, resource: string, outcome: number | string): Effect.Effect<void> =>
  Metric.update(
    kubeRequestsTotalOf({
      verb: verbLabel(verb),
      resource: resourceLabel(resource),
      outcome: outcomeLabel(String(outcome))
    }),
    1
  )

// ---------------------------------------------------------------------------------------------
// exposition

/**
 * Registers every fixed series at zero, so a scrape right after start shows them all (an error
 * counter that is absent until the first error makes alerts and rates awkward).
 */
export const initMetrics: Effect.Effect<void> = Effect.gen(function*() {
  yield* initPassMetrics
  yield* recordStates(noCounts())
  yield* recordConflicts({ hostname: 0, service: 0 })
})

/** The content type of the Prometheus text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

/**
 * The process's memory, read when scraped: RSS is what the container's limit counts; the V8 areas
 * say whether a rise is live heap, garbage in a young generation grown under load, or off-heap.
 */
const recordMemory: Effect.Effect<void> = Effect.suspend(() => {
  const m = process.memoryUsage()
  const young = getHeapSpaceStatistics().find((space) => space.space_name === "new_space")?.space_size ?? 0
  const areas: ReadonlyArray<readonly [string, number]> = [
    ["rss", m.rss],
    ["heap_total", m.heapTotal],
    ["heap_used", m.heapUsed],
    ["young_generation", young],
    ["external", m.external]
  ]
  return Effect.forEach(areas, ([area, bytes]) => Metric.update(memoryBytesOf({ area }), bytes), { discard: true })
})

/** Every metric of the current registry in the Prometheus text exposition format. */
export const metricsText: Effect.Effect<string> = Effect.andThen(recordMemory, PrometheusMetrics.format())

// ---------------------------------------------------------------------------------------------
// series for alerting (deploy/monitoring/): each answers a question the alerts ask that the
// series above cannot (is any replica leading, is this one ready, how close is it to its memory
// limit, is each Api Ready and why not). Self-contained: names, metrics and helpers all here.

export const MonitoringMetricNames = {
  apisReadyCondition: "api_controller_apis_ready_condition",
  leader: "api_controller_leader",
  ready: "api_controller_ready",
  memoryLimitBytes: "api_controller_memory_limit_bytes",
  cpuSecondsTotal: "api_controller_cpu_seconds_total"
} as const

const apisReadyCondition = Metric.gauge(MonitoringMetricNames.apisReadyCondition, {
  description: "Apis by their Ready condition: status (True, False, Unknown) and reason (Ready, Pending, InProgress, or a failed state's reason)."
})
const leader = Metric.gauge(MonitoringMetricNames.leader, {
  description: "1 while this replica holds the leader Lease (or runs without leader election), else 0."
})
const ready = Metric.gauge(MonitoringMetricNames.ready, {
  description: "1 when this replica's /readyz would answer 200 (caches synced, API server answering), else 0; read at scrape time."
})
const memoryLimitBytes = Metric.gauge(MonitoringMetricNames.memoryLimitBytes, {
  description: "The memory limit the process runs under (its cgroup's, e.g. the container's limit), in bytes; 0 when there is none."
})
const cpuSecondsTotal = Metric.counter(MonitoringMetricNames.cpuSecondsTotal, {
  description: "CPU time the process has used, user and system, in seconds.",
  incremental: true
})
const apisReadyConditionOf = labelled(apisReadyCondition)

/** The Ready condition's status for each reason it can have (src/lifecycle/StatusProjection.ts). */
const READY_REASONS: ReadonlyArray<readonly [status: string, reason: string]> = [
  ["True", Reason.Ready],
  ["Unknown", Reason.Pending],
  ["False", Reason.InProgress],
  ...[...new Set(failureReasons.map((f) => f.reason))].map((reason) => ["False", reason] as const)
]

/**
 * Sets the Apis-per-Ready-condition gauge from the conditions of every cached Api. Every known
 * (status, reason) pair is set, to 0 when absent; anything else counts under reason `other`.
 */
export const recordReadyConditions = (
  conditions: Iterable<{ readonly status: string; readonly reason: string }>
): Effect.Effect<void> =>
  Effect.suspend(() => {
    const counts = new Map<string, number>(READY_REASONS.map(([s, r]) => [`${s}/${r}`, 0]))
    const other = new Map<string, number>()
    for (const c of conditions) {
      const key = `${c.status}/${c.reason}`
      if (counts.has(key)) counts.set(key, counts.get(key)! + 1)
      else {
        const status = ["True", "False", "Unknown"].includes(c.status) ? c.status : "Unknown"
        other.set(status, (other.get(status) ?? 0) + 1)
      }
    }
    const series: Array<readonly [string, string, number]> = READY_REASONS.map(([s, r]) => [s, r, counts.get(`${s}/${r}`)!])
    for (const [status, n] of other) series.push([status, OTHER, n])
    return Effect.forEach(
      series,
      ([status, reason, n]) => Metric.update(apisReadyConditionOf({ status, reason }), n),
      { discard: true }
    )
  })

/** Whether this replica leads (LeaderElection's `changes`). */
export const recordLeader = (isLeader: boolean): Effect.Effect<void> => Metric.update(leader, isLeader ? 1 : 0)

/** Whether this replica is ready, as its /readyz says. */
export const recordReady = (isReady: boolean): Effect.Effect<void> => Metric.update(ready, isReady ? 1 : 0)

/**
 * The process's memory limit, and its CPU time since the last scrape, read when scraped.
 * `process.constrainedMemory()` reads the cgroup's limit; without one it answers 0 or a number
 * at least the machine's memory (2^64 on Node 22), which constrains nothing: that is exported as 0.
 */
let cpuMicrosSeen = 0
export const recordProcess: Effect.Effect<void> = Effect.suspend(() => {
  const limit = process.constrainedMemory()
  const cpu = process.cpuUsage()
  const micros = cpu.user + cpu.system
  const delta = Math.max(0, micros - cpuMicrosSeen)
  cpuMicrosSeen = Math.max(cpuMicrosSeen, micros)
  return Effect.andThen(
    Metric.update(memoryLimitBytes, limit > 0 && limit < totalmem() ? limit : 0),
    Metric.update(cpuSecondsTotal, delta / 1e6)
  )
})

/** `metricsText` with the series read at scrape time (memory limit, CPU) brought up to date first. */
export const monitoringMetricsText: Effect.Effect<string> = Effect.andThen(recordProcess, metricsText)
