/**
 * The web view in a real browser: headless Chromium (the npm package `@sparticuz/chromium`, which
 * ships the binary, driven by playwright-core; nothing is downloaded at run time) against the controller (the whole app with `web`) on the real
 * kube-apiserver + etcd of the cluster tier.
 *
 * - the list shows the Apis with their machine states, and a new Api appears without a reload;
 * - each list column is headed by the machine whose state its cells show (from the catalog);
 * - an Api's page shows its diagrams with the current state highlighted (HostnameOccupied);
 * - freeing the hostname in the cluster moves the open page to Created, without a reload;
 * - the pages fetch nothing from anywhere but the controller, and log no error (CSP included);
 * - markup and script in anything an Api, an Event or a child can carry is shown as text and never
 *   runs, and the Content-Security-Policy blocks an inline script even if one got into the page.
 *
 * `WEB_VIEW_SCREENSHOT=docs/web-view.png` also saves a screenshot of the Api page (the one docs/observing.md shows).
 */
import { assert, describe, it } from "@effect/vitest"
import Sparticuz from "@sparticuz/chromium"
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { promisify } from "node:util"
import { Context, Duration, Effect, Layer } from "effect"
import { type Browser, chromium, type Page } from "playwright-core"
import { Kinds, type KubeObject } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { appWith } from "../../src/runtime/App.ts"
import * as Logging from "../../src/runtime/Logging.ts"
import { WebView } from "../../src/web/WebView.ts"
import { REPO_ROOT } from "../../scripts/lib/RepoRoot.ts"
import { liveKubeApi, testNamespace } from "../support/ClusterTest.ts"
import { apiObject, googleJwt, testConfig } from "../support/Fixtures.ts"

/**
 * Sparticuz's flags for a headless shell without a sandbox, less the two that weaken what this
 * test checks (the page's CSP and same-origin rules), plus no traffic of the browser's own on a
 * network that reaches nothing (playwright adds the rest: no component updates, sync, ...).
 */
const CHROMIUM_ARGS = [
  ...Sparticuz.args.filter((a) => a !== "--disable-web-security" && a !== "--allow-running-insecure-content"),
  "--disable-background-networking"
]

/** How long the browser waits for the page to show something (the controller reconciles meanwhile). */
const WAIT_MS = 20_000

const browserEffect = <A>(f: () => Promise<A>): Effect.Effect<A, Error> =>
  Effect.tryPromise({ try: f, catch: (e) => (e instanceof Error ? e : new Error(String(e))) })

/**
 * The package's browser, unpacked once per package version. Its `executablePath()` unpacks into
 * `os.tmpdir()` (chromium, fonts, SwiftShader) and reuses whatever `chromium` it finds there, so it
 * runs in a child process whose TMPDIR is a fresh directory, renamed into place only once complete:
 * a run that dies halfway or another checkout unpacking at the same time never leaves a half
 * binary behind. Its fonts.conf names a fixed /tmp/fonts; ours names the unpacked fonts.
 */
const unpackChromium = async (): Promise<{ readonly executablePath: string; readonly env: Record<string, string> }> => {
  const pkg = join(REPO_ROOT, "node_modules/@sparticuz/chromium/package.json")
  const version = (JSON.parse(readFileSync(pkg, "utf8")) as { version: string }).version
  const dir = join(tmpdir(), `api-controller-chromium-${version}`)
  if (!existsSync(join(dir, "fonts.conf"))) {
    const staging = mkdtempSync(join(tmpdir(), "api-controller-chromium-unpack-"))
    try {
      await promisify(execFile)(
        process.execPath,
        ["--input-type=module", "-e", `import c from "@sparticuz/chromium"; await c.executablePath()`],
        { cwd: REPO_ROOT, env: { ...process.env, TMPDIR: staging }, timeout: 120_000 }
      )
      writeFileSync(
        join(staging, "fonts.conf"),
        `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n` +
          `  <dir>${join(dir, "fonts")}</dir>\n  <cachedir>${join(dir, "fonts-cache")}</cachedir>\n</fontconfig>\n`
      )
      renameSync(staging, dir)
    } catch (e) {
      rmSync(staging, { recursive: true, force: true })
      // Another run renamed its complete copy into place first: use that one.
      if (!existsSync(join(dir, "fonts.conf"))) throw e
    }
  }
  return {
    executablePath: join(dir, "chromium"),
    env: { ...process.env as Record<string, string>, FONTCONFIG_FILE: join(dir, "fonts.conf") }
  }
}

/** Chromium for this test, closed with its scope. */
const launchChromium = Effect.acquireRelease(
  browserEffect(async () => {
    const { executablePath, env } = await unpackChromium()
    return chromium.launch({ executablePath, args: CHROMIUM_ARGS, env, timeout: 30_000 })
  }),
  (browser: Browser) => Effect.promise(() => browser.close())
)

/** A page that records every request and every error it logs. */
const openPage = (browser: Browser) =>
  Effect.gen(function*() {
    const context = yield* Effect.acquireRelease(
      browserEffect(() => browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 })),
      (c) => Effect.promise(() => c.close())
    )
    const page = yield* browserEffect(() => context.newPage())
    page.setDefaultTimeout(WAIT_MS)
    const requests: Array<string> = []
    const errors: Array<string> = []
    page.on("request", (r) => requests.push(r.url()))
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text())
    })
    page.on("pageerror", (e) => errors.push(e.message))
    return { page, requests, errors }
  })

const waitFor = (page: Page, selector: string) =>
  browserEffect(() => page.locator(selector).first().waitFor({ state: "attached", timeout: WAIT_MS })).pipe(
    // On a timeout, show what the page did show.
    Effect.tapError(() =>
      browserEffect(() => page.locator("main").innerText()).pipe(
        Effect.tap((text) => Effect.sync(() => console.log(`the page while waiting for ${selector}:\n${text}`))),
        Effect.ignore
      )
    )
  )

/** A marker in the window: still there later means the page was not reloaded. */
const mark = (page: Page) => browserEffect(() => page.evaluate("window.noReload = 42"))
const marked = (page: Page) => browserEffect(() => page.evaluate("window.noReload"))

const quietLogs = Logging.layer({ format: "pretty", level: "Error" })

const holderOf = (namespace: string, host: string): KubeObject => ({
  apiVersion: "networking.istio.io/v1alpha3",
  kind: "VirtualService",
  metadata: { name: "holder", namespace },
  spec: { hosts: [host], gateways: ["kyma-gateway"] }
})

describe("web view in Chromium on a real kube-apiserver", () => {
  it.live("lists the Apis, shows one's highlighted state, and follows the cluster without a reload", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const namespace = yield* testNamespace("web")
      const otherNamespace = yield* testNamespace("web-holder")
      const host = (name: string) => `${namespace}-${name}`
      const key = (name: string) => `${namespace}/${name}`

      // Before the controller: the browser must start (a broken one fails here, clearly).
      const browser = yield* launchChromium

      // The controller with its web view, on the test control plane.
      const context = yield* Layer.build(
        appWith(liveKubeApi(), {
          config: testConfig,
          controller: { workers: 2, resyncPeriod: Duration.hours(1) },
          web: { port: 0 }
        }).pipe(Layer.provide(quietLogs))
      )
      const web = Context.get(context, WebView)
      assert.strictEqual(web.host, "127.0.0.1")

      // Someone else's VirtualService holds the hostname orders asks for.
      yield* kube.create(Kinds.VirtualService, holderOf(otherNamespace, `${host("orders")}.kyma.local`))
      yield* kube.create(Kinds.Api, apiObject(namespace, "httpbin", { service: { name: "httpbin", port: 8000 }, hostname: host("httpbin") }))
      yield* kube.create(Kinds.Api, apiObject(namespace, "orders", {
        service: { name: "orders", port: 8080 },
        hostname: host("orders"),
        authentication: [googleJwt]
      }))

      const { page, requests, errors } = yield* openPage(browser)

      // ---- the list
      yield* browserEffect(() => page.goto(`${web.url}/`))
      const row = (name: string) => `tr.api[data-key="${key(name)}"]`
      yield* waitFor(page, `${row("httpbin")} [data-machine="virtualService"][data-state="Created"]`)
      yield* waitFor(page, `${row("httpbin")} [data-ready="True"]`)
      yield* waitFor(page, `${row("orders")} [data-machine="virtualService"][data-state="HostnameOccupied"][data-code="4"]`)
      // Its authentication (a Policy here: testConfig pins AUTH_BACKEND=istio-policy) waits for the hostname too.
      yield* waitFor(page, `${row("orders")} [data-machine="authentication"][data-state="NotCreated"]`)
      yield* waitFor(page, "#conn[data-state=\"live\"]")
      const ordersRow = yield* browserEffect(() => page.locator(row("orders")).innerText())
      assert.match(ordersRow, /HostnameOccupied \(4\)/)
      assert.match(ordersRow, new RegExp(`already used by VirtualService ${otherNamespace}/holder`))

      // A new Api shows up on the open list by itself.
      yield* mark(page)
      yield* kube.create(Kinds.Api, apiObject(namespace, "late", { service: { name: "late", port: 80 }, hostname: host("late") }))
      yield* waitFor(page, `${row("late")} [data-machine="virtualService"][data-state="Created"]`)
      assert.strictEqual(yield* marked(page), 42, "the list updated in place, not by a reload")

      // ---- one Api: follow the link
      yield* browserEffect(() => Promise.all([page.waitForURL(`${web.url}/apis/${key("orders")}`), page.click(`${row("orders")} a`)]))
      const current = (machine: string) => `svg[data-machine="${machine}"] g.state.current`
      yield* waitFor(page, `${current("virtualService")}[data-state="HostnameOccupied"]`)
      yield* waitFor(page, `${current("validation")}[data-state="Valid"]`)
      yield* waitFor(page, `${current("authentication")}[data-state="NotCreated"]`)
      // What the browser draws: each diagram, its highlighted states, and their fill.
      const highlighted = (yield* browserEffect(() =>
        page.evaluate(`[...document.querySelectorAll("svg.lifecycle")].map((svg) => ({
          machine: svg.getAttribute("data-machine"),
          current: [...svg.querySelectorAll("g.state.current")].map((g) => g.getAttribute("data-state")),
          fill: svg.querySelector("g.state.current rect")?.getAttribute("fill")
        }))`)
      )) as ReadonlyArray<{ machine: string; current: ReadonlyArray<string>; fill: string }>
      assert.deepStrictEqual(highlighted.map((h) => [h.machine, h.current]), [
        ["validation", ["Valid"]],
        ["authentication", ["NotCreated"]],
        ["virtualService", ["HostnameOccupied"]]
      ])
      assert.isTrue(highlighted.every((h) => h.fill === "#fde68a"), "the current state is drawn in the highlight colour")
      const blockedText = yield* browserEffect(() => page.locator("main").innerText())
      assert.match(blockedText, new RegExp(`already used by VirtualService ${otherNamespace}/holder`))
      assert.match(blockedText, /NotCreated -> HostnameOccupied/)

      // ---- free the hostname in the cluster: the open page moves on by itself
      yield* mark(page)
      yield* waitFor(page, "#conn[data-state=\"live\"]")
      // The stream's first update (the page as rendered when it opened) has arrived: the change
      // below must bring one more. (Waiting for it keeps the two from being coalesced into one.)
      yield* waitFor(page, "#live:not([data-updates=\"0\"])")
      const updatesBefore = Number(yield* browserEffect(() => page.locator("#live").getAttribute("data-updates")))
      yield* kube.delete(Kinds.VirtualService, otherNamespace, "holder")
      yield* waitFor(page, `${current("virtualService")}[data-state="Created"]`)
      yield* waitFor(page, `${current("authentication")}[data-state="Created"]`)
      yield* waitFor(page, "tr.child[data-kind=\"Policy\"]")
      yield* waitFor(page, "tr.child[data-kind=\"VirtualService\"]")
      yield* waitFor(page, "tr.step[data-machine=\"virtualService\"][data-to=\"Created\"]")
      yield* waitFor(page, "h1 [data-ready=\"True\"]")
      assert.strictEqual(yield* marked(page), 42, "the Api page updated in place, not by a reload")
      const freedText = yield* browserEffect(() => page.locator("main").innerText())
      // One pass from blocked to serving: the server's answers confirm the writes (SPEC 5).
      assert.match(freedText, /HostnameOccupied -> Created/)
      assert.match(freedText, new RegExp(`${host("orders")}\\.kyma\\.local`))
      const updates = yield* browserEffect(() => page.locator("#live").getAttribute("data-updates"))
      assert.isAbove(Number(updates), updatesBefore, "the change arrived as an update over the event stream")

      const screenshot = process.env["WEB_VIEW_SCREENSHOT"]
      if (screenshot !== undefined && screenshot !== "") {
        // Let the Events that follow the last transition arrive, so the timeline is complete.
        yield* Effect.sleep("1500 millis")
        const path = resolve(REPO_ROOT, screenshot)
        mkdirSync(dirname(path), { recursive: true })
        yield* browserEffect(() => page.screenshot({ path, fullPage: true }))
      }

      // Self-contained: every request went to the controller, and nothing was refused or failed.
      const foreign = requests.filter((u) => !u.startsWith(`${web.url}/`))
      assert.deepStrictEqual(foreign, [], "requests to anything but the web view")
      assert.deepStrictEqual(errors, [], "errors in the browser console")
    }).pipe(Effect.scoped, Effect.provide(liveKubeApi())), { timeout: 120_000 })

  it.live("the list shows each machine's state under the heading that names it", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const namespace = yield* testNamespace("web-columns")
      const otherNamespace = yield* testNamespace("web-columns-holder")
      const browser = yield* launchChromium
      const context = yield* Layer.build(
        appWith(liveKubeApi(), { config: testConfig, controller: { workers: 2, resyncPeriod: Duration.hours(1) }, web: { port: 0 } })
          .pipe(Layer.provide(quietLogs))
      )
      const web = Context.get(context, WebView)

      // Two Apis whose machines all differ from each other's columns: open (authentication off,
      // VirtualService Created) and blocked (its hostname held: VirtualService HostnameOccupied,
      // authentication NotCreated while it waits).
      yield* kube.create(Kinds.VirtualService, holderOf(otherNamespace, `${namespace}-blocked.kyma.local`))
      yield* kube.create(Kinds.Api, apiObject(namespace, "open", { service: { name: "open", port: 80 }, hostname: `${namespace}-open` }))
      yield* kube.create(Kinds.Api, apiObject(namespace, "blocked", {
        service: { name: "blocked", port: 80 },
        hostname: `${namespace}-blocked`,
        authentication: [googleJwt]
      }))

      const { page, errors } = yield* openPage(browser)
      yield* browserEffect(() => page.goto(`${web.url}/`))
      const row = (name: string) => `tr.api[data-key="${namespace}/${name}"]`
      yield* waitFor(page, `${row("open")} [data-machine="virtualService"][data-state="Created"]`)
      yield* waitFor(page, `${row("blocked")} [data-machine="virtualService"][data-state="HostnameOccupied"]`)
      yield* waitFor(page, `${row("blocked")} [data-machine="authentication"][data-state="NotCreated"]`)

      // What the table says, heading by heading (textContent: the headings are upper-cased by CSS only).
      const table = (yield* browserEffect(() =>
        page.evaluate(`({
          headings: [...document.querySelectorAll("#apis thead th")].map((th) => th.textContent.trim()),
          rows: Object.fromEntries([...document.querySelectorAll("#apis tr.api")].map((tr) =>
            [tr.getAttribute("data-key"), [...tr.children].map((td) => td.firstChild?.textContent?.trim() ?? "")]))
        })`)
      )) as { readonly headings: ReadonlyArray<string>; readonly rows: Readonly<Record<string, ReadonlyArray<string>>> }
      assert.deepStrictEqual(table.headings, ["Api", "Hostname", "Service", "Validation", "Authentication", "VirtualService", "Ready"])
      const under = (name: string, heading: string) => table.rows[`${namespace}/${name}`]?.[table.headings.indexOf(heading)]
      assert.strictEqual(under("open", "Validation"), "Valid (2)")
      assert.strictEqual(under("open", "Authentication"), "off")
      assert.strictEqual(under("open", "VirtualService"), "Created (2)")
      assert.strictEqual(under("blocked", "Validation"), "Valid (2)")
      assert.strictEqual(under("blocked", "Authentication"), "NotCreated (0)")
      assert.strictEqual(under("blocked", "VirtualService"), "HostnameOccupied (4)")
      assert.deepStrictEqual(errors, [], "errors in the browser console")
    }).pipe(Effect.scoped, Effect.provide(liveKubeApi())), { timeout: 120_000 })

  it.live("shows markup from the cluster as text, runs none of it, and the CSP blocks inline script anyway", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const namespace = yield* testNamespace("web-xss")
      const browser = yield* launchChromium
      const context = yield* Layer.build(
        appWith(liveKubeApi(), { config: testConfig, controller: { workers: 2, resyncPeriod: Duration.hours(1) }, web: { port: 0 } })
          .pipe(Layer.provide(quietLogs))
      )
      const web = Context.get(context, WebView)

      // Every way in that admission leaves open: excluded paths (in the spec and the Policy), an
      // invalid regex (quoted in lastError), an Event's reason and message (anyone may write
      // Events), and a foreign VirtualService under the Api's name (its hosts in the children).
      const [img, script, svg] = [
        "<img src=x onerror=\"window.__xss='img'\">",
        "<script>window.__xss='script'</script>",
        "\"><svg onload=\"window.__xss='svg'\">"
      ] as const
      const payloads = [
        img,
        script,
        svg,
        "javascript:window.__xss='href'",
        "</td></tr></table><iframe srcdoc=\"<script>parent.__xss='iframe'</script>\">"
      ]
      yield* kube.create(Kinds.Api, apiObject(namespace, "hostile", {
        service: { name: "hostile", port: 80 },
        hostname: `${namespace}-hostile`,
        authentication: [{
          type: "JWT",
          jwt: {
            issuer: "https://issuer.example.com",
            jwksUri: "https://issuer.example.com/jwks",
            triggerRule: { excludedPaths: [...payloads.map((p) => ({ exact: p })), { regex: `(${img}` }] }
          }
        }]
      }))
      yield* kube.create(Kinds.VirtualService, {
        apiVersion: "networking.istio.io/v1alpha3",
        kind: "VirtualService",
        metadata: { name: "squatted", namespace },
        spec: { hosts: payloads }
      })
      yield* kube.create(Kinds.Api, apiObject(namespace, "squatted", { service: { name: "squatted", port: 80 }, hostname: `${namespace}-squatted` }))
      const hostile = yield* kube.get(Kinds.Api, namespace, "hostile")
      yield* kube.create(Kinds.Event, {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: "hostile.xss", namespace },
        involvedObject: { apiVersion: hostile.apiVersion, kind: "Api", name: "hostile", namespace, uid: hostile.metadata.uid },
        type: "Warning",
        reason: script,
        message: payloads.join(" "),
        source: { component: "someone-else" },
        firstTimestamp: "2026-01-01T00:00:00Z",
        lastTimestamp: "2026-01-01T00:00:00Z",
        count: 1
      })

      const { page, errors } = yield* openPage(browser)
      const dialogs: Array<string> = []
      page.on("dialog", (d) => {
        dialogs.push(d.message())
        void d.dismiss()
      })
      const ran = () => browserEffect(() => page.evaluate("window.__xss"))
      const noInjectedElements = () =>
        browserEffect(() =>
          page.evaluate(`document.querySelectorAll("#live img, #live iframe, #live script, #live svg[onload], #live [onerror], #live a[href^='javascript']").length`)
        )

      // The list: the refused Api's lastError quotes the regex, markup and all, as text.
      yield* browserEffect(() => page.goto(`${web.url}/`))
      yield* waitFor(page, `tr.api[data-key="${namespace}/hostile"] [data-machine="validation"][data-state="Invalid"]`)
      const listText = yield* browserEffect(() => page.locator(`tr.api[data-key="${namespace}/hostile"]`).innerText())
      // lastError quotes the regex as JSON, so its own quotes come back escaped.
      assert.include(listText, "(<img src=x onerror=")
      assert.isUndefined(yield* ran())
      assert.strictEqual(yield* noInjectedElements(), 0)

      // The Api page: spec, lastError and the Event in the timeline; the foreign child's hosts.
      yield* browserEffect(() => page.goto(`${web.url}/apis/${namespace}/hostile`))
      yield* waitFor(page, `tr.step[data-machine=""]`)
      const detailText = yield* browserEffect(() => page.locator("main").innerText())
      for (const p of payloads) assert.include(detailText, p, "shown as text")
      yield* browserEffect(() => page.goto(`${web.url}/apis/${namespace}/squatted`))
      yield* waitFor(page, `tr.child[data-kind="VirtualService"]`)
      const childText = yield* browserEffect(() => page.locator("tr.child").innerText())
      assert.include(childText, svg)
      assert.isUndefined(yield* ran(), "no payload ran")
      assert.strictEqual(yield* noInjectedElements(), 0, "no payload became an element")
      assert.deepStrictEqual(dialogs, [])
      assert.deepStrictEqual(errors, [], "errors in the browser console")

      // Defence in depth: a script put into the page inline is refused by the CSP.
      const refused = yield* browserEffect(() =>
        page.evaluate(`new Promise((resolve) => {
          document.addEventListener("securitypolicyviolation", (e) => resolve(e.violatedDirective), { once: true })
          const s = document.createElement("script")
          s.textContent = "window.__xss = 'inline'"
          document.body.appendChild(s)
          setTimeout(() => resolve("no violation"), 2000)
        })`)
      )
      assert.match(String(refused), /^script-src/)
      assert.isUndefined(yield* ran(), "the inline script did not run")
    }).pipe(Effect.scoped, Effect.provide(liveKubeApi())), { timeout: 120_000 })
})
