/**
 * Which Apis a change wakes (src/controller/Watches.ts), seen through the running controller on
 * the in-memory cluster under TestClock, with the resync far away: everything below heals from
 * watch events alone. These are the wake rules isolation (SPEC 10) added: a change to a Service or
 * an Api wakes the Apis of every Service that may share its pods.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { ClusterCache } from "../../src/controller/ClusterCache.ts"
import { Controller, defaultControllerOptions } from "../../src/controller/Controller.ts"
import { Reconciler } from "../../src/controller/Reconciler.ts"
import { Settings } from "../../src/controller/Settings.ts"
import { WorkQueue } from "../../src/controller/WorkQueue.ts"
import { Kinds, type KubeObject, objectKey } from "../../src/domain/Kube.ts"
import { EventRecorder } from "../../src/k8s/EventRecorder.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { LeaderElection } from "../../src/k8s/LeaderElection.ts"
import { ServerOutage } from "../../src/k8s/ServerOutage.ts"
import { IstioSecurityBackend } from "../../src/plan/IstioSecurityBackend.ts"
import { eventually } from "../support/Eventually.ts"
import { apiObject, configWith, googleJwt } from "../support/Fixtures.ts"
import { MemoryCluster } from "../support/MemoryCluster.ts"
import { scenarioSettings } from "../support/Scenarios.ts"
import { statusOf } from "../support/World.ts"

const running = Controller.layer({ ...defaultControllerOptions, workers: 2, resyncPeriod: Duration.hours(10) }).pipe(
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

const service = (name: string, selector: Record<string, string>): KubeObject => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: "shop" },
  spec: { selector, ports: [{ port: 80 }] }
})

const denyHosts = Effect.gen(function*() {
  const deny = yield* (yield* KubeApi).get(Kinds.AuthorizationPolicy, "shop", "strict-deny")
  return JSON.stringify(deny["spec"])
})

describe("watches: isolation's neighbours wake each other, without a resync", () => {
  it.effect("a Service that starts selecting an Api's pods wakes that Api (its DENY leaves the newcomer's names to it) and the newcomer's Api (it reports the sharing)", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      yield* kube.create(Kinds.Service, service("orders", { app: "orders" }))
      yield* kube.create(Kinds.Service, service("public", { app: "public" }))
      yield* kube.create(Kinds.Api, apiObject("shop", "strict", { service: { name: "orders", port: 80 }, hostname: "strict", authentication: [googleJwt] }))
      yield* kube.create(Kinds.Api, apiObject("shop", "zz-open", { service: { name: "public", port: 80 }, hostname: "open" }))
      yield* eventually(Effect.gen(function*() {
        assert.strictEqual((yield* statusOf(objectKey("shop", "strict"))).virtualService?.code, 2)
        assert.strictEqual((yield* statusOf(objectKey("shop", "zz-open"))).virtualService?.code, 2)
      }))
      assert.notInclude(yield* denyHosts, "open.kyma.local", "no neighbour yet")
      assert.strictEqual((yield* statusOf(objectKey("shop", "zz-open"))).validationStatus, 2)

      // public now selects exactly strict's pods: a neighbour whose Service covers them all.
      yield* kube.patch(Kinds.Service, "shop", "public", { spec: { selector: { app: "orders" } } })
      yield* eventually(Effect.gen(function*() {
        assert.include(yield* denyHosts, "open.kyma.local", "strict's DENY leaves open's host to open")
        const open = yield* statusOf(objectKey("shop", "zz-open"))
        assert.include(open.lastError ?? "", "Api shop/strict", "the later Api reports what Istio cannot keep apart")
        assert.strictEqual(open.conditions?.find((c) => c.type === "WorkloadIsolated")?.status, "False")
      }))

      // And back: the neighbour goes, and so does what depended on it.
      yield* kube.patch(Kinds.Service, "shop", "public", { spec: { selector: { app: "public" } } })
      yield* eventually(Effect.gen(function*() {
        assert.notInclude(yield* denyHosts, "open.kyma.local")
        const open = yield* statusOf(objectKey("shop", "zz-open"))
        assert.isUndefined(open.conditions?.find((c) => c.type === "WorkloadIsolated"))
      }))
    }).pipe(Effect.provide(running)), 30_000)

  it.effect("an Api that moves onto a Service over an Api's pods wakes that Api", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      yield* kube.create(Kinds.Service, service("orders", { app: "orders" }))
      yield* kube.create(Kinds.Service, service("public", { app: "orders" }))
      yield* kube.create(Kinds.Service, service("elsewhere", { app: "elsewhere" }))
      yield* kube.create(Kinds.Api, apiObject("shop", "strict", { service: { name: "orders", port: 80 }, hostname: "strict", authentication: [googleJwt] }))
      yield* kube.create(Kinds.Api, apiObject("shop", "zz-open", { service: { name: "elsewhere", port: 80 }, hostname: "open" }))
      yield* eventually(Effect.map(statusOf(objectKey("shop", "zz-open")), (s) => assert.strictEqual(s.virtualService?.code, 2)))
      assert.notInclude(yield* denyHosts, "open.kyma.local")
      yield* kube.patch(Kinds.Api, "shop", "zz-open", { spec: { service: { name: "public", port: 80 } } })
      yield* eventually(Effect.map(denyHosts, (hosts) => assert.include(hosts, "open.kyma.local")))
    }).pipe(Effect.provide(running)), 30_000)
})
