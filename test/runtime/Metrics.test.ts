import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import * as Metrics from "../../src/runtime/Metrics.ts"
import { parseExposition, valueOf } from "./prometheus.ts"

const N = Metrics.MetricNames

/** Each test gets its own registry: the default one is shared by the whole process. */
const isolated = <A, E>(self: Effect.Effect<A, E>) => Effect.provideService(self, Metric.MetricRegistry, new Map())

const scrape = Effect.map(Metrics.metricsText, parseExposition)

describe("Metrics", () => {
  it.effect("every fixed series exists at zero after initMetrics", () =>
    isolated(Effect.gen(function*() {
      yield* Metrics.initMetrics
      const x = yield* scrape
      for (const result of ["done", "skipped", "requeue", "error"]) assert.strictEqual(valueOf(x, N.reconcileTotal, { result }), 0)
      assert.strictEqual(valueOf(x, N.reconcileErrorsTotal), 0)
      assert.strictEqual(valueOf(x, `${N.reconcileDurationSeconds}_count`), 0)
      assert.strictEqual(valueOf(x, N.workQueueDepth), 0)
      assert.strictEqual(valueOf(x, N.conflicts, { type: "hostname" }), 0)
      assert.strictEqual(valueOf(x, N.conflicts, { type: "service" }), 0)
      assert.strictEqual(valueOf(x, N.apis, { machine: "validation", state: "Pending" }), 0)
      assert.strictEqual(valueOf(x, N.apis, { machine: "virtualService", state: "HostnameOccupied" }), 0)
      assert.strictEqual(valueOf(x, N.apis, { machine: "authentication", state: "Created" }), 0)
      // types, so Prometheus treats them right
      assert.strictEqual(x.types.get(N.reconcileTotal), "counter")
      assert.strictEqual(x.types.get(N.reconcileDurationSeconds), "histogram")
      assert.strictEqual(x.types.get(N.workQueueDepth), "gauge")
      assert.strictEqual(x.types.get(N.apis), "gauge")
      assert.isTrue(x.samples.every((s) => s.name.startsWith("api_controller_")))
    })))

  it.effect("a scrape reports the process's memory: RSS and V8's areas, in bytes, the heap in use within its total", () =>
    isolated(Effect.gen(function*() {
      const x = yield* scrape
      const area = (a: string) => valueOf(x, N.memoryBytes, { area: a })!
      const rss = area("rss")
      // Within 10% of what the process says right after: a value in bytes, not KiB or MiB.
      assert.closeTo(rss, process.memoryUsage().rss, process.memoryUsage().rss * 0.1)
      assert.isAbove(area("heap_used"), 0)
      assert.isAtMost(area("heap_used"), area("heap_total"))
      assert.isAbove(area("young_generation"), 0)
      assert.isAtMost(area("young_generation"), area("heap_total"))
      assert.isAtLeast(area("external"), 0)
      assert.strictEqual(x.types.get(N.memoryBytes), "gauge")
      assert.deepStrictEqual(
        x.samples.filter((s) => s.name === N.memoryBytes).map((s) => s.labels["area"]).sort(),
        ["external", "heap_total", "heap_used", "rss", "young_generation"]
      )
    })))

  it.effect("recordPass counts by result, counts errors and observes seconds in second buckets", () =>
    isolated(Effect.gen(function*() {
      yield* Metrics.recordPass("done", 0.003)
      yield* Metrics.recordPass("done", 0.2)
      yield* Metrics.recordPass("requeue", 0.04)
      yield* Metrics.recordPass("error", 3)
      const x = yield* scrape
      assert.strictEqual(valueOf(x, N.reconcileTotal, { result: "done" }), 2)
      assert.strictEqual(valueOf(x, N.reconcileTotal, { result: "requeue" }), 1)
      assert.strictEqual(valueOf(x, N.reconcileTotal, { result: "error" }), 1)
      assert.strictEqual(valueOf(x, N.reconcileErrorsTotal), 1)
      const bucket = (le: string) => valueOf(x, `${N.reconcileDurationSeconds}_bucket`, { le })
      assert.strictEqual(bucket("0.005"), 1)
      assert.strictEqual(bucket("0.05"), 2)
      assert.strictEqual(bucket("0.25"), 3)
      assert.strictEqual(bucket("2.5"), 3)
      assert.strictEqual(bucket("5"), 4)
      assert.strictEqual(bucket("60"), 4)
      assert.strictEqual(bucket("+Inf"), 4)
      assert.strictEqual(valueOf(x, `${N.reconcileDurationSeconds}_count`), 4)
      assert.closeTo(valueOf(x, `${N.reconcileDurationSeconds}_sum`)!, 3.243, 1e-9)
      // the bucket bounds are the seconds ones, not milliseconds
      const les = x.samples.filter((s) => s.name === `${N.reconcileDurationSeconds}_bucket`).map((s) => s.labels["le"])
      assert.deepStrictEqual(les, [...Metrics.DURATION_BUCKETS_SECONDS.map(String), "+Inf"])
    })))

  it.effect("queue depth and conflicts are gauges: the last value wins", () =>
    isolated(Effect.gen(function*() {
      yield* Metrics.setQueueDepth(7)
      yield* Metrics.setQueueDepth(2)
      yield* Metrics.recordConflicts({ hostname: 3, service: 1 })
      yield* Metrics.recordConflicts({ hostname: 1, service: 0 })
      const x = yield* scrape
      assert.strictEqual(valueOf(x, N.workQueueDepth), 2)
      assert.strictEqual(valueOf(x, N.conflicts, { type: "hostname" }), 1)
      assert.strictEqual(valueOf(x, N.conflicts, { type: "service" }), 0)
    })))

  it.effect("recordStates sets every state of every machine, and a state that empties drops to 0", () =>
    isolated(Effect.gen(function*() {
      yield* Metrics.recordStates(Metrics.countStates([
        { validation: "Valid", virtualService: "Created", authentication: "Created" },
        { validation: "Valid", virtualService: "HostnameOccupied", authentication: "NotCreated" },
        { validation: "Invalid", virtualService: "NotCreated", authentication: "NotCreated" }
      ]))
      let x = yield* scrape
      const apis = (machine: string, state: string) => valueOf(x, N.apis, { machine, state })
      assert.strictEqual(apis("validation", "Valid"), 2)
      assert.strictEqual(apis("validation", "Invalid"), 1)
      assert.strictEqual(apis("validation", "Pending"), 0)
      assert.strictEqual(apis("validation", "TargetServiceOccupied"), 0)
      assert.strictEqual(apis("virtualService", "Created"), 1)
      assert.strictEqual(apis("virtualService", "HostnameOccupied"), 1)
      assert.strictEqual(apis("virtualService", "NotCreated"), 1)
      assert.strictEqual(apis("virtualService", "Error"), 0)
      assert.strictEqual(apis("authentication", "NotCreated"), 2)
      assert.strictEqual(apis("authentication", "Created"), 1)
      assert.strictEqual(apis("authentication", "Disabled"), 0)
      assert.strictEqual(apis("virtualService", "Applying"), undefined, "a state within a pass is never counted")
      // one series per machine state, no more
      const series = x.samples.filter((s) => s.name === N.apis)
      const expected = Object.values(Metrics.MACHINE_STATES).reduce((n, states) => n + states.length, 0)
      assert.strictEqual(series.length, expected)

      // the hostname conflict is resolved: HostnameOccupied empties and must read 0, not 1
      yield* Metrics.recordStates({ validation: { Valid: 2, Invalid: 1 }, virtualService: { Created: 2, NotCreated: 1 }, authentication: { Created: 2, NotCreated: 1 } })
      x = yield* scrape
      assert.strictEqual(apis("virtualService", "HostnameOccupied"), 0)
      assert.strictEqual(apis("virtualService", "Created"), 2)
    })))

  it.effect("Kubernetes API requests are counted by verb, resource and outcome", () =>
    isolated(Effect.gen(function*() {
      yield* Metrics.recordKubeRequest("get", "apis", 200)
      yield* Metrics.recordKubeRequest("get", "apis", 200)
      yield* Metrics.recordKubeRequest("patch", "virtualservices", 409)
      yield* Metrics.recordKubeRequest("list", "policies", "network")
      const x = yield* scrape
      assert.strictEqual(x.types.get(N.kubeRequestsTotal), "counter")
      assert.strictEqual(valueOf(x, N.kubeRequestsTotal, { verb: "get", resource: "apis", outcome: "200" }), 2)
      assert.strictEqual(valueOf(x, N.kubeRequestsTotal, { verb: "patch", resource: "virtualservices", outcome: "409" }), 1)
      assert.strictEqual(valueOf(x, N.kubeRequestsTotal, { verb: "list", resource: "policies", outcome: "network" }), 1)
    })))

  it.effect("the text is valid exposition: HELP and TYPE once per family, before its samples", () =>
    isolated(Effect.gen(function*() {
      yield* Metrics.initMetrics
      yield* Metrics.recordKubeRequest("get", "apis", 200)
      yield* Metrics.recordBackend("istio-security", "v1")
      const text = yield* Metrics.metricsText
      const lines = text.split("\n").filter((l) => l !== "")
      const typed = new Set<string>()
      for (const line of lines) {
        if (line.startsWith("# TYPE ")) {
          const name = line.split(" ")[2]!
          assert.isFalse(typed.has(name), `TYPE twice for ${name}`)
          typed.add(name)
        } else if (!line.startsWith("#")) {
          const name = line.split(/[{ ]/)[0]!
          const family = name.replace(/_(bucket|sum|count)$/, "")
          assert.isTrue(typed.has(name) || typed.has(family), `sample before its TYPE: ${line}`)
        }
      }
      assert.strictEqual(typed.size, Object.keys(N).length)
    })))

  it.effect("label sets are bounded: odd verbs, resources, outcomes and states end up as \"other\"", () =>
    isolated(Effect.gen(function*() {
      for (let i = 0; i < 1_000; i++) {
        yield* Metrics.recordKubeRequest(`verb-${i}`, `resource-${i}.example.io`, `reason <${i}>`)
      }
      yield* Metrics.recordStates({
        validation: { Valid: 1, ...Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`Hand-edited-${i}`, 1])) },
        virtualService: {},
        authentication: {}
      } as never)
      const x = yield* scrape
      const requests = x.samples.filter((s) => s.name === N.kubeRequestsTotal)
      // The first few unknown resources are kept (a backend's kinds), the rest are "other".
      assert.isAtMost(requests.length, 11, `series: ${requests.length}`)
      assert.isTrue(requests.every((s) => s.labels["verb"] === "other" && s.labels["outcome"] === "other"))
      assert.strictEqual(valueOf(x, N.kubeRequestsTotal, { verb: "other", resource: "other", outcome: "other" }), 990)
      const states = x.samples.filter((s) => s.name === N.apis && s.labels["machine"] === "validation")
      assert.strictEqual(states.length, Metrics.MACHINE_STATES.validation.length + 1)
      assert.strictEqual(valueOf(x, N.apis, { machine: "validation", state: "other" }), 100)
    })))
})
