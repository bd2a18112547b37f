/**
 * An HTTP server for a set of routes, for the lifetime of a layer: what the health server
 * (src/runtime/HealthServer.ts) and the web view (src/web/WebView.ts) each run on their own port.
 * Built on `effect/http`'s router served by `@effect/platform-node`'s NodeHttpServer; requests
 * are not logged (probes every few seconds would flood the logs), the bound address once at Debug.
 */
import { createServer } from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { type Context, type Duration, Effect, Layer } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import type { ServeError } from "effect/http/HttpServerError"

/** Where a server listens once bound. */
export interface BoundAddress {
  readonly host: string
  /** The bound port; differs from the requested one when that was 0. */
  readonly port: number
  /** e.g. `http://127.0.0.1:41234` */
  readonly url: string
}

/**
 * Serves `routes` on host:port for the lifetime of the layer, without per-request logs, and
 * returns the bound address through `tag`. A later server (e.g. a web view on its own port) can
 * use this with its own service tag.
 */
export const serveRoutes = <Id>(
  tag: Context.Service<Id, BoundAddress>,
  routes: Layer.Layer<never, never, HttpRouter.HttpRouter>,
  options: {
    readonly host: string
    readonly port: number
    /** For the Debug line with the bound address. */
    readonly name: string
    /**
     * How long closing waits for open requests before ending them (default 2 s). Long-lived
     * responses such as server-sent events are cut after this, so shutdown is bounded.
     */
    readonly gracefulShutdownTimeout?: Duration.Input | undefined
  }
): Layer.Layer<Id, ServeError> => {
  const bound = Layer.effect(
    tag,
    Effect.gen(function*() {
      const server = yield* HttpServer.HttpServer
      const address = server.address
      const port = address._tag === "UnixPathAddress" ? 0 : address.port
      const url = HttpServer.formatAddress(address)
      yield* Effect.logDebug(`${options.name} listening on ${url}`)
      return tag.of({ host: options.host, port, url })
    })
  )
  return Layer.merge(
    HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true }),
    bound
  ).pipe(
    Layer.provide(
      NodeHttpServer.layer(createServer, {
        host: options.host,
        port: options.port,
        // Health and metrics requests are short; do not hold shutdown for NodeHttpServer's
        // default 20 s on a stuck client.
        gracefulShutdownTimeout: options.gracefulShutdownTimeout ?? "2 seconds"
      })
    )
  )
}

