/**
 * What one request costs the controller's client stack (src/k8s/KubeApiLive.ts): CPU time of this
 * process per create, status patch and get, against a minimal HTTPS client making the same
 * requests with the same bodies. CPU time, not wall time, so a busy machine changes the figures
 * less (but still some: on a loaded 2-core machine, compare within one run, not across runs).
 *
 *   npx tsx scripts/bench-client.ts [--kubeconfig <file>] [--requests N (1000)] [--concurrency N (2)]
 *                                   [--only live|minimal] [--compare <checkout>] [--rounds N (1)]
 *
 * `--compare` measures another checkout's KubeApiLive (e.g. `git archive <commit> | tar -x -C dir`,
 * with its node_modules linked to this one's) in the same process, on the same control plane;
 * `--rounds` repeats every client, in rotating order, and prints the median and the range.
 * Without --kubeconfig it starts a private control plane (scripts/lib/ControlPlane.ts).
 * `npm run bench` runs it too. Run it under `node --cpu-prof` to see where the time goes.
 */
import { Effect } from "effect"
import { Agent, request } from "node:https"
import { join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { parseArgs } from "node:util"
import { kubeconfigTls } from "./lib/KubeconfigTls.ts"
import { Kinds, type KubeObject } from "../src/domain/Kube.ts"
import { loadKubeConfig, makeKubeApi } from "../src/k8s/KubeApiLive.ts"
import { startControlPlane } from "./lib/ControlPlane.ts"

export interface ClientCost {
  readonly client: string
  /** CPU time of this process per request, µs, by request: the median over rounds. */
  readonly perRequestUs: Readonly<Record<Request, number>>
  /** Each round's figures, in the order measured (one without `rounds`). */
  readonly rounds: ReadonlyArray<Readonly<Record<Request, number>>>
}

const REQUESTS = ["create", "patchStatus", "get"] as const
type Request = typeof REQUESTS[number]

/** A policy-sized body, as the controller writes it. */
const policy = (ns: string, i: number): KubeObject => ({
  apiVersion: "authentication.istio.io/v1alpha1",
  kind: "Policy",
  metadata: {
    name: `p-${i}`,
    namespace: ns,
    labels: { createdBy: "api-controller", apiName: `api-${i}`, apiNamespace: ns, apiUid: "5f0c2a1e-3b4d-4e5f-8a9b-0c1d2e3f4a5b" }
  },
  spec: {
    targets: [{ name: `svc-${i}` }],
    peers: [{ mtls: {} }],
    origins: [{
      jwt: {
        issuer: "https://accounts.google.com",
        jwksUri: "https://www.googleapis.com/oauth2/v3/certs",
        trigger_rules: [{ excluded_paths: [{ exact: "/status" }, { prefix: "/public" }] }]
      }
    }],
    principalBinding: "USE_ORIGIN"
  }
})

const api = (ns: string, i: number): KubeObject => ({
  apiVersion: "gateway.kyma-project.io/v1alpha2",
  kind: "Api",
  metadata: { name: `api-${i}`, namespace: ns },
  spec: { service: { name: `svc-${i}`, port: 8080 }, hostname: `${ns}-${i}` }
})

const status = (i: number) => ({
  validationStatus: 2,
  virtualService: { code: 2, resource: { name: `api-${i}`, uid: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", version: "12345" } },
  conditions: [{ type: "Ready", status: "True", reason: "Ready", message: "exposed", observedGeneration: 1, lastTransitionTime: "2026-11-30T00:00:00Z" }],
  observedGeneration: 1
})

interface Calls {
  readonly create: (kind: typeof Kinds.Policy | typeof Kinds.Api, o: KubeObject) => Promise<unknown>
  readonly patchStatus: (ns: string, name: string, body: unknown) => Promise<unknown>
  readonly get: (ns: string, name: string) => Promise<unknown>
}

interface AdminCalls extends Calls {
  readonly createNamespace: (name: string) => Promise<unknown>
}

type KubeApiLiveModule = Pick<typeof import("../src/k8s/KubeApiLive.ts"), "loadKubeConfig" | "makeKubeApi">

const liveCalls = async (kubeconfigPath: string, module: KubeApiLiveModule = { loadKubeConfig, makeKubeApi }): Promise<Calls> => {
  const { kubeConfig } = await Effect.runPromise(module.loadKubeConfig({ kubeconfigPath }))
  const kube = module.makeKubeApi(kubeConfig)
  return {
    create: (kind, o) => Effect.runPromise(kube.create(kind, o)),
    patchStatus: (ns, name, body) => Effect.runPromise(kube.patchStatus(Kinds.Api, ns, name, body as never)),
    get: (ns, name) => Effect.runPromise(kube.get(Kinds.Api, ns, name))
  }
}

/** node:https with keep-alive: the least a client can do per request. */
const minimalCalls = (kubeconfigPath: string, sockets: number): AdminCalls => {
  const { server, ca, cert, key } = kubeconfigTls(kubeconfigPath)
  const agent = new Agent({ ca, cert, key, keepAlive: true, maxSockets: sockets })
  const send = (method: string, path: string, body: unknown, contentType = "application/json") =>
    new Promise<unknown>((ok, fail) => {
      const payload = body === undefined ? undefined : JSON.stringify(body)
      const req = request({
        host: server.hostname,
        port: server.port,
        method,
        path,
        agent,
        headers: { accept: "application/json", ...(payload !== undefined ? { "content-type": contentType } : {}) }
      }, (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => {
          const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"))
          if ((res.statusCode ?? 0) >= 300) fail(new Error(`${method} ${path}: ${res.statusCode}`))
          else ok(parsed)
        })
      })
      req.on("error", fail)
      req.end(payload)
    })
  const base = (kind: typeof Kinds.Policy | typeof Kinds.Api, ns: string) => `/apis/${kind.group}/${kind.version}/namespaces/${ns}/${kind.plural}`
  return {
    create: (kind, o) => send("POST", `${base(kind, o.metadata.namespace!)}?fieldManager=api-controller`, o),
    patchStatus: (ns, name, body) =>
      send("PATCH", `${base(Kinds.Api, ns)}/${name}/status?fieldManager=api-controller`, body, "application/merge-patch+json"),
    get: (ns, name) => send("GET", `${base(Kinds.Api, ns)}/${name}`, undefined),
    createNamespace: (name) => send("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } })
  }
}

/** `count` calls of `f`, `concurrency` at a time; CPU time of this process per call, µs. */
const cpuPerCall = async (count: number, concurrency: number, f: (i: number) => Promise<unknown>): Promise<number> => {
  const before = process.cpuUsage()
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) await f(next++)
  }))
  const used = process.cpuUsage(before)
  return (used.user + used.system) / count
}

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export interface MeasureOptions {
  /** Only the clients whose name contains this. */
  readonly only?: string
  /** Another checkout whose `src/k8s/KubeApiLive.ts` is measured beside this one's. */
  readonly compare?: string
  /** Measure every client this often, in rotating order; default 1. */
  readonly rounds?: number
}

export const measureClients = async (
  kubeconfigPath: string,
  requests = 1000,
  concurrency = 2,
  options: MeasureOptions = {}
): Promise<ReadonlyArray<ClientCost>> => {
  const admin = minimalCalls(kubeconfigPath, 4)
  const clients: Array<readonly [string, () => Promise<Calls>]> = [
    ["KubeApiLive", () => liveCalls(kubeconfigPath)],
    ["minimal node:https", async () => minimalCalls(kubeconfigPath, concurrency)]
  ]
  if (options.compare !== undefined) {
    const module = await import(pathToFileURL(join(resolve(options.compare), "src/k8s/KubeApiLive.ts")).href) as KubeApiLiveModule
    clients.splice(1, 0, [`KubeApiLive (${options.compare})`, () => liveCalls(kubeconfigPath, module)])
  }
  const chosen = clients.filter(([name]) => options.only === undefined || name.toLowerCase().includes(options.only.toLowerCase()))
  const made = await Promise.all(chosen.map(async ([name, make]) => [name, await make()] as const))
  const rounds = new Map<string, Array<Record<Request, number>>>(made.map(([name]) => [name, []]))
  let namespaces = 0
  for (let round = 0; round < (options.rounds ?? 1); round++) {
    // Rotate the order, so no client always comes first (or right after another's garbage).
    const order = made.map((_, i) => made[(i + round) % made.length]!)
    for (const [name, calls] of order) {
      const ns = `client-cost-${process.pid}-${namespaces++}`
      await admin.createNamespace(ns)
      // Warm up: JIT, connections.
      for (let i = 0; i < 50; i++) await calls.create(Kinds.Api, api(ns, 100_000 + i))
      const create = await cpuPerCall(requests, concurrency, (i) => calls.create(Kinds.Policy, policy(ns, i)))
      for (let i = 0; i < requests; i++) await admin.create(Kinds.Api, api(ns, i))
      const patchStatus = await cpuPerCall(requests, concurrency, (i) => calls.patchStatus(ns, `api-${i}`, { status: status(i) }))
      const get = await cpuPerCall(requests, concurrency, (i) => calls.get(ns, `api-${i}`))
      rounds.get(name)!.push({ create, patchStatus, get })
    }
  }
  return made.map(([client]) => {
    const rs = rounds.get(client)!
    const perRequestUs = { create: median(rs.map((r) => r.create)), patchStatus: median(rs.map((r) => r.patchStatus)), get: median(rs.map((r) => r.get)) }
    return { client, perRequestUs, rounds: rs }
  })
}

export const clientCostTable = (costs: ReadonlyArray<ClientCost>): string => {
  const ms = (us: number) => (us / 1000).toFixed(3)
  const cell = (c: ClientCost, k: Request) =>
    c.rounds.length > 1
      ? `${ms(c.perRequestUs[k])} ms (${ms(Math.min(...c.rounds.map((r) => r[k])))}-${ms(Math.max(...c.rounds.map((r) => r[k])))})`
      : `${ms(c.perRequestUs[k])} ms`
  const rounds = Math.max(...costs.map((c) => c.rounds.length))
  const rows = [
    [`CPU per request (this process)${rounds > 1 ? `, median (range) of ${rounds}` : ""}`, "create", "status patch", "get"],
    ...costs.map((c) => [c.client, ...REQUESTS.map((k) => cell(c, k))])
  ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("   ")).join("\n")
}

/**
 * Round by round, one client's CPU per request over another's: the two ran back to back, so a
 * load that comes and goes on a shared machine cancels better than in either's median.
 */
export const pairedRatioTable = (a: ClientCost, b: ClientCost): string => {
  const cell = (k: Request) => {
    const ratios = a.rounds.map((r, i) => r[k] / b.rounds[i]![k])
    return `${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`
  }
  return `${a.client} / ${b.client}, per round: median (range) of ${a.rounds.length}\n` +
    REQUESTS.map((k) => `  ${k}: ${cell(k)}`).join("\n")
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values: args } = parseArgs({
    options: {
      kubeconfig: { type: "string" },
      requests: { type: "string", default: "1000" },
      concurrency: { type: "string", default: "2" },
      only: { type: "string" },
      compare: { type: "string" },
      rounds: { type: "string", default: "1" }
    }
  })
  const given = args.kubeconfig
  const cp = given === undefined ? await startControlPlane() : undefined
  try {
    const costs = await measureClients(given ?? cp!.kubeconfigPath, Number(args.requests), Number(args.concurrency), {
      ...(args.only !== undefined ? { only: args.only } : {}),
      ...(args.compare !== undefined ? { compare: args.compare } : {}),
      rounds: Number(args.rounds)
    })
    console.log(clientCostTable(costs))
    const [live, compared] = costs
    if (args.compare !== undefined && live !== undefined && compared !== undefined && compared.client.includes(args.compare)) {
      console.log(pairedRatioTable(live, compared))
    }
  } finally {
    await cp?.stop()
  }
}
