/**
 * For the cluster-tier monitoring tests: the whole controller (src/runtime/App.ts) on the live API
 * server with its health server on 127.0.0.1, so its /metrics is what a Prometheus would scrape,
 * and small helpers to make Apis fail and heal.
 */
import { Context, Duration, Effect, Layer, Metric } from "effect"
import { Kinds } from "../../src/domain/Kube.ts"
import { KubeApi, type KubeApiError } from "../../src/k8s/KubeApi.ts"
import { appWith } from "../../src/runtime/App.ts"
import { HealthServer } from "../../src/runtime/HealthServer.ts"
import * as Logging from "../../src/runtime/Logging.ts"
import { liveKubeApi } from "../support/ClusterTest.ts"
import { testConfig } from "../support/Fixtures.ts"
import { type Exposition, parseExposition } from "../runtime/prometheus.ts"

/**
 * The controller with a health server, in the caller's scope; `metricsUrl` is its /metrics. On the
 * cluster tier's control plane unless given the `KubeApi` of another.
 */
export const liveController = (kubeApi: Layer.Layer<KubeApi, KubeApiError> = liveKubeApi()) => Effect.gen(function*() {
  // A registry of its own: the exposition is this controller's alone.
  const registry: Metric.MetricRegistry = new Map()
  const app = yield* Layer.build(
    appWith(kubeApi, {
      config: testConfig,
      controller: { workers: 2, resyncPeriod: Duration.hours(1) },
      // The fleet gauges follow the cache within a fifth of a second (the default is 5 s).
      gaugePeriod: Duration.millis(200),
      health: { host: "127.0.0.1", port: 0 }
    }).pipe(Layer.provide(Layer.mergeAll(Logging.layer({ format: "pretty", level: "Error" }), Layer.succeed(Metric.MetricRegistry, registry))))
  )
  const { host, port } = Context.get(app, HealthServer)
  const kube = Context.get(app, KubeApi)
  const target = `${host}:${port}`
  const metricsUrl = `http://${target}/metrics`
  const scrape: Effect.Effect<Exposition> = Effect.promise(() => fetch(metricsUrl).then((r) => r.text())).pipe(Effect.map(parseExposition))
  return { kube, target, metricsUrl, scrape }
})

const service = (namespace: string, name: string) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace },
  spec: { ports: [{ port: 80 }], selector: { app: name } }
})

/** An Api of `namespace` named like its Service, for `hostname`. */
export const createApi = (namespace: string, name: string, hostname: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    yield* kube.create(Kinds.Service, service(namespace, name))
    yield* kube.create(Kinds.Api, {
      apiVersion: "gateway.kyma-project.io/v1alpha2",
      kind: "Api",
      metadata: { name, namespace },
      spec: { service: { name, port: 80 }, hostname }
    })
  })

/** The reason of the Api's Ready condition, once it has one. */
export const readyReason = (namespace: string, name: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const api = yield* kube.get(Kinds.Api, namespace, name)
    const conditions = ((api["status"] as { conditions?: ReadonlyArray<{ type: string; reason?: string }> } | undefined)?.conditions) ?? []
    return conditions.find((c) => c.type === "Ready")?.reason
  })
