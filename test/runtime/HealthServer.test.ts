import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Logger, Metric, Ref, References, Scope, Stream } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { serveRoutes } from "../../src/http/Serve.ts"
import * as HealthServer from "../../src/runtime/HealthServer.ts"
import * as Metrics from "../../src/runtime/Metrics.ts"
import { parseExposition, valueOf } from "./prometheus.ts"

interface Reply {
  readonly status: number
  readonly contentType: string | null
  readonly body: string
}

const get = (url: string): Effect.Effect<Reply, unknown> =>
  Effect.tryPromise(async () => {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) })
    return { status: res.status, contentType: res.headers.get("content-type"), body: await res.text() }
  })

/**
 * Starts the server in a scope of its own, so a test can close it and see it gone; the test's
 * scope closes it otherwise.
 */
const start = (options: HealthServer.HealthServerOptions) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const context = yield* Layer.buildWithScope(HealthServer.HealthServer.layer(options), scope)
    return { scope, bound: Context.get(context, HealthServer.HealthServer) }
  })

/** A fresh metric registry for the test and for the server built inside it. */
const isolated = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.provideService(self, Metric.MetricRegistry, new Map())

describe("HealthServer", () => {
  it.live("binds port 0 to a free port on 127.0.0.1 and closes when its scope closes", () =>
    Effect.gen(function*() {
      const { scope, bound } = yield* start({ port: 0, readiness: Effect.succeed(true) })
      assert.strictEqual(bound.host, "127.0.0.1")
      assert.isAbove(bound.port, 0)
      assert.strictEqual(bound.url, `http://127.0.0.1:${bound.port}`)
      const ok = yield* get(`${bound.url}/healthz`)
      assert.strictEqual(ok.status, 200)
      assert.strictEqual(ok.body.trim(), "ok")

      yield* Scope.close(scope, Exit.void)
      const after = yield* get(`${bound.url}/healthz`).pipe(Effect.exit)
      assert.isTrue(Exit.isFailure(after), "the server still answers after its scope closed")
    }))

  it.live("/readyz is 503 with a reason until the readiness check says ready, then 200", () =>
    Effect.gen(function*() {
      const synced = yield* Ref.make(false)
      const { bound } = yield* start({
        port: 0,
        readiness: Effect.map(Ref.get(synced), (ready) => ready ? { ready: true } : { ready: false, reason: "caches not synced" })
      })
      const before = yield* get(`${bound.url}/readyz`)
      assert.strictEqual(before.status, 503)
      assert.strictEqual(before.body.trim(), "caches not synced")
      // liveness does not depend on readiness
      assert.strictEqual((yield* get(`${bound.url}/healthz`)).status, 200)

      yield* Ref.set(synced, true)
      const after = yield* get(`${bound.url}/readyz`)
      assert.strictEqual(after.status, 200)
      assert.strictEqual(after.body.trim(), "ok")
    }))

  it.live("/readyz takes a plain boolean, and a failing check is not ready", () =>
    Effect.gen(function*() {
      const plain = yield* start({ port: 0, readiness: Effect.succeed(false) })
      const notReady = yield* get(`${plain.bound.url}/readyz`)
      assert.strictEqual(notReady.status, 503)
      assert.strictEqual(notReady.body.trim(), "not ready")

      const failing = yield* start({ port: 0, readiness: Effect.fail("lease lookup failed") })
      const failed = yield* get(`${failing.bound.url}/readyz`)
      assert.strictEqual(failed.status, 503)
      assert.match(failed.body, /^readiness check failed: /)

      const dying = yield* start({ port: 0, readiness: Effect.die(new Error("bug")) })
      assert.strictEqual((yield* get(`${dying.bound.url}/readyz`)).status, 503)
    }))

  it.live("/metrics serves the Prometheus text of the registry with the Prometheus content type", () =>
    isolated(Effect.gen(function*() {
      const { bound } = yield* start({ port: 0, readiness: Effect.succeed(true) })
      yield* Metrics.recordPass("done", 0.02)
      yield* Metrics.setQueueDepth(4)
      const res = yield* get(`${bound.url}/metrics`)
      assert.strictEqual(res.status, 200)
      assert.strictEqual(res.contentType, "text/plain; version=0.0.4; charset=utf-8")
      const x = parseExposition(res.body)
      assert.strictEqual(valueOf(x, Metrics.MetricNames.reconcileTotal, { result: "done" }), 1)
      assert.strictEqual(valueOf(x, Metrics.MetricNames.workQueueDepth), 4)
      assert.strictEqual(valueOf(x, `${Metrics.MetricNames.reconcileDurationSeconds}_bucket`, { le: "0.025" }), 1)
    })))

  it.live("anything else is 404, including other methods on the known paths", () =>
    Effect.gen(function*() {
      const { bound } = yield* start({ port: 0, readiness: Effect.succeed(true) })
      assert.strictEqual((yield* get(`${bound.url}/`)).status, 404)
      assert.strictEqual((yield* get(`${bound.url}/nope`)).status, 404)
      assert.strictEqual((yield* get(`${bound.url}/healthz/extra`)).status, 404)
      const post = yield* Effect.tryPromise(() => fetch(`${bound.url}/healthz`, { method: "POST" }))
      assert.strictEqual(post.status, 404)
      yield* Effect.promise(() => post.text())
    }))

  it.live("more routes can be mounted on the same server", () =>
    Effect.gen(function*() {
      const { bound } = yield* start({
        port: 0,
        readiness: Effect.succeed(true),
        routes: HttpRouter.add("GET", "/debug/hello", Effect.succeed(HttpServerResponse.text("hello")))
      })
      const res = yield* get(`${bound.url}/debug/hello`)
      assert.strictEqual(res.status, 200)
      assert.strictEqual(res.body, "hello")
      assert.strictEqual((yield* get(`${bound.url}/healthz`)).status, 200)
    }))

  it.live("a busy port fails the layer with a ServeError", () =>
    Effect.gen(function*() {
      const { bound } = yield* start({ port: 0, readiness: Effect.succeed(true) })
      const second = yield* start({ port: bound.port, readiness: Effect.succeed(true) }).pipe(Effect.flip)
      assert.strictEqual(second._tag, "ServeError")
    }))

  it.live("requests are not logged, even at Debug", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const capture = Logger.make((o) => {
        lines.push(`${o.logLevel} ${String(o.message)}`)
      })
      const { bound } = yield* start({ port: 0, readiness: Effect.succeed(true) }).pipe(
        Effect.provide(Logger.layer([capture])),
        Effect.provideService(References.MinimumLogLevel, "All")
      )
      const startup = lines.length
      for (let i = 0; i < 3; i++) {
        yield* get(`${bound.url}/healthz`)
        yield* get(`${bound.url}/readyz`)
        yield* get(`${bound.url}/metrics`)
        yield* get(`${bound.url}/missing`)
      }
      assert.deepStrictEqual(lines.slice(startup), [])
      // the only startup line is the bound address, at Debug
      assert.isTrue(lines.every((l) => l.startsWith("Debug ")), lines.join("\n"))
    }))

  it.live("serveRoutes runs another server with its own tag; closing cuts a never-ending stream after the grace period", () =>
    Effect.gen(function*() {
      class WebView extends Context.Service<WebView, HealthServer.BoundAddress>()("test/WebView") {}
      const events = HttpRouter.add(
        "GET",
        "/events",
        Effect.succeed(HttpServerResponse.stream(
          Stream.concat(Stream.make(new TextEncoder().encode("data: hello\n\n")), Stream.never),
          { contentType: "text/event-stream" }
        ))
      )
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        serveRoutes(WebView, events, { host: "127.0.0.1", port: 0, name: "web view", gracefulShutdownTimeout: "200 millis" }),
        scope
      )
      const { url } = Context.get(context, WebView)
      const res = yield* Effect.promise(() => fetch(`${url}/events`))
      assert.strictEqual(res.status, 200)
      const reader = res.body!.getReader()
      const first = yield* Effect.promise(() => reader.read())
      assert.strictEqual(new TextDecoder().decode(first.value), "data: hello\n\n")
      const rest = Effect.promise(() => reader.read().then(() => "ended", () => "cut"))

      const started = Date.now()
      yield* Scope.close(scope, Exit.void)
      const took = Date.now() - started
      assert.isAtLeast(took, 150, "it gave the stream its grace period")
      // The stream never ends by itself: that the close returned, with the stream cut, is the bound.
      assert.strictEqual(yield* rest, "cut")
    }))
})
