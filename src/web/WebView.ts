/**
 * The live web view (issue 6), served by the controller on a port of its own when asked
 * (`api-controller run --web-port 8090`; bound to 127.0.0.1 unless `--web-host` says otherwise):
 *
 *   GET /                           every Api with its machines' states (src/visual/ApiView.ts) and Ready
 *   GET /events                     server-sent events: the list again whenever an Api changes
 *   GET /apis/<namespace>/<name>    one Api: the machine diagrams with the current states
 *                                   highlighted, the children, the timeline
 *   GET /apis/<namespace>/<name>/events   server-sent events: that page again when it changes
 *   GET /assets/app.js, /assets/app.css   the pages' script and style (same origin, so the
 *                                   Content-Security-Policy allows no inline script at all)
 *
 * Read-only, and it reads the controller's informer caches (ClusterCache), not the API server;
 * only the Events for an Api's timeline are listed from the API server, while that page is open.
 *
 * It runs in the controller's process, so it must never cost the controller much, however many
 * pages are open and however fast the cluster changes:
 *
 * - Rendering is shared: all streams that show the same thing (the list; one Api) form one
 *   topic, rendered once per change and sent to each of them as the same string.
 * - Rendering is coalesced: a change only marks its topics dirty; one loop renders each dirty
 *   topic at most once per `coalesce` window, never spends more than `renderBudget` of the time
 *   rendering a topic, nor sends more than `sendBudget` bytes a second for it (a list of
 *   thousands of Apis, or one open in many pages, is updated less often, not more slowly).
 *   A burst of changes is one update per stream.
 * - Streams are bounded: at most `maxStreams` open at once (more get 503), and a stream holds at
 *   most two pending chunks (a slow reader gets the latest, not a backlog).
 * - Events are listed once per namespace for every open page of that namespace, a moment after
 *   a change (the reconciler records them just after it writes the status) and every
 *   `eventsPoll` for Events from elsewhere; renders in between reuse the last list.
 * - An update is encoded once and the same bytes go to every stream of its topic.
 *
 * A comment line every `keepAlive` keeps idle connections open; EventSource reconnects by itself.
 */
import { Cause, Clock, Context, Duration, Effect, Latch, Layer, PubSub, Queue, Stream } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import type { ServeError } from "effect/http/HttpServerError"
import { ClusterCache } from "../controller/ClusterCache.ts"
import type { Change } from "../k8s/Informer.ts"
import { Settings } from "../controller/Settings.ts"
import { Kinds, type KubeObject, type ResourceKind } from "../domain/Kube.ts"
import { KubeApi } from "../k8s/KubeApi.ts"
import { type BoundAddress, serveRoutes } from "../http/Serve.ts"
import {
  appCss,
  appScript,
  contentSecurityPolicy,
  detailFragment,
  detailPage,
  listFragment,
  listPage
} from "./Pages.ts"

/** The running web view's bound address. */
export class WebView extends Context.Service<WebView, BoundAddress>()("api-controller/web/WebView") {}

export interface WebViewOptions {
  /** Default 127.0.0.1: the view shows the whole cluster's Apis, so keep it local unless asked. */
  readonly host?: string | undefined
  /** 0 picks a free port (see `WebView.port`). */
  readonly port: number
  /** Changes within this window are one render and one update per stream. Default 250 ms. */
  readonly coalesce?: Duration.Input | undefined
  /** The largest share of the time one topic may spend rendering. Default 0.05. */
  readonly renderBudget?: number | undefined
  /**
   * Bytes per second one topic may send, all its streams together (a big list to many pages is
   * sent less often, not in a flood). Default 1 MiB.
   */
  readonly sendBudget?: number | undefined
  /** An Api page renders again this long after a change, to pick up the Events that follow. Default 1 s. */
  readonly eventsFollowUp?: Duration.Input | undefined
  /** An Api page re-reads its Events this often while open. Default 10 s. */
  readonly eventsPoll?: Duration.Input | undefined
  /** A namespace's Events are listed at most this often, for all its open pages. Default 3 s. */
  readonly eventsMinInterval?: Duration.Input | undefined
  /** Comment line on idle streams. Default 15 s. */
  readonly keepAlive?: Duration.Input | undefined
  /** Live streams open at once, all pages together; beyond it a stream is refused (503). Default 256. */
  readonly maxStreams?: number | undefined
}

const DNS_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/

const securityHeaders = {
  "content-security-policy": contentSecurityPolicy,
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer"
}

const page = (body: string, status = 200) =>
  HttpServerResponse.text(body, { status, contentType: "text/html; charset=utf-8", headers: securityHeaders })

const asset = (body: string, contentType: string) =>
  HttpServerResponse.text(body, { contentType, headers: { ...securityHeaders, "cache-control": "no-cache" } })

/** One server-sent event carrying an HTML fragment (JSON keeps it on one `data:` line). */
export const sseUpdate = (html: string): string => `event: update\ndata: ${JSON.stringify({ html })}\n\n`

/** What streams showing the same thing share: one render, one chunk, sent to each. */
interface Topic {
  readonly relevant: (change: Change) => boolean
  readonly render: Effect.Effect<string>
  /** Api pages read Events, which change without a cache change: look again after changes and now and then. */
  readonly eventsNamespace: string | undefined
  /** Each open stream's outgoing queue (sliding, two chunks). */
  readonly subscribers: Set<Queue.Queue<Uint8Array, Cause.Done>>
  dirty: boolean
  html: string | undefined
  /** The update as bytes, encoded once for every stream. */
  chunk: Uint8Array | undefined
  renderedAt: number
  renderMs: number
  /** What the last update cost to send: its size times the streams it went to. */
  sentBytes: number
  followUpAt: number | undefined
  pollAt: number
}

/** Counters, for tests and for the load measurement. */
export interface WebViewStats {
  readonly renders: number
  readonly openStreams: number
  readonly topics: number
  readonly refusedStreams: number
}

export const layer = (
  options: WebViewOptions
): Layer.Layer<WebView | WebViewMetrics, ServeError, ClusterCache | KubeApi | Settings> =>
  Layer.unwrap(Effect.gen(function*() {
    const cache = yield* ClusterCache
    const kube = yield* KubeApi
    const { backend } = yield* Settings
    const ms = (d: Duration.Input | undefined, fallback: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(d ?? fallback))
    const coalesce = ms(options.coalesce, "250 millis")
    const budget = options.renderBudget ?? 0.05
    const sendBudget = options.sendBudget ?? 2 ** 20
    const followUp = ms(options.eventsFollowUp, "1 second")
    const poll = ms(options.eventsPoll, "10 seconds")
    const eventsMinInterval = ms(options.eventsMinInterval, "3 seconds")
    const keepAlive = ms(options.keepAlive, "15 seconds")
    const maxStreams = options.maxStreams ?? 256

    const childKinds: ReadonlyArray<ResourceKind> = [Kinds.VirtualService, ...backend.kinds]
    const informerOf = (kind: ResourceKind) =>
      cache.informers.find((i) => i.kind.group === kind.group && i.kind.plural === kind.plural)

    const renderList = Effect.map(cache.isSynced, (synced) => listFragment(cache.apis(), { synced }))

    // Events per namespace: listed when an open page of the namespace needs them fresh (a moment
    // after a change, and every `eventsPoll`), at most once per `eventsMinInterval` for all of its
    // pages together; renders in between reuse the last list. (A namespace's Events can be many:
    // every Api's transitions. The list is the web view's one request to the API server.)
    const eventsCache = new Map<string, { at: number; value: ReadonlyArray<KubeObject> | { readonly error: string } }>()
    const staleNamespaces = new Set<string>()
    const eventsIn = (namespace: string) =>
      Effect.gen(function*() {
        const cached = eventsCache.get(namespace)
        if (cached !== undefined && !staleNamespaces.has(namespace)) return cached.value
        staleNamespaces.delete(namespace)
        const at = yield* Clock.currentTimeMillis
        const value = yield* kube.list(Kinds.Event, { namespace }).pipe(
          Effect.map((l): ReadonlyArray<KubeObject> => l.items),
          Effect.catch((e) => Effect.succeed({ error: e.message }))
        )
        eventsCache.set(namespace, { at, value })
        return value
      })

    const renderApi = (namespace: string, name: string) =>
      Effect.gen(function*() {
        const api = cache.api(namespace, name)
        const children = childKinds.flatMap((kind) => {
          const o = informerOf(kind)?.get(namespace, name)
          return o !== undefined ? [o] : []
        })
        const events = api === undefined ? [] : yield* eventsIn(namespace)
        return detailFragment({ namespace, name, api, children, events })
      })

    // ---- the topics and their one render loop

    const topics = new Map<string, Topic>()
    const encoder = new TextEncoder()
    const keepAliveChunk = encoder.encode(": keep-alive\n\n")
    const retryChunk = encoder.encode("retry: 2000\n\n")
    let openStreams = 0
    let refusedStreams = 0
    let renders = 0
    /** Open while some topic may need a render; the loop sleeps on it otherwise. */
    const work = yield* Latch.make(false)

    const topicFor = (key: string, make: () => Pick<Topic, "relevant" | "render" | "eventsNamespace">): Topic => {
      let t = topics.get(key)
      if (t === undefined) {
        t = { ...make(), subscribers: new Set(), dirty: true, html: undefined, chunk: undefined, renderedAt: 0, renderMs: 0, sentBytes: 0, followUpAt: undefined, pollAt: 0 }
        topics.set(key, t)
      }
      return t
    }
    const listTopic = () => topicFor("list", () => ({ relevant: (c) => c.kind.kind === "Api", render: renderList, eventsNamespace: undefined }))
    const apiTopic = (namespace: string, name: string) =>
      topicFor(`api ${namespace}/${name}`, () => ({
        relevant: (c) => c.object.metadata.namespace === namespace && c.object.metadata.name === name,
        render: renderApi(namespace, name),
        eventsNamespace: namespace
      }))

    // Changes only mark topics dirty: cheap, whatever the rate.
    const changes = yield* cache.subscribe
    yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
      const change = yield* PubSub.take(changes)
      if (topics.size === 0) return
      const now = yield* Clock.currentTimeMillis
      let any = false
      for (const t of topics.values()) {
        if (!t.relevant(change)) continue
        t.dirty = true
        if (t.eventsNamespace !== undefined) t.followUpAt = now + followUp
        any = true
      }
      if (any) work.openUnsafe()
    })))

    const renderTopic = (t: Topic) =>
      Effect.gen(function*() {
        const start = yield* Clock.currentTimeMillis
        t.dirty = false
        const html = yield* t.render.pipe(
          Effect.catchCause((cause) =>
            Effect.as(Effect.logWarning("web view: rendering failed", { cause: Cause.pretty(cause) }), undefined)
          )
        )
        const end = yield* Clock.currentTimeMillis
        renders++
        t.renderedAt = end
        t.renderMs = end - start
        if (html === undefined || html === t.html) return
        t.html = html
        t.chunk = encoder.encode(sseUpdate(html))
        t.sentBytes = t.chunk.byteLength * t.subscribers.size
        for (const q of t.subscribers) Queue.offerUnsafe(q, t.chunk)
      })

    const round = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      // First which Api pages want their Events read again, so that all of a namespace's pages
      // due now share one list; a namespace listed less than `eventsMinInterval` ago waits.
      for (const [key, t] of topics) {
        if (t.subscribers.size === 0) {
          topics.delete(key)
          continue
        }
        const ns = t.eventsNamespace
        if (ns === undefined || !(now >= t.pollAt || (t.followUpAt !== undefined && now >= t.followUpAt))) continue
        const listed = eventsCache.get(ns)?.at
        if (!staleNamespaces.has(ns) && listed !== undefined && now - listed < eventsMinInterval) {
          t.followUpAt = listed + eventsMinInterval
          continue
        }
        t.followUpAt = undefined
        t.pollAt = now + poll
        t.dirty = true
        staleNamespaces.add(ns)
      }
      // Forget the Events of namespaces no open page shows.
      for (const ns of eventsCache.keys()) {
        if (![...topics.values()].some((t) => t.eventsNamespace === ns)) eventsCache.delete(ns)
      }
      for (const t of topics.values()) {
        // A topic that takes long to render, or is big and open in many pages, is updated less
        // often: at most `budget` of the time rendering, at most `sendBudget` bytes a second.
        const spacing = Math.max(coalesce, t.renderMs / budget, (t.sentBytes / sendBudget) * 1000)
        if (t.dirty && now - t.renderedAt >= spacing) yield* renderTopic(t)
      }
      // Decided in one synchronous step with the close, so a change marked during a render above
      // (which opens the latch) is not lost.
      const pending = [...topics.values()].some((t) => t.dirty || t.followUpAt !== undefined || t.eventsNamespace !== undefined)
      if (!pending) work.closeUnsafe()
    })
    yield* Effect.forkScoped(Effect.forever(
      work.await.pipe(Effect.andThen(round), Effect.andThen(Effect.sleep(Duration.millis(coalesce))))
    ))
    yield* Effect.forkScoped(Effect.forever(Effect.sleep(Duration.millis(keepAlive)).pipe(
      Effect.andThen(Effect.sync(() => {
        for (const t of topics.values()) for (const q of t.subscribers) Queue.offerUnsafe(q, keepAliveChunk)
      }))
    )))

    /** The SSE stream of one topic; its subscription ends with the connection. */
    const liveStream = (topic: () => Topic): Stream.Stream<Uint8Array> =>
      Stream.callback<Uint8Array>((out) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            const t = topic()
            openStreams++
            t.subscribers.add(out)
            Queue.offerUnsafe(out, retryChunk)
            if (t.chunk !== undefined) Queue.offerUnsafe(out, t.chunk)
            if (t.chunk === undefined || t.dirty) work.openUnsafe()
            return t
          }),
          (t) =>
            Effect.sync(() => {
              openStreams--
              t.subscribers.delete(out)
            })
        ), { bufferSize: 2, strategy: "sliding" })

    const sseResponse = (topic: () => Topic) => {
      if (openStreams >= maxStreams) {
        refusedStreams++
        return HttpServerResponse.text(`too many live views open (${maxStreams}); close some and reload\n`, {
          status: 503,
          headers: { "retry-after": "10", "cache-control": "no-store" }
        })
      }
      return HttpServerResponse.stream(liveStream(topic), {
        contentType: "text/event-stream; charset=utf-8",
        headers: { "cache-control": "no-store", "x-accel-buffering": "no" }
      })
    }

    /** The current fragment of a topic when it is fresh, else a render of its own. */
    const current = (key: string, render: Effect.Effect<string>) =>
      Effect.suspend(() => {
        const t = topics.get(key)
        return t !== undefined && !t.dirty && t.html !== undefined ? Effect.succeed(t.html) : render
      })

    const apiParams = Effect.map(HttpRouter.params, (p) => {
      const namespace = p["namespace"] ?? ""
      const name = p["name"] ?? ""
      return DNS_NAME.test(namespace) && DNS_NAME.test(name) ? { namespace, name } : undefined
    })
    const notFound = page("<!doctype html><title>not found</title><p>Not found. <a href=\"/\">All Apis</a></p>\n", 404)

    const routes = HttpRouter.use((router) =>
      Effect.gen(function*() {
        yield* router.add("GET", "/", Effect.map(current("list", renderList), (fragment) => page(listPage(fragment))))
        yield* router.add("GET", "/events", Effect.sync(() => sseResponse(listTopic)))
        yield* router.add(
          "GET",
          "/apis/:namespace/:name",
          Effect.gen(function*() {
            const ref = yield* apiParams
            if (ref === undefined) return notFound
            const fragment = yield* current(`api ${ref.namespace}/${ref.name}`, renderApi(ref.namespace, ref.name))
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
            return sseResponse(() => apiTopic(ref.namespace, ref.name))
          })
        )
        yield* router.add("GET", "/assets/app.js", Effect.succeed(asset(appScript, "text/javascript; charset=utf-8")))
        yield* router.add("GET", "/assets/app.css", Effect.succeed(asset(appCss, "text/css; charset=utf-8")))
        yield* router.add("GET", "/healthz", Effect.succeed(HttpServerResponse.text("ok\n")))
      })
    )

    const host = options.host ?? "127.0.0.1"
    return serveRoutes(WebView, routes, { host, port: options.port, name: "web view" }).pipe(
      Layer.merge(Layer.succeed(WebViewMetrics, WebViewMetrics.of({
        stats: Effect.sync((): WebViewStats => ({ renders, openStreams, topics: topics.size, refusedStreams }))
      }))),
      Layer.tap((context) => Effect.logInfo(`web view at ${Context.get(context, WebView).url}/`))
    )
  }))

/** The web view's counters (renders so far, open streams, live topics, refused streams). */
export class WebViewMetrics extends Context.Service<WebViewMetrics, {
  readonly stats: Effect.Effect<WebViewStats>
}>()("api-controller/web/WebViewMetrics") {}
