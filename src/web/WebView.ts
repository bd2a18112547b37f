/**
 * The live web view (issue 6), served by the controller on a port of its own when asked
 * (`api-controller run --web-port 8090`; bound to 127.0.0.1 unless `--web-host` says otherwise):
 *
 *   GET /                           every Api with its three machine states and Ready
 *   GET /events                     server-sent events: the list again whenever an Api changes
 *   GET /apis/<namespace>/<name>    one Api: the machine diagrams with the current states
 *                                   highlighted, the children, the timeline
 *   GET /apis/<namespace>/<name>/events   server-sent events: that page again when it changes
 *
 * Read-only, and it reads the controller's informer caches (ClusterCache), not the API server;
 * only the Events for an Api's timeline are listed from the API server, when that page is open.
 *
 * Live updates: each stream subscribes to the cache's change feed (published after the store is
 * updated), then sends the current fragment, then re-renders after every relevant change (an Api
 * for the list; the Api or an object of the same name in its namespace for an Api's page),
 * debounced, and sends it only when it differs from the last one sent. An Api's page renders once
 * more a moment after a change, because the reconciler records its Events just after it writes the
 * status, and every few seconds for Events from elsewhere. A comment line every 15 s keeps idle
 * connections open. EventSource reconnects by itself.
 */
import { Cause, Context, Duration, Effect, Layer, PubSub, Queue, Schedule, Stream } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import type { ServeError } from "effect/http/HttpServerError"
import { ClusterCache } from "../controller/ClusterCache.ts"
import type { Change } from "../k8s/Informer.ts"
import { Settings } from "../controller/Settings.ts"
import { Kinds, type KubeObject, type ResourceKind } from "../domain/Kube.ts"
import { KubeApi } from "../k8s/KubeApi.ts"
import { type BoundAddress, serveRoutes } from "../runtime/HealthServer.ts"
import { contentSecurityPolicy, detailFragment, detailPage, listFragment, listPage } from "./Pages.ts"

/** The running web view's bound address. */
export class WebView extends Context.Service<WebView, BoundAddress>()("api-controller/web/WebView") {}

export interface WebViewOptions {
  /** Default 127.0.0.1: the view shows the whole cluster's Apis, so keep it local unless asked. */
  readonly host?: string | undefined
  /** 0 picks a free port (see `WebView.port`). */
  readonly port: number
  /** How long a stream waits after a change for more before it re-renders. Default 100 ms. */
  readonly debounce?: Duration.Input | undefined
  /** An Api page renders again this long after a change, to pick up the Events that follow. Default 1 s. */
  readonly eventsFollowUp?: Duration.Input | undefined
  /** An Api page re-reads its Events this often while open. Default 10 s. */
  readonly eventsPoll?: Duration.Input | undefined
  /** Comment line on idle streams. Default 15 s. */
  readonly keepAlive?: Duration.Input | undefined
}

const DNS_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/

const page = (body: string, status = 200) =>
  HttpServerResponse.text(body, {
    status,
    contentType: "text/html; charset=utf-8",
    headers: { "content-security-policy": contentSecurityPolicy, "cache-control": "no-store", "x-content-type-options": "nosniff" }
  })

/** One server-sent event carrying an HTML fragment (JSON keeps it on one `data:` line). */
export const sseUpdate = (html: string): string => `event: update\ndata: ${JSON.stringify({ html })}\n\n`

interface StreamSpec {
  /** Does this change concern what the stream shows? */
  readonly relevant: (change: Change) => boolean
  readonly render: Effect.Effect<string>
  /** Render again this long after each relevant change, and every `poll`. */
  readonly followUp?: Duration.Duration | undefined
  readonly poll?: Duration.Duration | undefined
}

const sseResponse = (body: Stream.Stream<string>) =>
  HttpServerResponse.stream(Stream.encodeText(body), {
    contentType: "text/event-stream; charset=utf-8",
    headers: { "cache-control": "no-store", "x-accel-buffering": "no" }
  })

export const layer = (options: WebViewOptions): Layer.Layer<WebView, ServeError, ClusterCache | KubeApi | Settings> =>
  Layer.unwrap(Effect.gen(function*() {
    const cache = yield* ClusterCache
    const kube = yield* KubeApi
    const { backend } = yield* Settings
    const debounce = Duration.fromInputUnsafe(options.debounce ?? "100 millis")
    const followUp = Duration.fromInputUnsafe(options.eventsFollowUp ?? "1 second")
    const poll = Duration.fromInputUnsafe(options.eventsPoll ?? "10 seconds")
    const keepAlive = Duration.fromInputUnsafe(options.keepAlive ?? "15 seconds")

    const childKinds: ReadonlyArray<ResourceKind> = [Kinds.VirtualService, ...backend.kinds]
    const informerOf = (kind: ResourceKind) =>
      cache.informers.find((i) => i.kind.group === kind.group && i.kind.plural === kind.plural)

    const renderList = Effect.map(cache.isSynced, (synced) => listFragment(cache.apis(), { synced }))

    const renderApi = (namespace: string, name: string) =>
      Effect.gen(function*() {
        const api = cache.api(namespace, name)
        const children = childKinds.flatMap((kind) => {
          const o = informerOf(kind)?.get(namespace, name)
          return o !== undefined ? [o] : []
        })
        const events: ReadonlyArray<KubeObject> | { readonly error: string } = api === undefined ? [] : yield* kube.list(Kinds.Event, { namespace }).pipe(
          Effect.map((l) => l.items),
          Effect.catch((e) => Effect.succeed({ error: e.message }))
        )
        return detailFragment({ namespace, name, api, children, events })
      })

    /** The SSE stream of one page; its fibers and its subscription end with the connection. */
    const liveStream = (spec: StreamSpec): Stream.Stream<string> =>
      Stream.callback<string>((out) =>
        Effect.gen(function*() {
          // Subscribe first, then render: no change can fall between the two.
          const changes = yield* cache.subscribe
          const dirty = yield* Queue.sliding<void>(1)
          let last: string | undefined
          const send = (chunk: string) => Queue.offer(out, chunk)
          const render = spec.render.pipe(
            Effect.flatMap((html) => {
              if (html === last) return Effect.void
              last = html
              return send(sseUpdate(html))
            }),
            Effect.catchCause((cause) => Effect.logWarning("web view: rendering failed", { cause: Cause.pretty(cause) }))
          )
          yield* send("retry: 2000\n\n")
          yield* render
          const mark = Queue.offer(dirty, undefined)
          yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
            const change = yield* PubSub.take(changes)
            if (!spec.relevant(change)) return
            yield* mark
            if (spec.followUp !== undefined) yield* Effect.forkScoped(Effect.delay(mark, spec.followUp))
          })))
          yield* Effect.forkScoped(Effect.forever(
            Queue.take(dirty).pipe(
              Effect.andThen(Effect.sleep(debounce)),
              Effect.andThen(Queue.clear(dirty)),
              Effect.andThen(render)
            )
          ))
          if (spec.poll !== undefined) yield* Effect.forkScoped(Effect.repeat(Effect.delay(mark, spec.poll), Schedule.forever))
          yield* Effect.forkScoped(Effect.repeat(Effect.delay(send(": keep-alive\n\n"), keepAlive), Schedule.forever))
        })
      )

    const apiParams = Effect.map(HttpRouter.params, (p) => {
      const namespace = p["namespace"] ?? ""
      const name = p["name"] ?? ""
      return DNS_NAME.test(namespace) && DNS_NAME.test(name) ? { namespace, name } : undefined
    })
    const notFound = page("<!doctype html><title>not found</title><p>Not found. <a href=\"/\">All Apis</a></p>\n", 404)

    const routes = HttpRouter.use((router) =>
      Effect.gen(function*() {
        yield* router.add("GET", "/", Effect.map(renderList, (fragment) => page(listPage(fragment))))
        yield* router.add(
          "GET",
          "/events",
          Effect.sync(() => sseResponse(liveStream({ relevant: (c) => c.kind.kind === "Api", render: renderList })))
        )
        yield* router.add(
          "GET",
          "/apis/:namespace/:name",
          Effect.gen(function*() {
            const ref = yield* apiParams
            if (ref === undefined) return notFound
            const fragment = yield* renderApi(ref.namespace, ref.name)
            // Unknown Api: 404, but the page stays live and shows the Api once it appears.
            return page(detailPage(ref.namespace, ref.name, fragment), cache.api(ref.namespace, ref.name) === undefined ? 404 : 200)
          })
        )
        yield* router.add(
          "GET",
          "/apis/:namespace/:name/events",
          Effect.gen(function*() {
            const ref = yield* apiParams
            if (ref === undefined) return notFound
            return sseResponse(liveStream({
              relevant: (c) => c.object.metadata.namespace === ref.namespace && c.object.metadata.name === ref.name,
              render: renderApi(ref.namespace, ref.name),
              followUp,
              poll
            }))
          })
        )
        yield* router.add("GET", "/healthz", Effect.succeed(HttpServerResponse.text("ok\n")))
      })
    )

    const host = options.host ?? "127.0.0.1"
    return serveRoutes(WebView, routes, { host, port: options.port, name: "web view" }).pipe(
      Layer.tap((context) => Effect.logInfo(`web view at ${Context.get(context, WebView).url}/`))
    )
  }))
