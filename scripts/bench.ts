/**
 * `npm run bench`: what the controller costs, against what the API server allows, in one run.
 *
 * On a private control plane (scripts/lib/ControlPlane.ts) it runs the production bundle
 * (scripts/bundle.ts) the way the Deployment runs it (deploy/manager/deployment.yaml: its
 * arguments, NODE_OPTIONS, the ConfigMap's environment, the image's node flags), and a raw
 * baseline: a minimal HTTPS client that makes exactly the necessary writes per Api (create the
 * VirtualService, create the authentication child, one status patch) with the same concurrency,
 * handed each Api as it is created: the time a perfect controller would take on this server.
 *
 *   1,000 Apis: raw baseline and controller, `--repeat` times in alternating order, each run on a
 *     fresh control plane after a warm-up run of 200 (median; each run is listed);
 *   10,000 Apis: the controller once (fresh control plane, warm-up first), for T(10N)/T(N) and the
 *     memory it holds, then the raw baseline once on a fresh plane of its own, for the server's own
 *     T(10N)/T(N);
 *   a restart over the converged Apis (its first pass over every Api is a full resync): writes;
 *   the CPU one request costs in the controller's client stack (scripts/bench-client.ts).
 *
 * Every Api is authenticated (one JWT issuer) and created by the benchmark in a burst (16 in
 * parallel). Converged = every Api seen Ready=True for its generation by the benchmark's own
 * watch, the same watch for both. Requests are the API server's own count
 * (`apiserver_request_total` from its /metrics, before and after), by verb and resource; the
 * benchmark's creates of the Apis themselves and Lease traffic (leader election, the server's
 * own heartbeats) are shown apart and not counted per Api. Passes come from the controller's
 * /metrics, memory and CPU time from /proc (RSS as it is, no forced collection).
 *
 * Prints figures, never judges them. About 12 minutes on two cores (`--large 0` skips both
 * 10,000 runs: about 6 minutes). Flags: --small N (1000), --large N (10000, 0 = skip),
 * --repeat N (5), --concurrency N (parallel creates, 16), --main <dist/main.js> (measure that
 * bundle instead of building one), --cpu-prof (profile the controller; prints where its CPU time
 * goes and keeps the .cpuprofile files), --node-options "<flags>" and --node-flags "<flags>"
 * (instead of the Deployment's NODE_OPTIONS and the image's node flags, to compare V8 settings).
 * --auth-backend istio-policy|istio-security (instead of the ConfigMap's auto), --plane-dir <dir>
 * (where the control planes keep etcd's data and logs; default /dev/shm, memory, with 2 GiB free there),
 * --allow-busy (measure even with other control planes or benchmarks running; refused otherwise).
 * --compare <dist/main.js>: a second controller bundle measured in the same run, each repeat's three
 * runs (raw, this controller, the other) in rotating order on fresh planes, and a table of the two
 * side by side with each run listed (a loaded machine moves single runs more than most changes do).
 * --write-docs writes what the run printed to docs/benchmarks.md (never copy figures by hand).
 * BENCH_CONTROLLER_LOG=<file> appends the controller's log (stdout) to that file.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { openSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs"
import { Agent, request } from "node:https"
import { freePort } from "./lib/FreePort.ts"
import { SourceMap } from "node:module"
import { cpus, loadavg, tmpdir, totalmem } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { parse, parseAllDocuments } from "yaml"
import { decodeStatus } from "../src/domain/Api.ts"
import { MetricNames } from "../src/runtime/Metrics.ts"
import { startControlPlane } from "./lib/ControlPlane.ts"
import { kubeconfigTls } from "./lib/KubeconfigTls.ts"
import { REPO_ROOT } from "./lib/RepoRoot.ts"
import { clientCostTable, measureClients } from "./bench-client.ts"
import { bundle } from "./bundle.ts"

// ---------------------------------------------------------------------------------------------
// options

const args = process.argv.slice(2)
const numberOption = (name: string, fallback: number, min = 1) => {
  const i = args.indexOf(`--${name}`)
  const n = i >= 0 ? Number(args[i + 1]) : fallback
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer >= ${min}, got ${args[i + 1]}`)
  return n
}
const stringOption = (name: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : undefined
}
const SMALL = numberOption("small", 1000)
const LARGE = numberOption("large", 10_000, 0)
const REPEAT = numberOption("repeat", 5)
/** Apis of the small run that warms up each side before its measured run. */
const WARM = 200
const CONCURRENCY = numberOption("concurrency", 16)
const MAIN = stringOption("main")
/** Another bundle, measured beside this one in every repeat (see the header). */
const COMPARE = stringOption("compare")
const CPU_PROF = args.includes("--cpu-prof")
const WRITE_DOCS = args.includes("--write-docs")

/** The report: printed, and kept for docs/benchmarks.md (`--write-docs`), so no figure is ever copied by hand. */
const reported: Array<string> = []
const report = (text: string) => {
  console.log(text)
  reported.push(text)
}
const loadAtStart = loadavg()

/** docs/benchmarks.md: what this run printed, with what it ran on and how it was asked for. */
const writeDocs = (workers: number) => {
  const when = new Date().toISOString().replace(/\.\d+Z$/, "Z")
  const flags = args.filter((a) => a !== "--write-docs").join(" ")
  const text = [
    "# Benchmarks",
    "",
    "Written by `npm run bench -- --write-docs` (scripts/bench.ts), never by hand: what one run printed. How the",
    "benchmark works and what each figure means is in [testing.md](testing.md#the-benchmark). Figures move from run to",
    "run and with whatever else the machine does; compare runs made the same day on the same machine.",
    "",
    `- run: ${when}, \`npm run bench${flags !== "" ? ` -- ${flags}` : ""}\`, ${Math.round(process.uptime())} s`,
    `- machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; load average ${loadAtStart.map((n) => n.toFixed(2)).join(" ")} at the start, ${loadavg().map((n) => n.toFixed(2)).join(" ")} at the end`,
    `- the controller as the Deployment runs it, ${workers} workers; AUTH_BACKEND=${AUTH_BACKEND ?? "auto (the Deployment's)"}`,
    "",
    "```",
    reported.join("\n").trim(),
    "```",
    ""
  ].join("\n")
  writeFileSync(join(REPO_ROOT, "docs/benchmarks.md"), text)
  log("wrote docs/benchmarks.md")
}
/** Instead of the Deployment's NODE_OPTIONS (to compare V8 settings); "" for none. */
const NODE_OPTIONS = stringOption("node-options")
/** Instead of the image's node flags (Dockerfile ENTRYPOINT): V8 flags NODE_OPTIONS does not take. */
const NODE_FLAGS = stringOption("node-flags")
/** Instead of the ConfigMap's AUTH_BACKEND (auto: istio-security where served): istio-policy is the issue's like-for-like figure. */
const AUTH_BACKEND = stringOption("auth-backend")
/**
 * Where the control planes keep etcd's data and their logs: memory (/dev/shm) where the machine has
 * room there (a container's is often 64 MB; 10,000 Apis need a few hundred), so the figures are not
 * at the mercy of the disk; else the temporary directory. `--plane-dir <dir>` for another place.
 */
const PLANE_DIR = stringOption("plane-dir") ?? (() => {
  try {
    const shm = statfsSync("/dev/shm")
    return shm.bavail * shm.bsize >= 2 * 1024 ** 3 ? "/dev/shm" : undefined
  } catch {
    return undefined // no /dev/shm
  }
})()

const log = (line: string) => console.log(`[bench] ${new Date().toISOString().slice(11, 19)} ${line}`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const MB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`
const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

// ---------------------------------------------------------------------------------------------
// the Deployment, as deployed

interface Deployed {
  readonly nodeFlags: ReadonlyArray<string>
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  readonly workers: number
}

/** The image's node flags (Dockerfile ENTRYPOINT), the container's args and environment. */
const deployed = (): Deployed => {
  const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8"))?.[1]
  const entry = JSON.parse(entrypoint ?? "[]") as Array<string>
  const nodeFlags = NODE_FLAGS !== undefined ? NODE_FLAGS.split(" ").filter((f) => f !== "") : entry.slice(1).filter((a) => a.startsWith("--"))
  const doc = parseAllDocuments(readFileSync(join(REPO_ROOT, "deploy/manager/deployment.yaml"), "utf8"))[0]!.toJS() as {
    spec: { template: { spec: { containers: Array<{ args: Array<string>; env?: Array<{ name: string; value?: string }> }> } } }
  }
  const container = doc.spec.template.spec.containers[0]!
  const kustomization = parse(readFileSync(join(REPO_ROOT, "deploy/kustomization.yaml"), "utf8")) as {
    configMapGenerator: Array<{ name: string; literals: Array<string> }>
  }
  const literals = kustomization.configMapGenerator.find((g) => g.name === "api-controller-config")?.literals ?? []
  const env: Record<string, string> = Object.fromEntries(literals.map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]))
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value
  if (NODE_OPTIONS !== undefined) env["NODE_OPTIONS"] = NODE_OPTIONS
  if (AUTH_BACKEND !== undefined) env["AUTH_BACKEND"] = AUTH_BACKEND
  const workersArg = container.args.find((a) => a.startsWith("--workers="))
  return { nodeFlags, args: container.args, env, workers: workersArg !== undefined ? Number(workersArg.split("=")[1]) : 2 }
}

// ---------------------------------------------------------------------------------------------
// a minimal client: HTTPS with keep-alive, JSON in and out

interface Http {
  readonly call: (method: string, path: string, body?: unknown, contentType?: string) => Promise<{ status: number; body: any }>
  readonly text: (path: string) => Promise<string>
  readonly watch: (path: string, onLine: (event: any) => void) => () => void
}

const clientFor = (kubeconfigPath: string, maxSockets: number): Http => {
  const { server, ca, cert, key } = kubeconfigTls(kubeconfigPath)
  const tls = { ca, cert, key }
  const agent = new Agent({ ...tls, keepAlive: true, maxSockets })
  const send = (method: string, path: string, payload: string | undefined, contentType: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({
        host: server.hostname,
        port: server.port,
        method,
        path,
        agent,
        headers: {
          accept: "application/json",
          ...(payload !== undefined ? { "content-type": contentType, "content-length": Buffer.byteLength(payload) } : {})
        }
      }, (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }))
        res.on("error", reject)
      })
      req.on("error", reject)
      req.end(payload)
    })
  return {
    call: async (method, path, body, contentType = "application/json") => {
      const r = await send(method, path, body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body), contentType)
      // Not every answer is JSON (an unknown path is "404 page not found").
      let parsed: unknown = r.text
      try {
        parsed = r.text === "" ? undefined : JSON.parse(r.text)
      } catch {
        // kept as text
      }
      return { status: r.status, body: parsed }
    },
    text: async (path) => (await send("GET", path, undefined, "")).text,
    watch: (path, onLine) => {
      const req = request({ host: server.hostname, port: server.port, method: "GET", path, ...tls, agent: false }, (res) => {
        let buffered = ""
        res.setEncoding("utf8")
        res.on("data", (chunk: string) => {
          buffered += chunk
          let nl: number
          while ((nl = buffered.indexOf("\n")) >= 0) {
            const line = buffered.slice(0, nl)
            buffered = buffered.slice(nl + 1)
            if (line.trim() !== "") onLine(JSON.parse(line))
          }
        })
        res.on("error", () => {})
      })
      req.on("error", () => {})
      req.end()
      return () => req.destroy()
    }
  }
}

const must = async (what: string, p: Promise<{ status: number; body: any }>, ok: ReadonlyArray<number> = [200, 201]) => {
  const r = await p
  if (!ok.includes(r.status)) throw new Error(`${what}: HTTP ${r.status}: ${JSON.stringify(r.body)?.slice(0, 300)}`)
  return r.body
}

// ---------------------------------------------------------------------------------------------
// resources

interface Resource {
  readonly group: string
  readonly version: string
  readonly plural: string
}
const API: Resource = { group: "gateway.kyma-project.io", version: "v1alpha2", plural: "apis" }
/** Children the controller may create (either authentication backend); those the server serves are used. */
const CHILD_CANDIDATES: ReadonlyArray<Resource> = [
  { group: "networking.istio.io", version: "v1alpha3", plural: "virtualservices" },
  { group: "authentication.istio.io", version: "v1alpha1", plural: "policies" },
  { group: "security.istio.io", version: "v1", plural: "requestauthentications" },
  { group: "security.istio.io", version: "v1", plural: "authorizationpolicies" },
  { group: "security.istio.io", version: "v1", plural: "peerauthentications" }
]
const collection = (r: Resource, ns: string) =>
  `${r.group === "" ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`}/namespaces/${ns}/${r.plural}`

const securedApi = (ns: string, i: number) => ({
  apiVersion: "gateway.kyma-project.io/v1alpha2",
  kind: "Api",
  metadata: { name: `api-${i}`, namespace: ns },
  spec: {
    service: { name: `svc-${i}`, port: 8080 },
    hostname: `${ns}-${i}`,
    authentication: [{
      type: "JWT",
      jwt: {
        issuer: "https://accounts.google.com",
        jwksUri: "https://www.googleapis.com/oauth2/v3/certs",
        triggerRule: { excludedPaths: [{ exact: "/status" }, { prefix: "/public" }] }
      }
    }]
  }
})

/**
 * Each Api's target Service (the istio-security backend selects its workload by the Service's
 * selector), created before the clock starts. Headless: the test cluster's Service IP range is small.
 */
const createServices = async (http: Http, ns: string, count: number) => {
  let next = 0
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) {
      const i = next++
      await must(`create Service ${i}`, http.call("POST", `/api/v1/namespaces/${ns}/services`, {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: `svc-${i}`, namespace: ns },
        spec: { clusterIP: "None", selector: { app: `svc-${i}` }, ports: [{ name: "http", port: 8080 }] }
      }))
    }
  }))
}

const isReady = (api: any): boolean => {
  const s = decodeStatus(api?.status)
  return s.observedGeneration === api?.metadata?.generation &&
    s.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true
}

// ---------------------------------------------------------------------------------------------
// what the servers and the controller say

/** `apiserver_request_total` summed by "VERB resource[/subresource]". */
const serverRequests = async (http: Http): Promise<Map<string, number>> => {
  const out = new Map<string, number>()
  for (const line of (await http.text("/metrics")).split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]))
    const key = `${labels["verb"]} ${labels["resource"]}${labels["subresource"] ? `/${labels["subresource"]}` : ""}`
    out.set(key, (out.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)))
  }
  return out
}

const diff = (after: Map<string, number>, before: Map<string, number>) =>
  new Map([...after].map(([k, n]) => [k, n - (before.get(k) ?? 0)] as const).filter(([, n]) => n > 0))

const READ_VERBS = new Set(["GET", "LIST", "WATCH", "WATCHLIST", "CONNECT"])
const isWrite = (key: string) => !READ_VERBS.has(key.split(" ")[0]!)
/** Resources the controller reads or writes; requests for others are the server's own (endpoints, leases) or leader election. */
const CONTROLLER_RESOURCES = new Set(["apis", "apis/status", "events", ...CHILD_CANDIDATES.map((r) => r.plural)])
const isBackground = (key: string) => !CONTROLLER_RESOURCES.has(key.split(" ")[1] ?? "")
/** The benchmark's own requests: it creates the Apis (and cleans up with delete-collections). */
const isBenchmarks = (key: string) => key === "POST apis" || key.startsWith("DELETECOLLECTION ")
const perApiWrites = (requests: Map<string, number>) =>
  [...requests].filter(([k]) => isWrite(k) && !isBackground(k) && !isBenchmarks(k)).reduce((s, [, n]) => s + n, 0)

interface ProcStat {
  readonly rss: number
  readonly peak: number
  /** user + system CPU time, ms */
  readonly cpuMs: number
}

/**
 * Time some task waited for I/O or CPU since boot, ms (Linux pressure stall information): a run
 * that takes twice as long with the same CPU per Api was waiting, and this says on what.
 */
const stalls = (): { readonly io: number; readonly cpu: number } | undefined => {
  const some = (resource: string) => Number(/some .*total=(\d+)/.exec(readFileSync(`/proc/pressure/${resource}`, "utf8"))?.[1]) / 1000
  try {
    return { io: some("io"), cpu: some("cpu") }
  } catch {
    return undefined
  }
}

const procStat = (pid: number): ProcStat => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  // fields[11], fields[12]: utime, stime in clock ticks (100 per second on Linux)
  return { rss: kb("VmRSS"), peak: kb("VmHWM"), cpuMs: (Number(fields[11]) + Number(fields[12])) * 10 }
}

/** The lowest RSS of one reading a second for `ms`: what the process holds once V8 has had idle time. */
const lowestRss = async (pid: number, ms: number) => {
  let lowest = procStat(pid).rss
  for (const end = Date.now() + ms; Date.now() < end;) {
    await sleep(1_000)
    lowest = Math.min(lowest, procStat(pid).rss)
  }
  return lowest
}

// ---------------------------------------------------------------------------------------------
// the controller, as a process

interface Controller {
  readonly pid: number
  /** Passes so far (all results) and the queue depth, from its /metrics. */
  readonly metrics: () => Promise<{ passes: number; skipped: number; depth: number; requests: Map<string, number>; heapUsed: number }>
  /** Until the queue is empty and no pass has run for `quietMs`. */
  readonly idle: (quietMs?: number) => Promise<void>
  readonly stop: () => Promise<void>
}

const startController = async (main: string, kubeconfigPath: string, d: Deployed, profDir: string | undefined): Promise<Controller> => {
  const port = await freePort()
  const nodeArgs = [...d.nodeFlags, ...(profDir !== undefined ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : [])]
  const runArgs = [
    ...d.args.filter((a) => !a.startsWith("--health-port=") && !a.startsWith("--health-host=")),
    `--health-port=${port}`,
    "--health-host=127.0.0.1",
    "--kubeconfig",
    kubeconfigPath
  ]
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, main, ...runArgs], {
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: tmpdir(), ...d.env, POD_NAME: "bench", POD_NAMESPACE: "default" },
    stdio: ["ignore", process.env["BENCH_CONTROLLER_LOG"] !== undefined ? openSync(process.env["BENCH_CONTROLLER_LOG"], "a") : "ignore", "pipe"]
  })
  let stderr = ""
  child.stderr!.on("data", (b: Buffer) => void (stderr = (stderr + b.toString()).slice(-3000)))
  const exited = new Promise<void>((r) => child.once("exit", () => r()))
  const metricsText = () => fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text())
  const metrics = async () => {
    const text = await metricsText()
    // Full passes (read, decide, maybe write), and the watch echoes of the controller's own writes
    // that its fingerprint answered from the cache (result="skipped").
    const counts = [...text.matchAll(new RegExp(`^${MetricNames.reconcileTotal}\\{[^}]*result="(\\w+)"[^}]*\\} (\\S+)$`, "gm"))]
    const passes = counts.filter((m) => m[1] !== "skipped").reduce((n, m) => n + Number(m[2]), 0)
    const skipped = counts.filter((m) => m[1] === "skipped").reduce((n, m) => n + Number(m[2]), 0)
    const depth = Number(new RegExp(`^${MetricNames.workQueueDepth} (\\S+)$`, "m").exec(text)?.[1] ?? NaN)
    // Its own count of its requests ("VERB resource", as the server's): the server's count does not
    // say who asked (kube-controller-manager's garbage collector reads and deletes children too).
    const requests = new Map<string, number>()
    for (const m of text.matchAll(new RegExp(`^${MetricNames.kubeRequestsTotal}\\{([^}]*)\\} (\\S+)$`, "gm"))) {
      const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]))
      const key = `${(labels["verb"] ?? "").toUpperCase()} ${labels["resource"]}`
      requests.set(key, (requests.get(key) ?? 0) + Number(m[2]))
    }
    // V8's heap in use: the live data plus garbage not yet collected, far steadier than RSS.
    const heapUsed = Number(new RegExp(`^${MetricNames.memoryBytes}\\{[^}]*area="heap_used"[^}]*\\} (\\S+)$`, "m").exec(text)?.[1] ?? NaN)
    return { passes, skipped, depth, requests, heapUsed }
  }
  const deadline = Date.now() + 120_000
  while (true) {
    if (child.exitCode !== null) throw new Error(`the controller exited (${child.exitCode}): ${stderr}`)
    if (Date.now() > deadline) throw new Error(`the controller was not ready within 120 s: ${stderr}`)
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)
    if (ready) break
    await sleep(100)
  }
  /** Until no pass waits and neither passes nor requests (Events are written after the passes) moved for `quietMs`. */
  const idle = async (quietMs = 2000) => {
    let last = -1
    let since = Date.now()
    while (true) {
      if (child.exitCode !== null) throw new Error(`the controller exited (${child.exitCode}): ${stderr}`)
      const m = await metrics()
      // Lease renewals and watch reconnects go on while idle.
      const writes = [...m.requests].filter(([k]) => !k.endsWith(" leases") && !k.startsWith("WATCH "))
      const moved = m.passes + m.skipped + writes.reduce((a, [, n]) => a + n, 0)
      if (m.depth !== 0 || moved !== last) {
        last = moved
        since = Date.now()
      } else if (Date.now() - since >= quietMs) return
      await sleep(200)
    }
  }
  const stop = async () => {
    if (child.exitCode !== null) return
    child.kill("SIGTERM")
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000)
    await exited
    clearTimeout(timer)
  }
  return { pid: child.pid!, metrics, idle, stop }
}

// ---------------------------------------------------------------------------------------------
// the raw baseline

/**
 * What the perfect controller writes for one Api, taken from what this controller wrote for the
 * warm-up Api: its children (our metadata and spec) and its status. Names, uids and versions are
 * replaced per Api in the JSON text, so the bodies are the controller's own, byte for byte but
 * for them.
 */
interface Template {
  readonly children: ReadonlyArray<{ readonly resource: Resource; readonly json: string; readonly uid: string; readonly version: string }>
  readonly status: string
  readonly ns: string
  readonly uid: string
}

const templateFrom = async (http: Http, ns: string): Promise<Template> => {
  const api = await must("get warm-up Api", http.call("GET", `${collection(API, ns)}/api-0`))
  const children: Array<Template["children"][number]> = []
  // Every child the controller wrote for api-0: named after it, or (the DENY AuthorizationPolicy) with a suffix.
  for (const resource of CHILD_CANDIDATES) for (const name of ["api-0-deny", "api-0"]) {
    const r = await http.call("GET", `${collection(resource, ns)}/${name}`)
    if (r.status !== 200) continue
    const { apiVersion, kind, metadata, spec } = r.body
    const body = { apiVersion, kind, metadata: { name: metadata.name, namespace: metadata.namespace, labels: metadata.labels, ownerReferences: metadata.ownerReferences }, spec }
    children.push({ resource, json: JSON.stringify(body), uid: metadata.uid, version: metadata.resourceVersion })
  }
  if (children.length < 2) throw new Error(`the warm-up Api has ${children.length} children; expected a VirtualService and an authentication child`)
  return { children, status: JSON.stringify(api.status), ns, uid: api.metadata.uid }
}

const fill = (text: string, pairs: ReadonlyArray<readonly [string, string]>) =>
  pairs.reduce((t, [from, to]) => t.split(from).join(to), text)

/**
 * Two workers, each taking the next created Api and making its writes one after another: the
 * children, then the status patch (conditional on the Api's resourceVersion, as the controller's).
 */
const rawBaseline = (http: Http, template: Template, ns: string, workers: number) => {
  const queue: Array<{ i: number; uid: string; resourceVersion: string }> = []
  const waiting: Array<() => void> = []
  let closed = false
  const work = async () => {
    while (true) {
      const next = queue.shift()
      if (next === undefined) {
        if (closed) return
        await new Promise<void>((r) => waiting.push(r))
        continue
      }
      const names: Array<readonly [string, string]> = [
        [template.uid, next.uid],
        [`"${template.ns}-0`, `"${ns}-${next.i}`],
        [template.ns, ns],
        ["api-0", `api-${next.i}`],
        ["svc-0", `svc-${next.i}`]
      ]
      const refs: Array<readonly [string, string]> = []
      for (const c of template.children) {
        const created = await must(`create ${c.resource.plural}`, http.call("POST", `${collection(c.resource, ns)}?fieldManager=api-controller`, fill(c.json, names)))
        refs.push([c.uid, created.metadata.uid], [`"${c.version}"`, `"${created.metadata.resourceVersion}"`])
      }
      const status = fill(fill(template.status, refs), names)
      await must("patch status", http.call(
        "PATCH",
        `${collection(API, ns)}/api-${next.i}/status?fieldManager=api-controller`,
        `{"metadata":{"resourceVersion":"${next.resourceVersion}"},"status":${status}}`,
        "application/merge-patch+json"
      ))
    }
  }
  const done = Promise.all(Array.from({ length: workers }, work))
  return {
    hand: (i: number, api: any) => {
      queue.push({ i, uid: api.metadata.uid, resourceVersion: api.metadata.resourceVersion })
      waiting.shift()?.()
    },
    close: () => {
      closed = true
      for (const w of waiting.splice(0)) w()
    },
    done
  }
}

// ---------------------------------------------------------------------------------------------
// one convergence

interface Run {
  readonly who: "raw" | "controller"
  readonly count: number
  readonly ms: number
  readonly requests: Map<string, number>
  readonly passes: number | undefined
  /** Echo passes answered by the fingerprint from the cache. */
  readonly skipped: number | undefined
  /** The controller's own count of its requests. */
  readonly own: Map<string, number> | undefined
  /** Events the controller had written when the last Api turned Ready (it holds them back while passes wait). */
  readonly eventsAtReady: number | undefined
  readonly cpuMs: { readonly controller?: number; readonly apiserver: number; readonly etcd: number }
  /** Time some task waited for I/O and for CPU during the run (PSI), where the kernel reports it. */
  readonly stallMs: { readonly io: number; readonly cpu: number } | undefined
}

interface Env {
  readonly http: Http
  readonly pids: { readonly apiserver: number; readonly etcd: number }
}

/** Creates `count` Apis in `ns` (a burst, CONCURRENCY in parallel) and waits until the watch sees every one Ready. */
const converge = async (
  env: Env,
  who: Run["who"],
  ns: string,
  count: number,
  options: {
    controller?: Controller
    onCreated?: (i: number, api: any) => void
    /** Work running beside the creates (the raw baseline's workers): its failure ends the wait. */
    running?: Promise<unknown>
    beforeIdle?: () => Promise<void>
  }
): Promise<Run> => {
  const { http } = env
  await must(`create namespace ${ns}`, http.call("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }))
  await createServices(http, ns, count)
  const listed = await must("list", http.call("GET", `${collection(API, ns)}?limit=1`))
  const ready = new Set<string>()
  let allReady: () => void = () => {}
  const converged = new Promise<void>((r) => (allReady = r))
  const stopWatch = http.watch(`${collection(API, ns)}?watch=1&resourceVersion=${listed.metadata.resourceVersion}`, (e) => {
    if (e.type === "ADDED" || e.type === "MODIFIED") {
      if (isReady(e.object)) ready.add(e.object.metadata.name)
      else ready.delete(e.object.metadata.name)
      if (ready.size === count) allReady()
    }
  })
  await sleep(300)
  const before = await serverRequests(http)
  const passesBefore = options.controller !== undefined ? await options.controller.metrics() : undefined
  const cpuBefore = { c: options.controller !== undefined ? procStat(options.controller.pid).cpuMs : 0, a: procStat(env.pids.apiserver).cpuMs, e: procStat(env.pids.etcd).cpuMs }
  const stallsBefore = stalls()
  const started = Date.now()
  let next = 0
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) {
      const i = next++
      const api = await must(`create Api ${i}`, http.call("POST", collection(API, ns), securedApi(ns, i)))
      options.onCreated?.(i, api)
    }
  }))
  const createdMs = Date.now() - started
  const timeout = setTimeout(() => log(`still waiting: ${ready.size}/${count} Ready after ${secs(Date.now() - started)}`), 5 * 60_000)
  await Promise.race([converged, options.running?.then(() => new Promise<never>(() => {})) ?? converged])
  const ms = Date.now() - started
  const stallsAfter = stalls()
  const stallMs = stallsBefore !== undefined && stallsAfter !== undefined
    ? { io: stallsAfter.io - stallsBefore.io, cpu: stallsAfter.cpu - stallsBefore.cpu }
    : undefined
  clearTimeout(timeout)
  const atReady = options.controller !== undefined ? await options.controller.metrics() : undefined
  stopWatch()
  await options.beforeIdle?.()
  await options.controller?.idle()
  const cpuMs = {
    ...(options.controller !== undefined ? { controller: procStat(options.controller.pid).cpuMs - cpuBefore.c } : {}),
    apiserver: procStat(env.pids.apiserver).cpuMs - cpuBefore.a,
    etcd: procStat(env.pids.etcd).cpuMs - cpuBefore.e
  }
  const requests = diff(await serverRequests(http), before)
  const passesAfter = options.controller !== undefined ? await options.controller.metrics() : undefined
  const passes = passesAfter !== undefined && passesBefore !== undefined ? passesAfter.passes - passesBefore.passes : undefined
  const skipped = passesAfter !== undefined && passesBefore !== undefined ? passesAfter.skipped - passesBefore.skipped : undefined
  log(`${who}: ${count} Apis Ready after ${secs(ms)} (all created after ${secs(createdMs)}` +
    (stallMs !== undefined ? `; waiting on I/O ${secs(stallMs.io)}, on CPU ${secs(stallMs.cpu)}` : "") +
    `); ${(perApiWrites(requests) / count).toFixed(2)} writes per Api` +
    (passes !== undefined ? `, ${(passes / count).toFixed(2)} passes per Api (+ ${((skipped ?? 0) / count).toFixed(2)} echoes skipped)` : ""))
  const own = passesAfter !== undefined && passesBefore !== undefined ? diff(passesAfter.requests, passesBefore.requests) : undefined
  const eventsOf = (m: { readonly requests: Map<string, number> } | undefined) => m?.requests.get("CREATE events") ?? 0
  const eventsAtReady = atReady !== undefined ? eventsOf(atReady) - eventsOf(passesBefore) : undefined
  return { who, count, ms, requests, passes, skipped, own, cpuMs, eventsAtReady, stallMs }
}

/** Removes a namespace and everything in it (the namespace controller of kube-controller-manager), and waits until it is gone. */
const clear = async (env: Env, ns: string) => {
  await must(`delete namespace ${ns}`, env.http.call("DELETE", `/api/v1/namespaces/${ns}`))
  const deadline = Date.now() + 10 * 60_000
  while ((await env.http.call("GET", `/api/v1/namespaces/${ns}`)).status !== 404) {
    if (Date.now() > deadline) throw new Error(`namespace ${ns} was not deleted within 10 minutes`)
    await sleep(500)
  }
}

// ---------------------------------------------------------------------------------------------
// CPU profile summary

/**
 * Self time of a .cpuprofile by where the code came from: a package, node's own modules, the
 * project, V8. The bundle is one file; its source map says which original file each function is in.
 */
const profileSummary = (file: string): Map<string, number> => {
  const profile = JSON.parse(readFileSync(file, "utf8")) as {
    nodes: Array<{ id: number; callFrame: { url: string; functionName: string; lineNumber: number; columnNumber: number } }>
    samples: Array<number>
    timeDeltas: Array<number>
  }
  const maps = new Map<string, SourceMap | undefined>()
  const mapFor = (url: string) => {
    if (!maps.has(url)) {
      try {
        maps.set(url, new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, "utf8"))))
      } catch {
        maps.set(url, undefined)
      }
    }
    return maps.get(url)
  }
  const origin = (frame: { url: string; functionName: string; lineNumber: number; columnNumber: number }): string => {
    const { url, functionName } = frame
    if (url === "") {
      if (functionName === "(garbage collector)") return "V8: garbage collector"
      if (functionName === "(idle)") return "(idle)"
      return functionName === "(program)" ? "V8: (program)" : `native: ${functionName}`
    }
    if (url.startsWith("node:")) {
      const parts = url.slice(5).split("/")
      return `node: ${parts[0] === "internal" ? parts.slice(0, 2).join("/") : parts[0]}`
    }
    const source = url.startsWith("file:") ? mapFor(url)?.findEntry(frame.lineNumber, frame.columnNumber) : undefined
    const original = source !== undefined && "originalSource" in source ? source.originalSource : undefined
    const path = typeof original === "string" ? original : url
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1]
    if (pkg !== undefined) return pkg
    const own = /(?:^|\/)(src\/\w+|machines)\//.exec(path)
    return own !== null ? `project: ${own[1]}` : path
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const keyOf = new Map<number, string>()
  const times = new Map<string, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!
    let key = keyOf.get(id)
    if (key === undefined) {
      const node = byId.get(id)
      key = node === undefined ? "?" : origin(node.callFrame)
      keyOf.set(id, key)
    }
    times.set(key, (times.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  return times
}

// ---------------------------------------------------------------------------------------------
// the run

/**
 * Other control planes or benchmarks on this machine: their load would be in every figure (two
 * cores). A benchmark started while another was still running measured pairs of 3.4 and a median
 * of 1.60 where the machine alone gave 1.14.
 */
const othersRunning = (): ReadonlyArray<string> => {
  // This benchmark and what started it (npm, sh, tsx) are not others.
  const ours = new Set<number>()
  for (let pid = process.pid; pid > 1 && !ours.has(pid);) {
    ours.add(pid)
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
      pid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
    } catch {
      break
    }
  }
  const found: Array<string> = []
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid) || ours.has(Number(pid))) continue
    let cmd: string
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ")
    } catch {
      continue // gone meanwhile
    }
    if (/(^|\/)(kube-apiserver|etcd) /.test(cmd) || / scripts\/bench\.ts/.test(cmd)) found.push(`${pid} ${cmd.slice(0, 80)}`)
  }
  return found
}

const main = async () => {
  const others = args.includes("--allow-busy") ? [] : othersRunning()
  if (others.length > 0) {
    throw new Error(`other control planes or benchmarks are running; their load would be in the figures (--allow-busy to measure anyway):\n  ${others.join("\n  ")}`)
  }
  const d = deployed()
  log(`${SMALL} Apis x ${REPEAT} (raw baseline, controller), then ${LARGE || "no"} large run; ${d.workers} workers, ${CONCURRENCY} parallel creates`)
  log(`the controller: node ${d.nodeFlags.join(" ")} <bundle> ${d.args.join(" ")}; NODE_OPTIONS=${d.env["NODE_OPTIONS"] ?? "(none)"}; AUTH_BACKEND=${d.env["AUTH_BACKEND"] ?? "(auto)"}`)
  execFileSync(join(REPO_ROOT, "scripts/build-control-plane.sh"), ["--no-istioctl"], { stdio: ["ignore", "ignore", "inherit"] })
  const work = mkdtempSync(join(tmpdir(), "api-controller-bench-"))
  let cp = await startControlPlane({ log, ...(PLANE_DIR !== undefined ? { parentDir: PLANE_DIR } : {}) })
  const controllers: Array<Controller> = []
  try {
    const mainJs = MAIN ?? (await bundle(join(work, "dist"))).main
    const profDir = CPU_PROF ? join(work, "prof") : undefined
    let env: Env = { http: clientFor(cp.kubeconfigPath, CONCURRENCY), pids: cp.pids }
    let rawHttp = clientFor(cp.kubeconfigPath, d.workers)
    /**
     * Every measured run gets a control plane of its own, as the issue's figures were taken: one
     * plane slows run after run (measured: the raw baseline went from 8.9 to 12.2 s over five).
     */
    const freshPlane = async () => {
      for (const c of [...controllers]) await stop(c)
      await cp.stop()
      cp = await startControlPlane({ log, ...(PLANE_DIR !== undefined ? { parentDir: PLANE_DIR } : {}) })
      env = { http: clientFor(cp.kubeconfigPath, CONCURRENCY), pids: cp.pids }
      rawHttp = clientFor(cp.kubeconfigPath, d.workers)
    }
    const start = async () => {
      const c = await startController(mainJs, cp.kubeconfigPath, d, profDir)
      controllers.push(c)
      return c
    }
    const stop = async (c: Controller) => {
      await c.stop()
      controllers.splice(controllers.indexOf(c), 1)
    }
    /** A restart over `count` converged Apis: its first pass over each changes nothing. */
    const restart = async (c: Controller, count: number) => {
      await stop(c)
      const before = await serverRequests(env.http)
      const t0 = Date.now()
      const next = await start()
      await next.idle()
      const resync = {
        passes: (await next.metrics()).passes,
        requests: diff(await serverRequests(env.http), before),
        ms: Date.now() - t0,
        rss: procStat(next.pid).rss
      }
      log(`restart over ${count} converged Apis: ${resync.passes} passes, ${perApiWrites(resync.requests)} writes`)
      return { controller: next, resync }
    }

    // Warm-up: one Api through the controller, for the raw baseline's templates.
    let controller = await start()
    const idleRss = procStat(controller.pid).rss
    await controller.idle()
    await converge(env, "controller", "bench-warmup", 1, { controller })
    const template = await templateFrom(env.http, "bench-warmup")
    await stop(controller)

    const raws: Array<Run> = []
    const ctls: Array<Run> = []
    let at1k: ProcStat | undefined
    let heap1k = NaN
    const profiled: { small?: number; large?: number } = {}
    let resync1k: { passes: number; requests: Map<string, number>; ms: number; rss: number } | undefined
    // The raw baseline, with the controller stopped (it would reconcile these Apis too).
    const rawRun = async (ns: string, count: number, then: "clear" | "keep") => {
      const raw = rawBaseline(rawHttp, template, ns, d.workers)
      const run = await converge(env, "raw", ns, count, {
        onCreated: raw.hand,
        running: raw.done,
        beforeIdle: async () => {
          raw.close()
          await raw.done
        }
      })
      if (then === "clear") await clear(env, ns)
      return run
    }
    // Both sides are measured warm, as a long-running controller is: each measured run follows a
    // small one by the same process (JIT-compiled code, sized heaps). A cold start is the restart's figure.
    const runRaw = async (r: number) => {
      await freshPlane()
      await rawRun(`bench-raw-warm-${r}`, WARM, "clear")
      raws.push(await rawRun(`bench-raw-${r}`, SMALL, "keep")) // the plane goes with them
    }
    const others: Array<Run> = []
    const runOther = async (r: number) => {
      await freshPlane()
      const other = await startController(COMPARE!, cp.kubeconfigPath, d, undefined)
      controllers.push(other)
      await other.idle()
      await converge(env, "controller", `bench-other-warm-${r}`, WARM, { controller: other })
      await clear(env, `bench-other-warm-${r}`)
      await other.idle()
      others.push(await converge(env, "controller", `bench-other-${r}`, SMALL, { controller: other }))
      await stop(other)
    }
    const runController = async (r: number) => {
      await freshPlane()
      controller = await start()
      await controller.idle()
      await converge(env, "controller", `bench-warm-${r}`, WARM, { controller })
      await clear(env, `bench-warm-${r}`)
      await controller.idle()
      ctls.push(await converge(env, "controller", `bench-${r}`, SMALL, { controller }))
      if (r === 1) {
        at1k = procStat(controller.pid)
        heap1k = (await controller.metrics()).heapUsed
        profiled.small = controller.pid
        const restarted = await restart(controller, SMALL)
        controller = restarted.controller
        resync1k = restarted.resync
      }
      await stop(controller)
    }
    // The order alternates too (raw first, then controller first): neither side always runs first.
    // With --compare, the three rotate.
    for (let r = 1; r <= REPEAT; r++) {
      if (COMPARE !== undefined) {
        const arms = [runRaw, runController, runOther]
        for (let i = 0; i < arms.length; i++) await arms[(i + r - 1) % arms.length]!(r)
      } else if (r % 2 === 1) {
        await runRaw(r)
        await runController(r)
      } else {
        await runController(r)
        await runRaw(r)
      }
    }

    let large: { run: Run; rss: ProcStat; heapUsed: number; resync: { passes: number; requests: Map<string, number>; ms: number; rss: number }; settled: number; raw: Run } | undefined
    if (LARGE > 0) {
      await freshPlane()
      controller = await start()
      await controller.idle()
      // Warm, as the small runs are, so that T(10N)/T(N) compares like with like.
      await converge(env, "controller", "bench-large-warm", WARM, { controller })
      await clear(env, "bench-large-warm")
      await controller.idle()
      const run = await converge(env, "controller", "bench-large", LARGE, { controller })
      const rss = procStat(controller.pid)
      const heapUsed = (await controller.metrics()).heapUsed
      profiled.large = controller.pid
      const restarted = await restart(controller, LARGE)
      controller = restarted.controller
      const resync = restarted.resync
      // The relist's garbage (every object's JSON, parsed) is collected when V8 sees the process idle.
      const settled = await lowestRss(controller.pid, 30_000)
      await stop(controller)
      // The raw baseline at the same scale, on a plane of its own: how much of T(10N)/T(N) is the
      // server's own (etcd and kube-apiserver hold 10 times the objects) rather than the controller's.
      await freshPlane()
      await rawRun("bench-raw-large-warm", WARM, "clear")
      const raw = await rawRun("bench-raw-large", LARGE, "keep")
      large = { run, rss, heapUsed, resync, settled, raw }
    }

    // What one request costs the controller's client stack, against a minimal client (this process's CPU).
    const clientCosts = await measureClients(cp.kubeconfigPath, 1000, d.workers)

    // ---------------------------------------------------------------------------------------------
    // the report

    const table = (rows: ReadonlyArray<ReadonlyArray<string>>) => {
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length)))
      return rows.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("   ").trimEnd()).join("\n")
    }
    const per = (n: number, count: number) => (n / count).toFixed(2)
    const runsOf = (rs: ReadonlyArray<Run>, f: (r: Run) => number, fmt: (n: number) => string) =>
      `${fmt(median(rs.map(f)))}${rs.length > 1 ? ` (${rs.map((r) => fmt(f(r))).join(", ")})` : ""}`
    const tRaw = median(raws.map((r) => r.ms))
    const tCtl = median(ctls.map((r) => r.ms))

    report(`\n== ${SMALL} authenticated Apis created in a burst, ${d.workers} workers: median of ${REPEAT} (each run)`)
    report(table([
      ["", "raw baseline", "controller", "controller/raw"],
      ["time to converge (first create -> all Ready)", runsOf(raws, (r) => r.ms, secs), runsOf(ctls, (r) => r.ms, secs), (tCtl / tRaw).toFixed(2)],
      ...(REPEAT > 1 ? [["  each pair (the run's controller / its raw)", "", "", raws.map((r, i) => (ctls[i]!.ms / r.ms).toFixed(2)).join(" ")]] : []),
      ["writes per new Api (server's count)", runsOf(raws, (r) => perApiWrites(r.requests) / r.count, (n) => n.toFixed(2)), runsOf(ctls, (r) => perApiWrites(r.requests) / r.count, (n) => n.toFixed(2)), ""],
      ["passes per new Api (controller's /metrics)", "-", runsOf(ctls, (r) => (r.passes ?? 0) / r.count, (n) => n.toFixed(2)), ""],
      ["  + watch echoes answered from the cache", "-", runsOf(ctls, (r) => (r.skipped ?? 0) / r.count, (n) => n.toFixed(2)), ""],
      ["Events written by the time all were Ready", "-", runsOf(ctls, (r) => r.eventsAtReady ?? 0, (n) => n.toFixed(0)), ""],
      ["controller CPU per Api", "-", runsOf(ctls, (r) => (r.cpuMs.controller ?? 0) / r.count, (n) => `${n.toFixed(2)} ms`), ""],
      ["kube-apiserver CPU per Api", runsOf(raws, (r) => r.cpuMs.apiserver / r.count, (n) => `${n.toFixed(2)} ms`), runsOf(ctls, (r) => r.cpuMs.apiserver / r.count, (n) => `${n.toFixed(2)} ms`), ""],
      ["etcd CPU per Api", runsOf(raws, (r) => r.cpuMs.etcd / r.count, (n) => `${n.toFixed(2)} ms`), runsOf(ctls, (r) => r.cpuMs.etcd / r.count, (n) => `${n.toFixed(2)} ms`), ""],
      // Where the kernel keeps no pressure figures (no PSI), the row says so rather than print NaN.
      ...(raws.every((r) => r.stallMs !== undefined) && ctls.every((r) => r.stallMs !== undefined)
        ? [["some task waiting on I/O during the run (PSI)", runsOf(raws, (r) => r.stallMs!.io, secs), runsOf(ctls, (r) => r.stallMs!.io, secs), ""]]
        : [["some task waiting on I/O during the run (PSI)", "not reported by this kernel", "", ""]])
    ]))

    if (COMPARE !== undefined) {
      const spread = (xs: ReadonlyArray<number>, fmt: (n: number) => string) =>
        `${fmt(median(xs))} [${fmt(Math.min(...xs))}..${fmt(Math.max(...xs))}]`
      const arm = (rs: ReadonlyArray<Run>) => [
        spread(rs.map((r) => r.ms), secs),
        spread(rs.map((r, i) => r.ms / raws[i]!.ms), (n) => n.toFixed(2)),
        spread(rs.map((r) => (r.passes ?? 0) / r.count), (n) => n.toFixed(2)),
        spread(rs.map((r) => (r.skipped ?? 0) / r.count), (n) => n.toFixed(2)),
        spread(rs.map((r) => perApiWrites(r.requests) / r.count), (n) => n.toFixed(2)),
        spread(rs.map((r) => (r.cpuMs.controller ?? 0) / r.count), (n) => `${n.toFixed(2)} ms`)
      ]
      const rows = [["time to converge", "controller/raw (each run's raw)", "passes per Api", "+ skipped echoes per Api", "writes per Api", "controller CPU per Api"]]
      const a = arm(ctls)
      const b = arm(others)
      report(`\n== this bundle against --compare ${COMPARE}: median [min..max] of ${REPEAT}, each run on a fresh plane, raw median ${secs(tRaw)}`)
      report(table([["", "this bundle", "--compare"], ...rows[0]!.map((name, i) => [name, a[i]!, b[i]!])]))
      report(`each run, this / --compare / raw: ${ctls.map((c, i) => `${secs(c.ms)} / ${secs(others[i]!.ms)} / ${secs(raws[i]!.ms)}`).join(", ")}`)
    }

    const firstCtl = ctls[0]!
    const firstRaw = raws[0]!
    const keys = [...new Set([...firstRaw.requests.keys(), ...firstCtl.requests.keys(), ...(large?.run.requests.keys() ?? [])])]
      .filter((k) => !isBackground(k))
      .sort((a, b) => Number(isWrite(b)) - Number(isWrite(a)) || a.localeCompare(b))
    const background = (m: Map<string, number> | undefined) => [...(m ?? [])].filter(([k]) => isBackground(k)).reduce((s, [, n]) => s + n, 0)
    report(`\n== requests per new Api by verb and resource, the API server's count (apiserver_request_total), first run`)
    report(table([
      ["", `raw (${SMALL})`, `controller (${SMALL})`, ...(large !== undefined ? [`controller (${LARGE})`] : [])],
      ...keys.map((k) => [
        `${k}${isBenchmarks(k) ? "  (the benchmark's)" : ""}`,
        per(firstRaw.requests.get(k) ?? 0, SMALL),
        per(firstCtl.requests.get(k) ?? 0, SMALL),
        ...(large !== undefined ? [per(large.run.requests.get(k) ?? 0, LARGE)] : [])
      ]),
      [
        "other resources, all verbs (the server's own, leader election)",
        per(background(firstRaw.requests), SMALL),
        per(background(firstCtl.requests), SMALL),
        ...(large !== undefined ? [per(background(large.run.requests), LARGE)] : [])
      ]
    ]))

    const ownLine = (own: Map<string, number> | undefined, count: number) =>
      [...(own ?? [])].filter(([k]) => !k.endsWith(" leases")).sort().map(([k, n]) => `${k.toLowerCase()} ${per(n, count)}`).join(", ")
    report(`the controller's own count of its requests per new Api (its /metrics, leases left out): ${ownLine(firstCtl.own, SMALL)}` +
      (large !== undefined ? `; at ${LARGE}: ${ownLine(large.run.own, LARGE)}` : ""))

    report(`\n== scale and memory of the controller (RSS as it is, no forced GC; peak = VmHWM)`)
    const scaleRows: Array<Array<string>> = [
      ["", `${SMALL} Apis`, ...(large !== undefined ? [`${LARGE} Apis`] : [])],
      ["time to converge", secs(tCtl), ...(large !== undefined ? [secs(large.run.ms)] : [])],
      ["passes per new Api", per(firstCtl.passes ?? 0, SMALL), ...(large !== undefined ? [per(large.run.passes ?? 0, LARGE)] : [])],
      ["  + watch echoes answered from the cache", per(firstCtl.skipped ?? 0, SMALL), ...(large !== undefined ? [per(large.run.skipped ?? 0, LARGE)] : [])],
      ["writes per new Api", per(perApiWrites(firstCtl.requests), SMALL), ...(large !== undefined ? [per(perApiWrites(large.run.requests), LARGE)] : [])],
      ["Events written by the time all were Ready", String(firstCtl.eventsAtReady ?? 0), ...(large !== undefined ? [String(large.run.eventsAtReady ?? 0)] : [])],
      ["controller CPU per Api", `${((firstCtl.cpuMs.controller ?? 0) / SMALL).toFixed(2)} ms`, ...(large !== undefined ? [`${((large.run.cpuMs.controller ?? 0) / LARGE).toFixed(2)} ms`] : [])],
      ["RSS once converged (peak)", `${MB(at1k!.rss)} (${MB(at1k!.peak)})`, ...(large !== undefined ? [`${MB(large.rss.rss)} (${MB(large.rss.peak)})`] : [])],
      ["V8 heap in use once converged", MB(heap1k), ...(large !== undefined ? [MB(large.heapUsed)] : [])],
      ["RSS after a restart over them", MB(resync1k!.rss), ...(large !== undefined ? [MB(large.resync.rss)] : [])],
      ["  the same, lowest of the next 30 s idle", "", ...(large !== undefined ? [MB(large.settled)] : [])],
      ["restart: passes / writes / all requests", `${resync1k!.passes} / ${perApiWrites(resync1k!.requests)} / ${[...resync1k!.requests].filter(([k]) => !isBackground(k)).reduce((s, [, n]) => s + n, 0)}`,
        ...(large !== undefined ? [`${large.resync.passes} / ${perApiWrites(large.resync.requests)} / ${[...large.resync.requests].filter(([k]) => !isBackground(k)).reduce((s, [, n]) => s + n, 0)}`] : [])],
      ["restart: start -> settled", secs(resync1k!.ms), ...(large !== undefined ? [secs(large.resync.ms)] : [])]
    ]
    report(table(scaleRows))
    report(`idle RSS (no Apis): ${MB(idleRss)}` + (large !== undefined
      ? `; T(${LARGE})/T(${SMALL}) = ${(large.run.ms / tCtl).toFixed(2)} (${secs(large.run.ms)} / ${secs(tCtl)}); ` +
        `the raw baseline's own: ${(large.raw.ms / tRaw).toFixed(2)} (${secs(large.raw.ms)} / ${secs(tRaw)}); ` +
        `controller / raw at ${LARGE}: ${(large.run.ms / large.raw.ms).toFixed(2)}`
      : ""))
    report(`(restart requests count only the resources the controller uses)`)

    report(`\n== one request through the controller's client stack (src/k8s/KubeApiLive.ts) and through a minimal client, 1,000 each, ${d.workers} at a time`)
    report(clientCostTable(clientCosts))

    if (profDir !== undefined) {
      // The process that converged the first 1,000 and the one that converged the 10,000.
      const profiles = readdirSync(profDir).filter((f) => f.endsWith(".cpuprofile"))
      const profileOf = (pid: number | undefined) => profiles.find((f) => pid !== undefined && f.includes(`.${pid}.`))
      for (const [label, pid] of [[`${SMALL} Apis`, profiled.small], [`${LARGE} Apis`, profiled.large]] as const) {
        const f = profileOf(pid)
        if (f === undefined) continue
        const times = profileSummary(join(profDir, f))
        const busy = [...times].filter(([k]) => k !== "(idle)").reduce((s, [, us]) => s + us, 0)
        report(`\n== where the controller's CPU time goes: the process that converged ${label} (self time; ${join(profDir, f)})`)
        report(table([
          ["", "share of busy time", "seconds"],
          ...[...times].filter(([k]) => k !== "(idle)").sort((a, b) => b[1] - a[1]).slice(0, 22)
            .map(([k, us]) => [k, `${((us / busy) * 100).toFixed(1)}%`, (us / 1e6).toFixed(2)]),
          ["busy in all", "100%", (busy / 1e6).toFixed(2)]
        ]))
      }
    }
    console.log(`\nnode ${process.version}, ${Math.round(process.uptime())} s in all`)
    if (WRITE_DOCS) writeDocs(d.workers)
  } finally {
    for (const c of [...controllers]) await c.stop()
    await cp.stop()
    if (!CPU_PROF) rmSync(work, { recursive: true, force: true })
    log("control plane stopped")
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
