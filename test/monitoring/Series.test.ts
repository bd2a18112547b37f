/**
 * The series the alerts need that the controller did not export before (src/runtime/Metrics.ts,
 * "series for alerting"): Apis by Ready condition, leadership, readiness at scrape time, the
 * memory limit and CPU time. Each is read from a running app's /metrics, on the in-memory cluster.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Metric } from "effect"
import { totalmem } from "node:os"
import { Kinds } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { appWith } from "../../src/runtime/App.ts"
import { HealthServer } from "../../src/runtime/HealthServer.ts"
import * as Logging from "../../src/runtime/Logging.ts"
import * as Metrics from "../../src/runtime/Metrics.ts"
import { failureReasons } from "../../machines/Catalog.ts"
import { apiObject, testConfig } from "../support/Fixtures.ts"
import { MemoryCluster } from "../support/MemoryCluster.ts"
import { parseExposition, valueOf } from "../runtime/prometheus.ts"

const N = Metrics.MonitoringMetricNames
/** For the tests that run an app in real time: a stop for a hang, not a bound on how fast it is. */
const LIVE_TIMEOUT = 60_000

const isolated = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.provideService(self, Metric.MetricRegistry, new Map())

const fetchText = (url: string) =>
  Effect.promise(() => fetch(url).then(async (r) => ({ status: r.status, body: await r.text() })))

/** An app with a health server on the in-memory cluster; its /metrics, parsed. */
const runningApp = (
  options: { readonly leaderElection?: boolean; readonly before?: (kube: KubeApi["Service"]) => Effect.Effect<unknown, unknown> } = {}
) =>
  Effect.gen(function*() {
    const memory = yield* Layer.build(MemoryCluster.layer())
    const cluster = Context.get(memory, MemoryCluster)
    const kube = Context.get(memory, KubeApi)
    if (options.before !== undefined) yield* Effect.orDie(options.before(kube))
    const app = yield* Layer.build(
      appWith(Layer.succeed(KubeApi, kube), {
        config: testConfig,
        controller: { workers: 1, resyncPeriod: Duration.hours(1), shutdownGrace: Duration.zero },
        gaugePeriod: Duration.millis(20),
        health: {
          host: "127.0.0.1",
          port: 0,
          reachability: { unreachableAfter: "300 millis", probeEvery: "50 millis", probeTimeout: "50 millis" }
        },
        ...(options.leaderElection === true
          ? {
            leaderElection: {
              namespace: "kube-system",
              name: "api-controller",
              identity: "me",
              leaseDuration: "600 millis",
              renewDeadline: "400 millis",
              retryPeriod: "50 millis"
            }
          }
          : {})
      }).pipe(Layer.provide(Logging.layer({ format: "pretty", level: "Error" })))
    )
    const { url } = Context.get(app, HealthServer)
    const scrape = Effect.map(fetchText(`${url}/metrics`), (r) => parseExposition(r.body))
    /** Scrapes until `ok` holds; fails after 600 tries, 25 ms apart (a hang, not a slow machine). */
    const until = (what: string, ok: (x: ReturnType<typeof parseExposition>) => boolean) =>
      Effect.gen(function*() {
        for (let i = 0; i < 600; i++) {
          const x = yield* scrape
          if (ok(x)) return x
          yield* Effect.sleep("25 millis")
        }
        return assert.fail(`/metrics never showed ${what}`)
      })
    return { cluster, kube, scrape, until }
  })

describe("Apis by Ready condition", () => {
  it.effect("every known status and reason is a series, at 0 when no Api has it; anything else counts as other", () =>
    isolated(Effect.gen(function*() {
      yield* Metrics.recordReadyConditions([
        { status: "True", reason: "Ready" },
        { status: "True", reason: "Ready" },
        { status: "False", reason: "HostnameOccupied" },
        { status: "False", reason: "SomethingNew" }
      ])
      const x = parseExposition(yield* Metrics.metricsText)
      assert.strictEqual(valueOf(x, N.apisReadyCondition, { status: "True", reason: "Ready" }), 2)
      assert.strictEqual(valueOf(x, N.apisReadyCondition, { status: "False", reason: "HostnameOccupied" }), 1)
      assert.strictEqual(valueOf(x, N.apisReadyCondition, { status: "False", reason: "other" }), 1)
      assert.strictEqual(valueOf(x, N.apisReadyCondition, { status: "Unknown", reason: "Pending" }), 0)
      assert.strictEqual(valueOf(x, N.apisReadyCondition, { status: "False", reason: "InProgress" }), 0)
      for (const { reason } of failureReasons) assert.isDefined(valueOf(x, N.apisReadyCondition, { status: "False", reason }), reason)
      assert.strictEqual(x.types.get(N.apisReadyCondition), "gauge")

      // A later snapshot replaces the earlier one: a reason that empties drops to 0.
      yield* Metrics.recordReadyConditions([{ status: "True", reason: "Ready" }])
      const y = parseExposition(yield* Metrics.metricsText)
      assert.strictEqual(valueOf(y, N.apisReadyCondition, { status: "False", reason: "HostnameOccupied" }), 0)
      assert.strictEqual(valueOf(y, N.apisReadyCondition, { status: "True", reason: "Ready" }), 1)
    })))

  it.live("the running app counts its Apis by their Ready condition: a hostname conflict shows, and goes when it is resolved", () =>
    isolated(Effect.gen(function*() {
      const app = yield* runningApp()
      const ns = "shop"
      yield* app.kube.create(Kinds.Service, { apiVersion: "v1", kind: "Service", metadata: { name: "orders", namespace: ns }, spec: { ports: [{ port: 80 }] } })
      yield* app.kube.create(Kinds.Service, { apiVersion: "v1", kind: "Service", metadata: { name: "carts", namespace: ns }, spec: { ports: [{ port: 80 }] } })
      yield* app.kube.create(Kinds.Api, apiObject(ns, "orders", { service: { name: "orders", port: 80 }, hostname: "shop" }))
      yield* app.until("the first Api Ready", (x) => valueOf(x, N.apisReadyCondition, { status: "True", reason: "Ready" }) === 1)
      yield* app.kube.create(Kinds.Api, apiObject(ns, "carts", { service: { name: "carts", port: 80 }, hostname: "shop" }))
      yield* app.until("the second Api blocked by the first's hostname", (x) =>
        valueOf(x, N.apisReadyCondition, { status: "False", reason: "HostnameOccupied" }) === 1 &&
        valueOf(x, N.apisReadyCondition, { status: "True", reason: "Ready" }) === 1)
      yield* app.kube.patch(Kinds.Api, ns, "carts", { spec: { hostname: "carts" } })
      yield* app.until("both Apis Ready", (x) =>
        valueOf(x, N.apisReadyCondition, { status: "False", reason: "HostnameOccupied" }) === 0 &&
        valueOf(x, N.apisReadyCondition, { status: "True", reason: "Ready" }) === 2)
    }).pipe(Effect.scoped)), LIVE_TIMEOUT)
})

describe("readiness at scrape time", () => {
  it.live("api_controller_ready is 1 while /readyz is 200, 0 while the API server does not answer, and 1 again", () =>
    isolated(Effect.gen(function*() {
      const app = yield* runningApp()
      yield* app.until("ready 1", (x) => valueOf(x, N.ready) === 1)
      yield* app.cluster.injectFault({ reason: "Transport", times: 1_000_000 })
      yield* app.until("ready 0", (x) => valueOf(x, N.ready) === 0)
      yield* app.cluster.clearFaults
      const x = yield* app.until("ready 1 again", (x) => valueOf(x, N.ready) === 1)
      assert.strictEqual(x.types.get(N.ready), "gauge")
    }).pipe(Effect.scoped)), LIVE_TIMEOUT)
})

describe("leadership", () => {
  it.live("without leader election the replica always leads: api_controller_leader is 1", () =>
    isolated(Effect.gen(function*() {
      const app = yield* runningApp()
      yield* app.until("leader 1", (x) => valueOf(x, N.leader) === 1)
    }).pipe(Effect.scoped)), LIVE_TIMEOUT)

  it.live("with leader election it is 0 while another holds the Lease, and 1 once this replica takes it", () =>
    isolated(Effect.gen(function*() {
      // Someone else holds the Lease for an hour, by its own lease duration: this replica waits.
      const now = new Date().toISOString().replace(/Z$/, "000Z")
      const app = yield* runningApp({
        leaderElection: true,
        before: (kube) =>
          kube.create(Kinds.Lease, {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: "api-controller", namespace: "kube-system" },
            spec: { holderIdentity: "other", leaseDurationSeconds: 3600, acquireTime: now, renewTime: now, leaseTransitions: 0 }
          })
      })
      yield* app.until("leader 0 while the other holds the Lease", (x) => valueOf(x, N.leader) === 0)
      // The holder gives the Lease up, as a stopping replica does.
      const lease = yield* app.kube.get(Kinds.Lease, "kube-system", "api-controller")
      yield* app.kube.replace(Kinds.Lease, { ...lease, spec: { ...(lease["spec"] as object), holderIdentity: "" } })
      yield* app.until("leader 1", (x) => valueOf(x, N.leader) === 1)
    }).pipe(Effect.scoped)), LIVE_TIMEOUT)
})

describe("the process", () => {
  it.live("the memory limit is the cgroup's (0 without one), and CPU seconds grow with work done", () =>
    isolated(Effect.gen(function*() {
      const app = yield* runningApp()
      const before = yield* app.scrape
      const limit = valueOf(before, N.memoryLimitBytes)!
      const constrained = process.constrainedMemory()
      assert.strictEqual(limit, constrained > 0 && constrained < totalmem() ? constrained : 0)
      const cpu0 = valueOf(before, N.cpuSecondsTotal)!
      // 200 ms of CPU, measured by the process itself.
      const start = process.cpuUsage()
      while ((process.cpuUsage(start).user + process.cpuUsage(start).system) < 200_000) Math.sqrt(Math.random())
      const cpu1 = valueOf(yield* app.scrape, N.cpuSecondsTotal)!
      assert.isAtLeast(cpu1 - cpu0, 0.2)
      assert.strictEqual(before.types.get(N.cpuSecondsTotal), "counter")
      assert.strictEqual(before.types.get(N.memoryLimitBytes), "gauge")
    }).pipe(Effect.scoped)), LIVE_TIMEOUT)
})
