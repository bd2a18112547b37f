/**
 * What one request costs the controller's client stack (src/k8s/KubeApiLive.ts, on
 * @kubernetes/client-node): CPU time of this process per create, status patch and get, against
 * a minimal HTTPS client making the same requests with the same bodies. CPU time, not wall time,
 * so a busy machine changes the figures little.
 *
 *   npx tsx scripts/bench-client.ts [--kubeconfig <file>] [--requests N (1000)] [--concurrency N (2)] [--only live|minimal]
 *
 * Without --kubeconfig it starts a private control plane (scripts/lib/ControlPlane.ts).
 * `npm run bench` runs it too. Run it under `node --cpu-prof` to see where the time goes.
 */
import { Effect } from "effect"
import { Agent, request } from "node:https"
import { resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { kubeconfigTls } from "./lib/KubeconfigTls.ts"
import { Kinds, type KubeObject } from "../src/domain/Kube.ts"
import { loadKubeConfig, makeKubeApi } from "../src/k8s/KubeApiLive.ts"
import { startControlPlane } from "./lib/ControlPlane.ts"

export interface ClientCost {
  readonly client: string
  /** CPU time of this process per request, µs, by request. */
  readonly perRequestUs: Readonly<Record<"create" | "patchStatus" | "get", number>>
}

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

const liveCalls = async (kubeconfigPath: string): Promise<Calls> => {
  const { kubeConfig } = await Effect.runPromise(loadKubeConfig({ kubeconfigPath }))
  const kube = makeKubeApi(kubeConfig)
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

export const measureClients = async (
  kubeconfigPath: string,
  requests = 1000,
  concurrency = 2,
  only?: string
): Promise<ReadonlyArray<ClientCost>> => {
  const out: Array<ClientCost> = []
  const admin = minimalCalls(kubeconfigPath, 4)
  const clients: ReadonlyArray<readonly [string, () => Promise<Calls>]> = [
    ["KubeApiLive (client-node)", () => liveCalls(kubeconfigPath)],
    ["minimal node:https", async () => minimalCalls(kubeconfigPath, concurrency)]
  ]
  let round = 0
  for (const [name, make] of clients) {
    if (only !== undefined && !name.toLowerCase().includes(only.toLowerCase())) continue
    const calls = await make()
    const ns = `client-cost-${process.pid}-${round++}`
    await admin.createNamespace(ns)
    // Warm up: JIT, connections.
    for (let i = 0; i < 50; i++) await calls.create(Kinds.Api, api(ns, 100_000 + i))
    const create = await cpuPerCall(requests, concurrency, (i) => calls.create(Kinds.Policy, policy(ns, i)))
    for (let i = 0; i < requests; i++) await admin.create(Kinds.Api, api(ns, i))
    const patchStatus = await cpuPerCall(requests, concurrency, (i) => calls.patchStatus(ns, `api-${i}`, { status: status(i) }))
    const get = await cpuPerCall(requests, concurrency, (i) => calls.get(ns, `api-${i}`))
    out.push({ client: name, perRequestUs: { create, patchStatus, get } })
  }
  return out
}

export const clientCostTable = (costs: ReadonlyArray<ClientCost>): string => {
  const rows = [
    ["CPU per request (this process)", "create", "status patch", "get"],
    ...costs.map((c) => [c.client, ...(["create", "patchStatus", "get"] as const).map((k) => `${(c.perRequestUs[k] / 1000).toFixed(3)} ms`)])
  ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("   ")).join("\n")
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2)
  const opt = (name: string) => {
    const i = argv.indexOf(`--${name}`)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const given = opt("kubeconfig")
  const cp = given === undefined ? await startControlPlane() : undefined
  try {
    const costs = await measureClients(given ?? cp!.kubeconfigPath, Number(opt("requests") ?? 1000), Number(opt("concurrency") ?? 2), opt("only"))
    console.log(clientCostTable(costs))
  } finally {
    await cp?.stop()
  }
}
