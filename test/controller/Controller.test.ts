/**
 * The running controller (informer caches, indexes, work queue, workers) on the in-memory
 * cluster under TestClock: it converges, heals from events alone, and stays quiet when nothing
 * changes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Metric } from "effect"
import { ClusterCache } from "../../src/controller/ClusterCache.ts"
import { Controller, defaultControllerOptions } from "../../src/controller/Controller.ts"
import { Reconciler } from "../../src/controller/Reconciler.ts"
import { Settings } from "../../src/controller/Settings.ts"
import { WorkQueue } from "../../src/controller/WorkQueue.ts"
import { Kinds, objectKey } from "../../src/domain/Kube.ts"
import { EventRecorder } from "../../src/k8s/EventRecorder.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { LeaderElection } from "../../src/k8s/LeaderElection.ts"
import { ServerOutage } from "../../src/k8s/ServerOutage.ts"
import * as Metrics from "../../src/runtime/Metrics.ts"
import { MemoryCluster, WRITE_VERBS } from "../support/MemoryCluster.ts"
import { eventually } from "../support/Eventually.ts"
import { apiObject, configWith, googleJwt, testConfig } from "../support/Fixtures.ts"
import { scenarioSettings } from "../support/Scenarios.ts"
import { IstioSecurityBackend } from "../../src/plan/IstioSecurityBackend.ts"
import { statusOf } from "../support/World.ts"

const resyncPeriod = Duration.minutes(10)

/** The controller on `kube` (the in-memory cluster unless told), without leader election. */
const controllerOn = <E>(kube: Layer.Layer<KubeApi | MemoryCluster, E> = MemoryCluster.layer()) =>
  Controller.layer({ ...defaultControllerOptions, workers: 2, resyncPeriod }).pipe(
    Layer.provideMerge(Reconciler.layer),
    Layer.provideMerge(ClusterCache.layer),
    Layer.provideMerge(Layer.mergeAll(EventRecorder.layer, Settings.layer(testConfig), WorkQueue.layer(), LeaderElection.layerAlwaysLeader(), ServerOutage.layer)),
    Layer.provideMerge(kube)
  )

const running = controllerOn()

/** Passes so far by how they ended, as the pass metrics count them (a registry of the test's own). */
const passesIn = (registry: Metric.MetricRegistry) =>
  Metrics.metricsText.pipe(
    Effect.map((text) => {
      const counts: Record<string, number> = {}
      for (const line of text.split("\n")) {
        const m = /^api_controller_reconcile_total\{.*result="(\w+)".*\} (\d+)/.exec(line)
        if (m !== null) counts[m[1]!] = Number(m[2])
      }
      return counts
    }),
    Effect.provideService(Metric.MetricRegistry, registry)
  )

const created = (namespace: string, name: string, withAuth = false) =>
  Effect.gen(function*() {
    const s = yield* statusOf(objectKey(namespace, name))
    assert.strictEqual(s.virtualService?.code, 2, `${namespace}/${name} virtualService`)
    if (withAuth) assert.strictEqual(s.authenticationStatus?.code, 2, `${namespace}/${name} policy`)
    return s
  })

const writeCount = Effect.gen(function*() {
  const cluster = yield* MemoryCluster
  return (yield* cluster.requests).filter((r) => WRITE_VERBS.has(r.verb)).length
})

describe("controller on the in-memory cluster", () => {
  it.effect("converges many Apis, with no list call per pass", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const cluster = yield* MemoryCluster
      for (let i = 0; i < 50; i++) {
        yield* kube.create(Kinds.Api, apiObject(`ns-${i % 5}`, `api-${i}`, {
          service: { name: `svc-${i}`, port: 80 },
          hostname: `host-${i}`,
          authentication: [googleJwt]
        }))
      }
      yield* eventually(Effect.forEach(Array.from({ length: 50 }, (_, i) => i), (i) => created(`ns-${i % 5}`, `api-${i}`, true)))
      const lists = (yield* cluster.requests).filter((r) => r.verb === "list")
      assert.strictEqual(lists.length, 3, "one list per informer (Apis, VirtualServices, Policies), none per pass")
    }).pipe(Effect.provide(running)))

  it.effect("the watch echo of a pass's own writes, arriving while the pass runs, costs a skipped pass, never a second full one", () => {
    const registry: Metric.MetricRegistry = new Map()
    // As on a real server, where the watch event of a write often comes before its answer: each
    // answer waits until the watchers have had their turn.
    const lateAnswers = Layer.effect(KubeApi, Effect.map(Effect.service(KubeApi), (kube) => {
      const late = <A, E>(answer: Effect.Effect<A, E>) => Effect.tap(answer, () => Effect.repeat(Effect.yieldNow, { times: 20 }))
      return KubeApi.of({
        ...kube,
        create: (kind, object) => late(kube.create(kind, object)),
        patchStatus: (kind, namespace, name, patch) => late(kube.patchStatus(kind, namespace, name, patch))
      })
    }))
    return Effect.gen(function*() {
      const kube = yield* KubeApi
      for (let i = 0; i < 10; i++) {
        yield* kube.create(Kinds.Api, apiObject("echo", `api-${i}`, {
          service: { name: `svc-${i}`, port: 80 },
          hostname: `echo-${i}`,
          authentication: [googleJwt]
        }))
      }
      yield* eventually(Effect.forEach(Array.from({ length: 10 }, (_, i) => i), (i) => created("echo", `api-${i}`, true)))
      const controller = yield* Controller
      yield* eventually(Effect.gen(function*() {
        assert.strictEqual(yield* controller.queue.depth, 0)
        assert.strictEqual(yield* controller.queue.inFlight, 0)
      }))
      // Each pass wrote three objects (Policy, VirtualService, status), and each woke its Api
      // while the pass ran: one more pass per Api, which found the world as its pass left it.
      const passes = yield* passesIn(registry)
      assert.strictEqual(passes["done"], 10, "one full pass per Api")
      assert.strictEqual(passes["error"] ?? 0, 0)
      assert.isAtMost(passes["skipped"] ?? 0, 10, "at most one echo per Api, and it only looked")
      const writes = (yield* (yield* MemoryCluster).requests)
        .filter((r) => WRITE_VERBS.has(r.verb) && r.plural !== "events" && !(r.verb === "create" && r.plural === "apis"))
      assert.strictEqual(writes.length, 30, "three writes per Api (Policy, VirtualService, status), none twice")
    }).pipe(
      Effect.provide(controllerOn(Layer.provideMerge(lateAnswers, MemoryCluster.layer()))),
      Effect.provideService(Metric.MetricRegistry, registry)
    )
  })

  it.effect("under istio-security too, where a pass reads its Service's neighbours (the Api itself among their Apis): one full pass per new Api, its echo skipped", () => {
    const registry: Metric.MetricRegistry = new Map()
    const security = Controller.layer({ ...defaultControllerOptions, workers: 2, resyncPeriod }).pipe(
      Layer.provideMerge(Reconciler.layer),
      Layer.provideMerge(ClusterCache.layer),
      Layer.provideMerge(Layer.mergeAll(
        EventRecorder.layer,
        Settings.layer(configWith({ AUTH_BACKEND: "istio-security" }), scenarioSettings(IstioSecurityBackend)),
        WorkQueue.layer(),
        LeaderElection.layerAlwaysLeader(),
        ServerOutage.layer
      )),
      Layer.provideMerge(MemoryCluster.layer())
    )
    return Effect.gen(function*() {
      const kube = yield* KubeApi
      for (let i = 0; i < 10; i++) {
        yield* kube.create(Kinds.Service, {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: `svc-${i}`, namespace: "secure" },
          spec: { selector: { app: `svc-${i}` }, ports: [{ name: "http", port: 8080 }] }
        })
      }
      for (let i = 0; i < 10; i++) {
        yield* kube.create(Kinds.Api, apiObject("secure", `api-${i}`, {
          service: { name: `svc-${i}`, port: 8080 },
          hostname: `secure-${i}`,
          authentication: [googleJwt]
        }))
      }
      const controller = yield* Controller
      yield* eventually(Effect.gen(function*() {
        for (let i = 0; i < 10; i++) assert.strictEqual((yield* statusOf(objectKey("secure", `api-${i}`))).virtualService?.code, 2)
        assert.strictEqual(yield* controller.queue.depth, 0)
        assert.strictEqual(yield* controller.queue.inFlight, 0)
      }))
      const passes = yield* passesIn(registry)
      assert.strictEqual(passes["done"], 10, "one full pass per Api")
      assert.strictEqual(passes["skipped"], 10, "its echo only looked")
    }).pipe(Effect.provide(security), Effect.provideService(Metric.MetricRegistry, registry))
  })

  it.effect("a periodic resync over converged Apis makes no write", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      for (let i = 0; i < 10; i++) {
        yield* kube.create(Kinds.Api, apiObject("quiet", `api-${i}`, { service: { name: `svc-${i}`, port: 80 }, hostname: `q-${i}` }))
      }
      yield* eventually(Effect.forEach(Array.from({ length: 10 }, (_, i) => i), (i) => created("quiet", `api-${i}`)))
      const before = yield* writeCount
      const controller = yield* Controller
      yield* controller.resyncAll
      yield* eventually(Effect.gen(function*() {
        assert.strictEqual(yield* controller.queue.depth, 0)
        assert.strictEqual(yield* controller.queue.inFlight, 0)
      }))
      assert.strictEqual((yield* writeCount) - before, 0)
    }).pipe(Effect.provide(running)))

  it.effect("a freed hostname heals the blocked Api from the watch event alone", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      yield* kube.create(Kinds.VirtualService, {
        apiVersion: "networking.istio.io/v1alpha3",
        kind: "VirtualService",
        metadata: { name: "squatter", namespace: "other" },
        spec: { hosts: ["wanted.kyma.local"] }
      })
      yield* kube.create(Kinds.Api, apiObject("team", "wants", { service: { name: "web", port: 80 }, hostname: "wanted" }))
      yield* eventually(Effect.gen(function*() {
        assert.strictEqual((yield* statusOf(objectKey("team", "wants"))).virtualService?.code, 4)
      }))
      yield* kube.delete(Kinds.VirtualService, "other", "squatter")
      // Far less than the resync period: only the event can have done it.
      yield* eventually(created("team", "wants"), { steps: 40 })
    }).pipe(Effect.provide(running)))

  it.effect("a deleted child is restored and an edited one put back, from its watch event", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      yield* kube.create(Kinds.Api, apiObject("team", "drift", { service: { name: "web", port: 80 }, hostname: "drift" }))
      yield* eventually(created("team", "drift"))
      yield* kube.delete(Kinds.VirtualService, "team", "drift")
      yield* eventually(Effect.flatMap(kube.get(Kinds.VirtualService, "team", "drift"), () => created("team", "drift")), { steps: 40 })
      const vs = yield* kube.get(Kinds.VirtualService, "team", "drift")
      yield* kube.replace(Kinds.VirtualService, { ...vs, spec: { ...(vs["spec"] as object), hosts: ["evil.kyma.local"] } })
      yield* eventually(Effect.gen(function*() {
        const now = yield* kube.get(Kinds.VirtualService, "team", "drift")
        assert.deepStrictEqual((now["spec"] as { hosts: unknown }).hosts, ["drift.kyma.local"])
      }), { steps: 40 })
    }).pipe(Effect.provide(running)))

  it.effect("a second Api for a Service proceeds when the first is deleted", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      yield* kube.create(Kinds.Api, apiObject("team", "a-first", { service: { name: "web", port: 80 }, hostname: "one" }))
      yield* kube.create(Kinds.Api, apiObject("team", "b-second", { service: { name: "web", port: 80 }, hostname: "two" }))
      yield* eventually(Effect.gen(function*() {
        yield* created("team", "a-first")
        assert.strictEqual((yield* statusOf(objectKey("team", "b-second"))).validationStatus, 5)
      }))
      yield* kube.delete(Kinds.Api, "team", "a-first")
      yield* eventually(created("team", "b-second"), { steps: 40 })
    }).pipe(Effect.provide(running)))

  it.effect("one Api whose writes keep failing does not hold up the others", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const cluster = yield* MemoryCluster
      yield* cluster.injectFault({ verb: "create", plural: "virtualservices", name: "bad", reason: "ServerError", times: 1000 })
      yield* kube.create(Kinds.Api, apiObject("team", "bad", { service: { name: "bad", port: 80 }, hostname: "bad" }))
      for (let i = 0; i < 5; i++) {
        yield* kube.create(Kinds.Api, apiObject("team", `good-${i}`, { service: { name: `g${i}`, port: 80 }, hostname: `g${i}` }))
      }
      yield* eventually(Effect.forEach([0, 1, 2, 3, 4], (i) => created("team", `good-${i}`)))
      const bad = yield* statusOf(objectKey("team", "bad"))
      assert.strictEqual(bad.virtualService?.code, 1)
      assert.include(bad.virtualService?.lastError ?? "", "will retry")
      // The retry comes from the backoff timer, not from the watch echo of its own status write.
      const controller = yield* Controller
      yield* eventually(Effect.gen(function*() {
        assert.isAbove(yield* controller.queue.failures(objectKey("team", "bad")), 1, "it is retried with backoff")
      }))
    }).pipe(Effect.provide(running)))
})
