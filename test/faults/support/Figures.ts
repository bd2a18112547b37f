/**
 * What a fault did, judged from the cluster alone (not from the controller's own view):
 *
 *   converged   the Api's status describes its current generation (observedGeneration) and says
 *               what is true: Created (2) with its VirtualService there, owned by it, serving its
 *               host on its port (and its Policy, when authentication is on); or HostnameOccupied
 *               (4) while another VirtualService really serves the host and none of its own does;
 *               or a final refusal (validation 3 or 5) with a lastError
 *   duplicates  hosts served by more than one VirtualService
 *   orphans     children made by the controller whose owner Api (by uid) no longer exists
 *   stuck       Apis not converged when the scenario's deadline passed
 *
 * Each scenario prints one figure line and appends it to the tier's results file, which the
 * global setup prints as a table at the end of the run.
 */
import { appendFileSync } from "node:fs"
import { inject } from "vitest"
import { Kinds, type KubeObject } from "../../../src/domain/Kube.ts"
import type { Client } from "./Cluster.ts"

const DOMAIN = "kyma.local"

export const fqdn = (hostname: string): string => {
  const h = hostname.toLowerCase().replace(/\.$/, "")
  return h === DOMAIN || h.endsWith(`.${DOMAIN}`) ? h : `${h}.${DOMAIN}`
}

interface Spec {
  readonly hostname?: string
  readonly service?: { readonly name?: string; readonly port?: number }
  readonly authenticationEnabled?: boolean
  readonly authentication?: ReadonlyArray<unknown>
}

interface Status {
  readonly observedGeneration?: number
  readonly validationStatus?: number
  readonly lastError?: string
  readonly virtualService?: { readonly code?: number; readonly lastError?: string }
  readonly authenticationStatus?: { readonly code?: number }
  readonly conditions?: ReadonlyArray<{ readonly type?: string; readonly status?: string }>
}

const hostsOf = (vs: KubeObject): ReadonlyArray<string> => {
  const hosts = (vs["spec"] as { hosts?: unknown } | undefined)?.hosts
  return Array.isArray(hosts) ? hosts.filter((h): h is string => typeof h === "string").map((h) => h.toLowerCase().replace(/\.$/, "")) : []
}

const portOf = (vs: KubeObject): number | undefined =>
  (vs["spec"] as { http?: Array<{ route?: Array<{ destination?: { port?: { number?: number } } }> }> } | undefined)
    ?.http?.[0]?.route?.[0]?.destination?.port?.number

const ownerUid = (o: KubeObject): string | undefined =>
  o.metadata.ownerReferences?.find((r) => r.kind === "Api" && r.controller === true)?.uid ??
    o.metadata.labels?.["apiUid"]

const madeByController = (o: KubeObject) =>
  o.metadata.labels?.["createdBy"] === "api-controller" || (o.metadata.ownerReferences ?? []).some((r) => r.kind === "Api")

const wantsAuthentication = (spec: Spec) =>
  spec.authenticationEnabled === true || (spec.authenticationEnabled !== false && (spec.authentication ?? []).length > 0)

export interface Snapshot {
  readonly apis: ReadonlyArray<KubeObject>
  readonly virtualServices: ReadonlyArray<KubeObject>
  readonly policies: ReadonlyArray<KubeObject>
}

export const snapshot = async (client: Client): Promise<Snapshot> => {
  const [apis, virtualServices, policies] = await Promise.all([
    client.list(Kinds.Api),
    client.list(Kinds.VirtualService),
    client.list(Kinds.Policy)
  ])
  return { apis, virtualServices, policies }
}

/** Why the Api is not converged, or undefined when it is. */
export const notConverged = (api: KubeObject, s: Snapshot): string | undefined => {
  if (api.metadata.deletionTimestamp !== undefined) return "still being deleted"
  const spec = (api["spec"] ?? {}) as Spec
  const status = (api["status"] ?? {}) as Status
  if (status.observedGeneration !== api.metadata.generation) {
    return `observedGeneration ${status.observedGeneration} behind generation ${api.metadata.generation}`
  }
  if (!(status.conditions ?? []).some((c) => c.type === "Ready")) return "no Ready condition"
  const ns = api.metadata.namespace
  const name = api.metadata.name
  if (status.validationStatus === 3 || status.validationStatus === 5) {
    return (status.lastError ?? "") === "" ? `validation ${status.validationStatus} without lastError` : undefined
  }
  if (status.validationStatus !== 2) return `validationStatus ${status.validationStatus}`
  const host = fqdn(spec.hostname ?? "")
  const own = s.virtualServices.find((v) => v.metadata.namespace === ns && v.metadata.name === name)
  const ownServes = own !== undefined && ownerUid(own) === api.metadata.uid && hostsOf(own).includes(host)
  const code = status.virtualService?.code
  if (code === 4) {
    const holder = s.virtualServices.find((v) => hostsOf(v).includes(host) && ownerUid(v) !== api.metadata.uid)
    if (holder === undefined) return "code 4 but no other VirtualService serves the host"
    if (ownServes) return "code 4 while its own VirtualService still serves the host"
    return undefined
  }
  if (code !== 2) return `virtualService.code ${code}`
  if (own === undefined) return "code 2 but no VirtualService"
  if (!ownServes) return "its VirtualService is not its own or does not serve its host"
  if (portOf(own) !== spec.service?.port) return `VirtualService port ${portOf(own)}, spec ${spec.service?.port}`
  if (wantsAuthentication(spec)) {
    if (status.authenticationStatus?.code !== 2) return `authenticationStatus.code ${status.authenticationStatus?.code}`
    const policy = s.policies.find((p) => p.metadata.namespace === ns && p.metadata.name === name)
    if (policy === undefined || ownerUid(policy) !== api.metadata.uid) return "no Policy of its own"
  }
  return undefined
}

export interface Assessment {
  readonly total: number
  readonly converged: number
  readonly duplicates: ReadonlyArray<string>
  readonly orphans: ReadonlyArray<string>
  readonly notConverged: ReadonlyArray<string>
}

/** Judge the Apis `select` picks (duplicates and orphans: the whole cluster). */
export const assess = (s: Snapshot, select: (api: KubeObject) => boolean = () => true): Assessment => {
  const apis = s.apis.filter(select)
  const problems = apis.flatMap((a) => {
    const why = notConverged(a, s)
    return why === undefined ? [] : [`${a.metadata.namespace}/${a.metadata.name}: ${why}`]
  })
  const byHost = new Map<string, Array<string>>()
  for (const vs of s.virtualServices) {
    for (const h of new Set(hostsOf(vs))) byHost.set(h, [...(byHost.get(h) ?? []), `${vs.metadata.namespace}/${vs.metadata.name}`])
  }
  const duplicates = [...byHost].filter(([, holders]) => holders.length > 1).map(([h, holders]) => `${h}: ${holders.join(", ")}`)
  const uids = new Set(s.apis.map((a) => a.metadata.uid))
  const orphans = [...s.virtualServices, ...s.policies]
    .filter((c) => madeByController(c) && !uids.has(ownerUid(c)))
    .map((c) => `${c.kind} ${c.metadata.namespace}/${c.metadata.name}`)
  return { total: apis.length, converged: apis.length - problems.length, duplicates, orphans, notConverged: problems }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Polls until `done(assessment)` (default: every selected Api converged, `expected` of them, no
 * orphans) or the deadline. Returns the last assessment and when it first held (undefined: never).
 */
export const waitFor = async (
  client: Client,
  options: {
    readonly select?: (api: KubeObject) => boolean
    readonly expected?: number
    readonly timeoutMs: number
    readonly done?: (a: Assessment) => boolean
    readonly intervalMs?: number
  }
): Promise<{ readonly assessment: Assessment; readonly at: number | undefined }> => {
  const deadline = Date.now() + options.timeoutMs
  const done = options.done ??
    ((a: Assessment) => a.notConverged.length === 0 && a.orphans.length === 0 && (options.expected === undefined || a.total === options.expected))
  for (;;) {
    const a = assess(await snapshot(client), options.select)
    if (done(a)) return { assessment: a, at: Date.now() }
    if (Date.now() > deadline) return { assessment: a, at: undefined }
    // Each look lists every Api and child: look less often when there are many, so the test
    // does not take the CPU the controller and the API server need.
    await sleep(options.intervalMs ?? Math.max(500, a.total))
  }
}

// ---------------------------------------------------------------------------------------------
// readiness sampling

export interface ReadinessSampler {
  /** Seconds /readyz was not 200 within [from, to] (sampled every 250 ms). */
  readonly notReadySeconds: (from: number, to: number) => number
  readonly stop: () => Promise<void>
}

export const sampleReadiness = (readyz: () => Promise<number>): ReadinessSampler => {
  const samples: Array<readonly [number, number]> = []
  let running = true
  const loop = (async () => {
    while (running) {
      const at = Date.now()
      samples.push([at, await readyz()])
      await sleep(Math.max(0, 250 - (Date.now() - at)))
    }
  })()
  return {
    notReadySeconds: (from, to) => {
      let ms = 0
      for (let i = 0; i < samples.length; i++) {
        const [at, status] = samples[i]!
        const next = samples[i + 1]?.[0] ?? at + 250
        const a = Math.max(at, from)
        const b = Math.min(next, to)
        if (status !== 200 && b > a) ms += b - a
      }
      return ms / 1000
    },
    stop: async () => {
      running = false
      await loop
    }
  }
}

// ---------------------------------------------------------------------------------------------
// figures

export interface Figure {
  readonly scenario: string
  readonly converged: number
  readonly total: number
  readonly duplicates: number
  readonly orphans: number
  readonly stuck: number
  /** From the end of the fault to every Api converged; undefined when that never happened. */
  readonly recoverySeconds?: number | undefined
  /** Extra figures: name -> value, printed after the standard ones. */
  readonly extra?: Readonly<Record<string, string | number>>
}

export const figureOf = (
  scenario: string,
  a: Assessment,
  recoverySeconds: number | undefined,
  extra?: Readonly<Record<string, string | number>>
): Figure => ({
  scenario,
  converged: a.converged,
  total: a.total,
  duplicates: a.duplicates.length,
  orphans: a.orphans.length,
  stuck: a.notConverged.length,
  recoverySeconds,
  ...(extra !== undefined ? { extra } : {})
})

export const formatFigure = (f: Figure): string =>
  [
    `converged ${f.converged}/${f.total}`,
    `duplicates ${f.duplicates}`,
    `orphans ${f.orphans}`,
    `stuck ${f.stuck}`,
    // No recovery time with nothing stuck: the scenario had no fault to recover from.
    ...(f.recoverySeconds !== undefined
      ? [`recovery ${f.recoverySeconds.toFixed(1)} s`]
      : f.stuck > 0
      ? ["recovery never"]
      : []),
    ...Object.entries(f.extra ?? {}).map(([k, v]) => `${k} ${v}`)
  ].join(" | ")

/** Prints the figure line and records it for the tier's summary table. */
export const report = (f: Figure): void => {
  console.log(`[faults] ${f.scenario}: ${formatFigure(f)}`)
  appendFileSync(inject("faultResultsFile"), JSON.stringify(f) + "\n")
}

/** The first few problems, for an assertion message. */
export const sample = (items: ReadonlyArray<string>, n = 5): string =>
  items.length === 0 ? "none" : `${items.slice(0, n).join("; ")}${items.length > n ? `; and ${items.length - n} more` : ""}`
