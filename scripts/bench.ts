/**
 * `npm run bench`: what the controller costs, measured on a private local control plane.
 *
 * Starts its own kube-apiserver + etcd (scripts/lib/ControlPlane.ts, the same harness as the
 * cluster tier), runs the whole app in this process exactly as `api-controller run` builds it
 * (src/runtime/App.ts; default 2 workers), and measures:
 *
 *   - time to converge 100, then 1,000 new Apis with authentication (all Ready=True);
 *   - Kubernetes requests per new Api, in total and writes, by verb and resource;
 *   - requests during a no-op resync of every Api once converged (writes should be 0);
 *   - time and requests to delete the 100 (finalizer: children first);
 *   - memory with 1,000 Apis converged: this process's RSS and heap, and the servers' RSS;
 *   - then, with the in-process app stopped, the real CLI (`api-controller run`, a process of its
 *     own) started over an empty cluster and over the 1,000 converged Apis: its RSS once its
 *     caches are synced and its first pass over every Api is done.
 *
 * Prints figures, never judges them. Flags: --small N (100), --large N (1000), --workers N (2),
 * --concurrency N (parallel creates by the benchmark's client, 16), --no-process (skip the CLI).
 *
 * Convergence is read from the controller's own informer cache (no polling of the API server
 * that would compete with the controller), then confirmed once with a list. The benchmark's own
 * client (creates, deletes, the confirming lists) lives in this process too, so the RSS includes
 * it; its requests are not counted (the count is the controller's, from its instrumented KubeApi).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Context, Duration, Effect, Exit, Layer, Metric, Result, Scope } from "effect"
import { execFileSync, spawn } from "node:child_process"
import { createServer } from "node:net"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { ClusterCache } from "../src/controller/ClusterCache.ts"
import { Controller, defaultControllerOptions } from "../src/controller/Controller.ts"
import { decodeStatus } from "../src/domain/Api.ts"
import { parseControllerConfig } from "../src/domain/ControllerConfig.ts"
import { Kinds, type KubeObject } from "../src/domain/Kube.ts"
import { makeRequestTally, type RequestVerb, WRITE_REQUEST_VERBS } from "../src/k8s/InstrumentedKubeApi.ts"
import { KubeApi } from "../src/k8s/KubeApi.ts"
import { KubeApiLive } from "../src/k8s/KubeApiLive.ts"
import { appWith } from "../src/runtime/App.ts"
import * as Logging from "../src/runtime/Logging.ts"
import * as Metrics from "../src/runtime/Metrics.ts"
import { startControlPlane } from "./lib/ControlPlane.ts"
import { REPO_ROOT } from "./lib/RepoRoot.ts"

const args = process.argv.slice(2)
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`)
  const n = i >= 0 ? Number(args[i + 1]) : fallback
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got ${args[i + 1]}`)
  return n
}
const SMALL = option("small", 100)
const LARGE = option("large", 1000)
const WORKERS = option("workers", defaultControllerOptions.workers)
const CONCURRENCY = option("concurrency", 16)
const SEPARATE_PROCESS = !args.includes("--no-process")

const log = (line: string) => console.log(`[bench] ${line}`)

setFlagsFromString("--expose_gc")
const gc = runInNewContext("gc") as () => void

const MB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`

interface Memory {
  readonly rss: number
  readonly heapUsed: number
  readonly heapTotal: number
  readonly external: number
}

/** After two full collections, so the figure is what is held, not garbage. */
const memoryNow = (): Memory => {
  gc()
  gc()
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external }
}

const processRss = (pid: number): number | undefined => {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]
    return kb === undefined ? undefined : Number(kb) * 1024
  } catch {
    return undefined
  }
}

const config = (() => {
  const r = parseControllerConfig({
    DOMAIN_NAME: "kyma.local",
    GATEWAY_FQDN: "kyma-gateway.kyma-system.svc.cluster.local",
    DEFAULT_ISSUER: "https://dex.kyma.local",
    DEFAULT_JWKS_URI: "http://dex-service.kyma-system.svc.cluster.local:5556/keys",
    ENABLE_MTLS: "true"
  })
  if (Result.isFailure(r)) throw new Error(r.failure.map((p) => `${p.path}: ${p.message}`).join("\n"))
  return r.success
})()

const securedApi = (namespace: string, i: number): KubeObject => ({
  apiVersion: "gateway.kyma-project.io/v1alpha2",
  kind: "Api",
  metadata: { name: `api-${i}`, namespace },
  spec: {
    service: { name: `svc-${i}`, port: 8080 },
    hostname: `${namespace}-${i}`,
    authentication: [
      {
        type: "JWT",
        jwt: {
          issuer: "https://accounts.google.com",
          jwksUri: "https://www.googleapis.com/oauth2/v3/certs",
          triggerRule: { excludedPaths: [{ exact: "/status" }, { prefix: "/public" }] }
        }
      }
    ]
  }
})

const isReady = (api: KubeObject): boolean => {
  const s = decodeStatus(api["status"])
  return s.validationStatus === 2 && s.virtualService?.code === 2 && s.authenticationStatus?.code === 2 &&
    s.observedGeneration === api.metadata.generation &&
    s.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true
}


const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer()
    srv.on("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address()
      srv.close(() => resolve(typeof addr === "object" && addr !== null ? addr.port : 0))
    })
  })

interface CliMeasurement {
  readonly rss: number
  /** Peak RSS of the process (VmHWM). */
  readonly peak: number
  readonly passes: number
  readonly startMs: number
}

/**
 * `api-controller run` as its own process (Node + tsx, as `npm run controller` runs it), until its
 * caches are synced and it has made `passes` reconcile passes with an empty queue; then its RSS,
 * and SIGTERM. Undefined (with a line saying why) when it does not get there.
 */
const measureCli = (kubeconfigPath: string, passes: number) =>
  Effect.promise(async (): Promise<CliMeasurement | undefined> => {
    const port = await freePort()
    const started = Date.now()
    const child = spawn(process.execPath, [
      "--import",
      "tsx",
      join(REPO_ROOT, "src/main.ts"),
      "run",
      "--kubeconfig",
      kubeconfigPath,
      "--health-host",
      "127.0.0.1",
      "--health-port",
      String(port)
    ], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        DOMAIN_NAME: config.domainName,
        GATEWAY_FQDN: config.gatewayFqdn,
        DEFAULT_ISSUER: "https://dex.kyma.local",
        DEFAULT_JWKS_URI: "http://dex-service.kyma-system.svc.cluster.local:5556/keys",
        LOG_LEVEL: "error"
      },
      stdio: ["ignore", "ignore", "pipe"]
    })
    let stderr = ""
    child.stderr.on("data", (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-2000)))
    const exited = new Promise<void>((r) => child.once("exit", () => r()))
    try {
      const deadline = Date.now() + 120_000
      let quietSince: number | undefined
      while (Date.now() < deadline) {
        if (child.exitCode !== null) break
        const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).catch(() => "")
        const total = [...text.matchAll(new RegExp(`^${Metrics.MetricNames.reconcileTotal}\\{[^}]*\\} (\\S+)$`, "gm"))]
          .reduce((n, m) => n + Number(m[1]), 0)
        const depth = Number(new RegExp(`^${Metrics.MetricNames.workQueueDepth} (\\S+)$`, "m").exec(text)?.[1] ?? NaN)
        if (total >= passes && depth === 0) {
          quietSince ??= Date.now()
          if (Date.now() - quietSince >= 2_000) {
            const status = readFileSync(`/proc/${child.pid}/status`, "utf8")
            const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024
            return { rss: kb("VmRSS"), peak: kb("VmHWM"), passes: total, startMs: quietSince - started }
          }
        } else quietSince = undefined
        await new Promise((r) => setTimeout(r, 200))
      }
      log(`the CLI did not settle (exit ${child.exitCode}); its stderr ends: ${stderr.trim().split("\n").slice(-5).join(" | ")}`)
      return undefined
    } finally {
      if (child.exitCode === null) {
        child.kill("SIGTERM")
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
        await exited
        clearTimeout(timer)
      }
    }
  })

type Tally = ReturnType<typeof makeRequestTally>

const isWrite = (key: string) => WRITE_REQUEST_VERBS.has(key.split(" ")[0] as RequestVerb)

const program = Effect.gen(function*() {
  log(`${SMALL} then ${LARGE} Apis with authentication, ${WORKERS} workers, ${CONCURRENCY} parallel creates`)
  execFileSync(join(REPO_ROOT, "scripts/build-control-plane.sh"), ["--no-istioctl"], { stdio: "inherit" })
  const cp = yield* Effect.acquireRelease(
    Effect.promise(() => startControlPlane({ log })),
    (cp) => Effect.promise(() => cp.stop()).pipe(Effect.andThen(Effect.sync(() => log("control plane stopped"))))
  )
  const kube = KubeApiLive.layer({ kubeconfigPath: cp.kubeconfigPath })
  // The benchmark's own client: not instrumented, its requests are not counted.
  const client = yield* Effect.provide(Effect.service(KubeApi), kube)
  const memoryBefore = memoryNow()
  const cliEmpty = SEPARATE_PROCESS ? yield* measureCli(cp.kubeconfigPath, 0) : undefined

  const tally: Tally = makeRequestTally()
  const registry: Metric.MetricRegistry = new Map()
  const appScope = yield* Scope.make()
  yield* Effect.addFinalizer(() => Scope.close(appScope, Exit.void))
  const app = yield* Layer.buildWithScope(
    appWith(kube, { config, controller: { workers: WORKERS }, onRequest: tally.listener }).pipe(
      Layer.provide(Layer.mergeAll(
        Logging.layer({ format: "pretty", level: "Error" }),
        Layer.succeed(Metric.MetricRegistry, registry)
      ))
    ),
    appScope
  )
  const controller = Context.get(app, Controller)
  const cache = Context.get(app, ClusterCache)
  yield* cache.synced
  const memoryIdle = memoryNow()

  const passes = Metrics.metricsText.pipe(
    Effect.map((text) => {
      const byResult: Record<string, number> = {}
      for (const line of text.split("\n")) {
        const m = new RegExp(`^${Metrics.MetricNames.reconcileTotal}\\{result="(\\w+)"\\} (\\S+)$`).exec(line)
        if (m !== null) byResult[m[1]!] = Number(m[2])
      }
      return byResult
    }),
    Effect.provideService(Metric.MetricRegistry, registry)
  )
  const passCount = Effect.map(passes, (p) => Object.values(p).reduce((a, b) => a + b, 0))

  /** Until the queue has been empty with nothing in flight for `quietMs`; returns when that began. */
  const idle = (quietMs = 1_000) =>
    Effect.gen(function*() {
      let quietSince: number | undefined
      while (true) {
        const busy = (yield* controller.queue.depth) + (yield* controller.queue.inFlight)
        const now = Date.now()
        if (busy > 0) quietSince = undefined
        else if (quietSince === undefined) quietSince = now
        else if (now - quietSince >= quietMs) return quietSince
        yield* Effect.sleep("20 millis")
      }
    })

  const until = (what: string, done: () => boolean, limitMs: number) =>
    Effect.gen(function*() {
      const start = Date.now()
      while (!done()) {
        if (Date.now() - start > limitMs) return yield* Effect.die(new Error(`timed out after ${limitMs}ms waiting for ${what}`))
        yield* Effect.sleep("20 millis")
      }
      return Date.now()
    })

  const inNamespace = (ns: string) => cache.apis().filter((a) => a.metadata.namespace === ns)

  const converge = (ns: string, count: number) =>
    Effect.gen(function*() {
      yield* client.create(Kinds.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } })
      yield* idle(500)
      tally.reset()
      const passesBefore = yield* passCount
      const started = Date.now()
      yield* Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) => client.create(Kinds.Api, securedApi(ns, i)), {
        concurrency: CONCURRENCY,
        discard: true
      })
      const created = Date.now()
      const ready = yield* until(`${count} Apis Ready`, () => {
        const apis = inNamespace(ns)
        return apis.length === count && apis.every(isReady)
      }, 10 * 60_000)
      yield* idle()
      const requests = tally.snapshot()
      const passesDone = (yield* passCount) - passesBefore
      const listed = (yield* client.list(Kinds.Api, { namespace: ns })).items
      const confirmed = listed.length === count && listed.every(isReady)
      log(`${count} Apis: created in ${seconds(created - started)}, all Ready=True after ${seconds(ready - started)}` +
        ` (confirmed by a list: ${confirmed})`)
      return { count, createMs: created - started, readyMs: ready - started, requests, passes: passesDone, confirmed }
    })

  const resync = Effect.gen(function*() {
    yield* idle()
    tally.reset()
    const passesBefore = yield* passCount
    const apis = cache.apis().length
    const started = Date.now()
    yield* controller.resyncAll
    const quietAt = yield* idle()
    const requests = tally.snapshot()
    const result = {
      apis,
      ms: quietAt - started,
      passes: (yield* passCount) - passesBefore,
      writes: [...requests].filter(([k]) => isWrite(k)).reduce((s, [, n]) => s + n, 0),
      total: [...requests.values()].reduce((s, n) => s + n, 0)
    }
    log(`no-op resync of ${apis} Apis: ${result.passes} passes in ${seconds(result.ms)}, ${result.writes} writes, ${result.total} requests`)
    return result
  })

  const remove = (ns: string, count: number) =>
    Effect.gen(function*() {
      yield* idle()
      tally.reset()
      const started = Date.now()
      yield* Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) => client.delete(Kinds.Api, ns, `api-${i}`), {
        concurrency: CONCURRENCY,
        discard: true
      })
      const gone = yield* until(`${count} Apis deleted`, () => inNamespace(ns).length === 0, 5 * 60_000)
      yield* idle()
      const children = (yield* client.list(Kinds.VirtualService, { namespace: ns })).items.length +
        (yield* client.list(Kinds.Policy, { namespace: ns })).items.length
      log(`${count} Apis deleted (finalizer done) in ${seconds(gone - started)}; children left: ${children}`)
      return { count, ms: gone - started, requests: tally.snapshot(), children }
    })

  const small = yield* converge("bench-small", SMALL)
  const smallResync = yield* resync
  const removed = yield* remove("bench-small", SMALL)
  const large = yield* converge("bench-large", LARGE)
  const largeResync = yield* resync
  const memoryLarge = memoryNow()
  const serverRss = { etcd: processRss(cp.pids.etcd), apiserver: processRss(cp.pids.apiserver) }
  const passesByResult = yield* passes
  const cached = cache.informers.map((i) => `${i.kind.plural} ${i.size()}`).join(", ")
  yield* Scope.close(appScope, Exit.void)
  const cliLarge = SEPARATE_PROCESS ? yield* measureCli(cp.kubeconfigPath, LARGE) : undefined

  // ---------------------------------------------------------------------------------------------
  // the report

  const pad = (s: string, n: number, right = false) => (right ? s.padStart(n) : s.padEnd(n))
  const table = (rows: ReadonlyArray<ReadonlyArray<string>>) => {
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
    return rows.map((r) => r.map((c, i) => pad(c, widths[i]!, i > 0)).join("   ").trimEnd()).join("\n")
  }
  const per = (n: number, count: number) => (n / count).toFixed(2)
  const sum = (m: ReadonlyMap<string, number>, f: (k: string) => boolean) =>
    [...m].filter(([k]) => f(k)).reduce((s, [, n]) => s + n, 0)

  console.log(`\n== convergence (all Ready=True), ${WORKERS} workers`)
  console.log(table([
    ["", `${small.count} Apis`, `${large.count} Apis`],
    ["creates sent by the benchmark", seconds(small.createMs), seconds(large.createMs)],
    ["time to converge (first create -> all Ready)", seconds(small.readyMs), seconds(large.readyMs)],
    ["Apis per second", (small.count / (small.readyMs / 1000)).toFixed(1), (large.count / (large.readyMs / 1000)).toFixed(1)],
    ["reconcile passes per Api", per(small.passes, small.count), per(large.passes, large.count)],
    ["requests per new Api, total", per(sum(small.requests, () => true), small.count), per(sum(large.requests, () => true), large.count)],
    ["  of which writes", per(sum(small.requests, isWrite), small.count), per(sum(large.requests, isWrite), large.count)],
    ["confirmed by a list", String(small.confirmed), String(large.confirmed)]
  ]))

  const keys = [...new Set([...small.requests.keys(), ...large.requests.keys(), ...removed.requests.keys()])].sort((a, b) =>
    Number(isWrite(b)) - Number(isWrite(a)) || a.localeCompare(b)
  )
  console.log(`\n== requests per Api by verb and resource (the controller's only; watches and lists are per informer, not per Api)`)
  console.log(table([
    ["request", `new (${small.count})`, `new (${large.count})`, `deleted (${removed.count})`],
    ...keys.map((k) => [
      `${isWrite(k) ? "write" : "read "} ${k}`,
      per(small.requests.get(k) ?? 0, small.count),
      per(large.requests.get(k) ?? 0, large.count),
      per(removed.requests.get(k) ?? 0, removed.count)
    ])
  ]))

  console.log(`\n== no-op resync of every converged Api`)
  console.log(table([
    ["", `${smallResync.apis} Apis`, `${largeResync.apis} Apis`],
    ["passes", String(smallResync.passes), String(largeResync.passes)],
    ["until the queue was idle", seconds(smallResync.ms), seconds(largeResync.ms)],
    ["writes", String(smallResync.writes), String(largeResync.writes)],
    ["requests of any kind", String(smallResync.total), String(largeResync.total)]
  ]))

  console.log(`\n== deletion of ${removed.count} Apis: ${seconds(removed.ms)} until every finalizer was done; children left: ${removed.children}`)

  console.log(`\n== memory (after full GC; this process also holds the benchmark's own client and the control plane harness)`)
  console.log(table([
    ["", "rss", "heap used", "heap total", "external"],
    ...([
      ["before the app started", memoryBefore],
      ["app running, caches synced, 0 Apis", memoryIdle],
      [`app running, ${largeResync.apis} Apis converged`, memoryLarge]
    ] as const).map(([label, m]) => [label, MB(m.rss), MB(m.heapUsed), MB(m.heapTotal), MB(m.external)]),
    [
      "difference: 1,000 Apis vs 0",
      MB(memoryLarge.rss - memoryIdle.rss),
      MB(memoryLarge.heapUsed - memoryIdle.heapUsed),
      MB(memoryLarge.heapTotal - memoryIdle.heapTotal),
      MB(memoryLarge.external - memoryIdle.external)
    ]
  ]))
  console.log(`cached objects: ${cached}`)
  console.log(
    `servers: kube-apiserver rss ${serverRss.apiserver !== undefined ? MB(serverRss.apiserver) : "?"}, ` +
      `etcd rss ${serverRss.etcd !== undefined ? MB(serverRss.etcd) : "?"}`
  )
  if (SEPARATE_PROCESS) {
    console.log(`\n== the CLI, \`api-controller run\` in a process of its own (Node ${process.version} + tsx transpiling at start)`)
    const row = (label: string, m: CliMeasurement | undefined) =>
      m === undefined ? [label, "-", "-", "-", "-"] : [label, MB(m.rss), MB(m.peak), String(m.passes), seconds(m.startMs)]
    console.log(table([
      ["", "rss", "peak rss", "passes", "start -> settled"],
      row("over an empty cluster", cliEmpty),
      row(`over ${LARGE} converged Apis`, cliLarge)
    ]))
  }
  console.log(`passes by result (in-process app): ${JSON.stringify(passesByResult)}; node ${process.version}, ${Duration.format(Duration.millis(Math.round(process.uptime() * 1000)))} in all`)
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
