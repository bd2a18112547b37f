/**
 * The web view (src/web) served by the whole app on the in-memory cluster, over real HTTP: the
 * pages, the server-sent events that follow the cluster, and that everything is self-contained.
 * The browser tests (test/cluster/WebView.test.ts) do the same through Chromium on a real server.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, References, type Scope } from "effect"
import { Kinds, type KubeObject } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { MemoryCluster } from "../support/MemoryCluster.ts"
import { appWith } from "../../src/runtime/App.ts"
import { detailFragment, esc, listFragment } from "../../src/web/Pages.ts"
import { sseUpdate, WebView, WebViewMetrics, type WebViewOptions } from "../../src/web/WebView.ts"
import { eventually } from "../support/Eventually.ts"
import { apiObject, testConfig } from "../support/Fixtures.ts"

const get = (url: string) =>
  Effect.tryPromise(async () => {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) })
    return { status: res.status, headers: res.headers, body: await res.text() }
  })

/** Reads server-sent events from `url` in the background; `updates()` is every `update` so far. */
const openStream = (url: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const controller = new AbortController()
      const updates: Array<string> = []
      const comments: Array<string> = []
      let contentType: string | null = null
      const done = (async () => {
        const res = await fetch(url, { signal: controller.signal })
        contentType = res.headers.get("content-type")
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
        let buffer = ""
        for (;;) {
          const { value, done } = await reader.read()
          if (done) return
          buffer += value
          let end: number
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            if (block.startsWith(":")) comments.push(block)
            const data = block.split("\n").find((l) => l.startsWith("data: "))
            if (block.startsWith("event: update") && data !== undefined) updates.push((JSON.parse(data.slice(6)) as { html: string }).html)
          }
        }
      })().catch(() => {})
      return { controller, updates: () => updates, comments: () => comments, contentType: () => contentType, done }
    }),
    (s) => Effect.sync(() => s.controller.abort())
  )


const withApp = <A, E>(
  body: (url: string, stats: WebViewMetrics["Service"]["stats"]) => Effect.Effect<A, E, KubeApi | Scope.Scope>,
  web: Partial<WebViewOptions> = {}
) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(appWith(MemoryCluster.layer(), {
      config: testConfig,
      web: { port: 0, coalesce: "20 millis", eventsFollowUp: "200 millis", eventsMinInterval: "300 millis", keepAlive: "300 millis", ...web }
    }))
    const url = Context.get(context, WebView).url
    return yield* body(url, Context.get(context, WebViewMetrics).stats).pipe(Effect.provideService(KubeApi, Context.get(context, KubeApi)))
  }).pipe(Effect.scoped, Effect.provideService(References.MinimumLogLevel, "Warn"))

const createApi = (namespace: string, name: string, hostname: string) =>
  Effect.flatMap(Effect.service(KubeApi), (kube) =>
    kube.create(Kinds.Api, apiObject(namespace, name, { service: { name, port: 80 }, hostname })))

describe("web view on the in-memory cluster", () => {
  it.live("lists the Apis and shows one with its current states highlighted, self-contained", () =>
    withApp((url) =>
      Effect.gen(function*() {
        yield* createApi("shop", "orders", "orders")
        const list = yield* eventually(
          Effect.gen(function*() {
            const r = yield* get(`${url}/`)
            assert.match(r.body, /data-machine="virtualService" data-state="Created" data-code="2"/)
            return r
          }),
          { live: true }
        )
        assert.strictEqual(list.status, 200)
        assert.strictEqual(list.headers.get("content-type"), "text/html; charset=utf-8")
        assert.match(list.headers.get("content-security-policy") ?? "", /default-src 'none'/)
        assert.match(list.body, /<tr class="api" data-key="shop\/orders">/)
        assert.match(list.body, /href="\/apis\/shop\/orders"/)
        assert.match(list.body, /data-ready="True"/)

        const detail = yield* get(`${url}/apis/shop/orders`)
        assert.strictEqual(detail.status, 200)
        for (const [machine, state] of [["validation", "Valid"], ["virtualService", "Created"], ["authentication", "Disabled"]]) {
          const svg = detail.body.match(new RegExp(`<svg [^>]*data-machine="${machine}"[\\s\\S]*?</svg>`))?.[0] ?? ""
          assert.match(svg, new RegExp(`<g class="state current" data-state="${state}"`), machine)
          assert.strictEqual((svg.match(/class="state current"/g) ?? []).length, 1, `one highlighted state in ${machine}`)
        }
        assert.match(detail.body, /<tr class="child" data-kind="VirtualService">/)
        assert.match(detail.body, /orders\.kyma\.local/)
        assert.match(detail.body, /Pending -&gt; Valid/)

        // Nothing refers to another origin: no src/href/url() outside this server (the SVG namespace is no fetch).
        for (const body of [list.body, detail.body]) {
          const external = [...body.matchAll(/(?:src|href)\s*=\s*"([^"]*)"|url\(([^)]*)\)|@import/g)]
            .map((m) => m[1] ?? m[2] ?? m[0])
            .filter((ref) => !/^(\/|#|data:)/.test(ref))
          assert.deepStrictEqual(external, [])
        }
      })
    ))

  it.live("an unknown Api is a 404 that stays live; a malformed path is a plain 404", () =>
    withApp((url) =>
      Effect.gen(function*() {
        const missing = yield* get(`${url}/apis/shop/nothing`)
        assert.strictEqual(missing.status, 404)
        assert.match(missing.body, /id="missing"/)
        assert.match(missing.body, /data-stream="\/apis\/shop\/nothing\/events"/)
        const bad = yield* get(`${url}/apis/Shop_/x`)
        assert.strictEqual(bad.status, 404)
        assert.notMatch(bad.body, /EventSource/)
      })
    ))

  it.live("the list stream sends the list now and again when an Api changes, only when it differs", () =>
    withApp((url) =>
      Effect.gen(function*() {
        yield* createApi("shop", "orders", "orders")
        const stream = yield* openStream(`${url}/events`)
        yield* eventually(Effect.sync(() => assert.isAbove(stream.updates().length, 0)), { live: true })
        assert.strictEqual(stream.contentType(), "text/event-stream; charset=utf-8")
        yield* createApi("shop", "billing", "billing")
        const last = yield* eventually(
          Effect.sync(() => {
            const html = stream.updates().at(-1) ?? ""
            assert.match(html, /data-key="shop\/billing"/)
            assert.match(html, /<tr class="api" data-key="shop\/billing">[\s\S]*?data-machine="virtualService" data-state="Created"/)
            return html
          }),
          { live: true }
        )
        // Consecutive updates always differ: an unchanged render is not sent.
        const all = stream.updates()
        for (let i = 1; i < all.length; i++) assert.notStrictEqual(all[i], all[i - 1])
        assert.match(last, /<span class="muted" id="count">2<\/span>/)
        // Idle connections get comment lines.
        yield* eventually(Effect.sync(() => assert.isAbove(stream.comments().length, 0)), { live: true })
      })
    ))

  it.live("an Api's stream follows its machines: a hostname taken and freed", () =>
    withApp((url) =>
      Effect.gen(function*() {
        const kube = yield* KubeApi
        const holder: KubeObject = {
          apiVersion: "networking.istio.io/v1alpha3",
          kind: "VirtualService",
          metadata: { name: "holder", namespace: "other" },
          spec: { hosts: ["orders.kyma.local"], gateways: ["g"] }
        }
        yield* kube.create(Kinds.VirtualService, holder)
        yield* createApi("shop", "orders", "orders")
        const stream = yield* openStream(`${url}/apis/shop/orders/events`)
        const highlighted = (state: string) =>
          eventually(
            Effect.sync(() => {
              const html = stream.updates().at(-1) ?? ""
              const svg = html.match(/<svg [^>]*data-machine="virtualService"[\s\S]*?<\/svg>/)?.[0] ?? ""
              assert.match(svg, new RegExp(`<g class="state current" data-state="${state}"`))
              return html
            }),
            { live: true }
          )
        const blocked = yield* highlighted("HostnameOccupied")
        assert.match(blocked, /already used by VirtualService other\/holder/)
        yield* kube.delete(Kinds.VirtualService, "other", "holder")
        const freed = yield* highlighted("Created")
        assert.match(freed, /HostnameOccupied -&gt; Created/)
        // The Events the reconciler recorded reach the page too (the Warning folded into its transition).
        yield* eventually(
          Effect.sync(() => assert.match(stream.updates().at(-1) ?? "", /<td>both<\/td>/)),
          { live: true }
        )
      })
    ))
})

describe("the web view never hurts the controller", () => {
  it.live("streams of one page share one render, and a burst of changes is about one update per stream", () =>
    withApp((url, stats) =>
      Effect.gen(function*() {
        const streams = yield* Effect.forEach(Array.from({ length: 20 }, () => 0), () => openStream(`${url}/events`))
        yield* eventually(Effect.sync(() => assert.isTrue(streams.every((st) => st.updates().length === 1))), { live: true })
        const before = yield* stats
        assert.strictEqual(before.topics, 1, "twenty list streams are one topic")
        assert.isAtMost(before.renders, 2, "rendered once for all of them")

        // A burst: 30 Apis at once, each then reconciled (status writes, children): well over 60 changes.
        for (let i = 0; i < 30; i++) yield* createApi("burst", `api-${i}`, `burst-${i}`)
        yield* eventually(Effect.sync(() => {
          for (const st of streams) {
            const html = st.updates().at(-1) ?? ""
            assert.match(html, /<span class="muted" id="count">30<\/span>/)
            assert.strictEqual((html.match(/data-machine="virtualService" data-state="Created"/g) ?? []).length, 30)
          }
        }), { live: true })
        const after = yield* stats
        const renders = after.renders - before.renders
        const perStream = streams.map((st) => st.updates().length - 1)
        // One render per coalescing window (500 ms here), shared: a handful, however many streams.
        assert.isAtMost(renders, 6, `renders for the burst: ${renders}`)
        assert.isTrue(perStream.every((n) => n >= 1 && n <= renders), `updates per stream: ${perStream.join(",")}`)
      }), { coalesce: "500 millis" }))

  it.live("at most maxStreams streams are open at once: the next is refused with 503 until one closes", () =>
    withApp((url, stats) =>
      Effect.gen(function*() {
        const open = yield* Effect.forEach([0, 1, 2], () => openStream(`${url}/events`))
        yield* eventually(Effect.sync(() => assert.isTrue(open.every((st) => st.updates().length >= 1))), { live: true })
        const refused = yield* get(`${url}/apis/shop/orders/events`)
        assert.strictEqual(refused.status, 503)
        assert.match(refused.body, /too many live views open \(3\)/)
        assert.strictEqual((yield* stats).refusedStreams, 1)
        // The pages themselves are still served.
        assert.strictEqual((yield* get(`${url}/`)).status, 200)
        open[0]!.controller.abort()
        yield* eventually(Effect.gen(function*() {
          assert.strictEqual((yield* stats).openStreams, 2)
        }), { live: true })
        const again = yield* openStream(`${url}/apis/shop/orders/events`)
        yield* eventually(Effect.sync(() => assert.isAbove(again.updates().length, 0)), { live: true })
      }), { maxStreams: 3 }))
})

describe("web pages", () => {
  it.live("run no inline script: the script and styles come from this origin, and the CSP allows nothing inline", () =>
    withApp((url) =>
      Effect.gen(function*() {
        const list = yield* get(`${url}/`)
        const csp = list.headers.get("content-security-policy") ?? ""
        assert.match(csp, /script-src 'self'/)
        assert.match(csp, /style-src 'self'/)
        assert.notInclude(csp, "unsafe-inline")
        assert.notInclude(csp, "unsafe-eval")
        // Every <script> has a src, and there is no <style> element nor style attribute.
        assert.deepStrictEqual([...list.body.matchAll(/<script(?![^>]*\bsrc=)[^>]*>/g)].map((m) => m[0]), [])
        assert.notMatch(list.body, /<style|\sstyle=/)
        const js = yield* get(`${url}/assets/app.js`)
        assert.strictEqual(js.status, 200)
        assert.strictEqual(js.headers.get("content-type"), "text/javascript; charset=utf-8")
        assert.include(js.body, "EventSource")
        const css = yield* get(`${url}/assets/app.css`)
        assert.strictEqual(css.headers.get("content-type"), "text/css; charset=utf-8")
      })))

  it("escape everything that comes from the cluster", () => {
    const evil = "<img src=x onerror=alert(1)>"
    const api = apiObject("shop", "orders", { service: { name: "orders", port: 80 }, hostname: evil })
    const withStatus = { ...api, metadata: { ...api.metadata, uid: "u" }, status: { validationStatus: 3, lastError: evil } }
    for (const html of [listFragment([withStatus], { synced: true }), detailFragment({ namespace: "shop", name: "orders", api: withStatus, children: [], events: { error: evil } })]) {
      assert.notInclude(html, evil)
      assert.include(html, esc(evil))
    }
  })

  it("the list heads a column per machine of the catalog, and each cell shows the machine its heading names", () => {
    const api = apiObject("shop", "orders", { service: { name: "orders", port: 80 }, hostname: "orders" })
    // Validation Valid (2), authentication off, VirtualService HostnameOccupied (4): no two alike.
    const blocked = { ...api, metadata: { ...api.metadata, uid: "u" }, status: { validationStatus: 2, virtualService: { code: 4 } } }
    const html = listFragment([blocked], { synced: true })
    const headings = [...html.matchAll(/<th(?: data-machine="([^"]*)")?>([^<]*)<\/th>/g)].map((m) => ({ machine: m[1], text: m[2] }))
    assert.deepStrictEqual(headings.map((h) => h.text), ["Api", "Hostname", "Service", "Validation", "Authentication", "VirtualService", "Ready"])
    const row = html.slice(html.indexOf("<tr class=\"api\""))
    const cells = [...row.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((m) => m[1]!.replace(/<[^>]*>/g, ""))
    assert.strictEqual(cells.length, headings.length)
    const under = (heading: string) => cells[headings.findIndex((h) => h.text === heading)]
    assert.strictEqual(under("Validation"), "Valid (2)")
    assert.strictEqual(under("Authentication"), "off")
    assert.strictEqual(under("VirtualService"), "HostnameOccupied (4)")
  })

  it("an update is one server-sent event whose data is one line", () => {
    const event = sseUpdate("<p>a\nb</p>\r\n")
    assert.match(event, /^event: update\ndata: [^\n]*\n\n$/)
  })
})
