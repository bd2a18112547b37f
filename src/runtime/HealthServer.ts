/**
 * The operability endpoint: liveness, readiness and Prometheus metrics over HTTP.
 *
 *   GET /healthz  200 "ok" while the process serves requests
 *   GET /readyz   200 "ok" when the readiness check says ready (e.g. caches synced),
 *                 503 with a one-line reason otherwise
 *   GET /metrics  the metrics registry in the Prometheus text format
 *   anything else 404
 *
 * Built on `effect/http`'s router served by `@effect/platform-node`'s NodeHttpServer. The server
 * listens while the layer is alive and is closed when the layer's scope closes. Requests are not
 * logged (probes every few seconds would flood the logs); the bound address is logged once at
 * Debug. Port 0 picks a free port: the layer provides `HealthServer` with the bound `port`.
 *
 * More routes can be mounted on the same server with `routes` (an `HttpRouter` layer, e.g.
 * `HttpRouter.add("GET", "/debug/x", handler)`); the server itself is src/http/Serve.ts's.
 */
import { Cause, Context, Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import type { ServeError } from "effect/http/HttpServerError"
import { type BoundAddress, serveRoutes } from "../http/Serve.ts"
import { monitoringMetricsText, PROMETHEUS_CONTENT_TYPE, recordReady } from "./Metrics.ts"

/** The result of a readiness check: `true`, or not ready with a short reason for the 503 body. */
export type Readiness = boolean | { readonly ready: true } | { readonly ready: false; readonly reason: string }

export type { BoundAddress }

export interface HealthServerOptions {
  /** Default `127.0.0.1`; in a cluster pass `0.0.0.0` so the kubelet and Prometheus reach it. */
  readonly host?: string | undefined
  /** 0 picks a free port (see `HealthServer.port`). */
  readonly port: number
  /** Asked on every `/readyz`. A failure or defect counts as not ready. */
  readonly readiness: Effect.Effect<Readiness, unknown>
  /** Extra routes served by the same server. */
  readonly routes?: Layer.Layer<never, never, HttpRouter.HttpRouter> | undefined
  /** Run before every `/metrics`: brings the gauges read at scrape time up to date. */
  readonly beforeScrape?: Effect.Effect<void> | undefined
}

const text = (body: string, status = 200) => HttpServerResponse.text(body + "\n", { status })

const readinessResponse = (readiness: Effect.Effect<Readiness, unknown>) =>
  readiness.pipe(
    Effect.map((r): Exclude<Readiness, boolean> =>
      r === true ? { ready: true } : r === false ? { ready: false, reason: "not ready" } : r
    ),
    Effect.catchCause((cause) =>
      Effect.succeed({
        ready: false as const,
        reason: `readiness check failed: ${firstLine(Cause.pretty(cause))}`
      })
    ),
    Effect.map((r) => (r.ready ? text("ok") : text(r.reason, 503)))
  )

const firstLine = (s: string): string => (s.split("\n")[0] ?? "").slice(0, 200)

/** The `/healthz`, `/readyz` and `/metrics` routes, to mount on any router. */
export const healthRoutes = (
  readiness: Effect.Effect<Readiness, unknown>,
  beforeScrape: Effect.Effect<void> = Effect.void
): Layer.Layer<never, never, HttpRouter.HttpRouter> =>
  HttpRouter.use((router) =>
    Effect.gen(function*() {
      yield* router.add("GET", "/healthz", Effect.succeed(text("ok")))
      yield* router.add("GET", "/readyz", readinessResponse(readiness))
      yield* router.add(
        "GET",
        "/metrics",
        // Readiness as a gauge too (api_controller_ready), asked as /readyz would be, at scrape time.
        readinessResponse(readiness).pipe(
          Effect.flatMap((r) => recordReady(r.status === 200)),
          Effect.andThen(beforeScrape),
          Effect.andThen(monitoringMetricsText),
          Effect.map((body) => HttpServerResponse.text(body, { contentType: PROMETHEUS_CONTENT_TYPE }))
        )
      )
    })
  )

/** The running health server's bound address. */
export class HealthServer extends Context.Service<HealthServer, BoundAddress>()("api-controller/runtime/HealthServer") {
  /**
   * The health server: `/healthz`, `/readyz`, `/metrics` (plus `routes`) on host:port.
   *
   *   HealthServer.layer({ host: "0.0.0.0", port: 8080, readiness: Ref.get(cachesSynced) })
   */
  static readonly layer = (options: HealthServerOptions): Layer.Layer<HealthServer, ServeError> =>
    serveRoutes(
      HealthServer,
      options.routes === undefined
        ? healthRoutes(options.readiness, options.beforeScrape)
        : Layer.merge(healthRoutes(options.readiness, options.beforeScrape), options.routes),
      { host: options.host ?? "127.0.0.1", port: options.port, name: "health server" }
    )
}
