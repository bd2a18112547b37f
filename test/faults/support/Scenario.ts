/**
 * The pieces every fault file shares: a control plane with a client (the tier's shared one, or
 * one of the file's own to break), the controller bundle as a process, Api builders, and the run
 * of one scenario around a fault:
 *
 *   converging: create N Apis, apply the fault once a share of them has converged, wait for all
 *   idle:       (Apis already converged) apply the fault, then change every Api, wait for all
 *
 * ending with one figure line: converged/total, duplicates, orphans, stuck, recovery time (from
 * the end of the fault to every Api converged), plus what the scenario adds.
 */
import { inject } from "vitest"
import { Kinds, type KubeObject } from "../../../src/domain/Kube.ts"
import { type Client, makeClient } from "./Cluster.ts"
import { type ControllerProcess, startController, uncaughtErrors } from "./ControllerProcess.ts"
import { type FaultPlane, startFaultPlane } from "./FaultPlane.ts"
import { type Assessment, assess, figureOf, report, sampleReadiness, snapshot, waitFor } from "./Figures.ts"
import { SOAK } from "./Sizes.ts"

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export const JWT = {
  type: "JWT",
  jwt: {
    issuer: "https://accounts.google.com",
    jwksUri: "https://www.googleapis.com/oauth2/v3/certs",
    triggerRule: { excludedPaths: [{ exact: "/status" }, { prefix: "/public" }] }
  }
}

/** Api number i of a namespace: its own Service and host, with authentication. */
export const securedApi = (namespace: string, i: number, port = 8080): KubeObject => ({
  apiVersion: "gateway.kyma-project.io/v1alpha2",
  kind: "Api",
  metadata: { name: `api-${i}`, namespace },
  spec: { service: { name: `svc-${i}`, port }, hostname: `${namespace}-${i}`, authentication: [JWT] }
})

export const names = (count: number) => Array.from({ length: count }, (_, i) => `api-${i}`)

export interface World {
  readonly kubeconfigPath: string
  /** Whether garbage collection of owned objects and namespace deletion happen here. */
  readonly hasGarbageCollector: boolean
  readonly client: Client
  readonly bundleMain: string
  /** A controller process on this plane (not started). */
  readonly controller: (
    name: string,
    extraArgs?: ReadonlyArray<string>,
    env?: Readonly<Record<string, string>>
  ) => Promise<ControllerProcess>
  readonly stop: () => Promise<void>
}

/** A World whose control plane is the file's own, to break (kill kube-apiserver, pause etcd, ...). */
export interface FaultWorld extends World {
  readonly plane: FaultPlane
}

const worldOn = (kubeconfigPath: string, hasGarbageCollector: boolean, stopPlane: (client: Client) => Promise<void>) => {
  const client = makeClient(kubeconfigPath)
  const controllers: Array<ControllerProcess> = []
  const bundleMain = inject("bundleMain")
  return {
    kubeconfigPath,
    hasGarbageCollector,
    client,
    bundleMain,
    controller: async (name: string, extraArgs: ReadonlyArray<string> = [], env: Readonly<Record<string, string>> = {}) => {
      const c = await startController({ main: bundleMain, kubeconfigPath, name, extraArgs, env })
      controllers.push(c)
      return c
    },
    stop: async () => {
      for (const c of controllers) await c.kill()
      await stopPlane(client)
      await client.dispose()
    }
  } satisfies World
}

/**
 * A World on the tier's shared control plane (started once by the global setup), for files whose
 * faults spare the plane. Files run one at a time; each leaves the plane as it found it: its
 * controllers killed, and every Api and child in the namespaces it made deleted, so the next
 * file's controller (which watches all namespaces) starts on an empty cluster.
 */
export const startWorld = async (label: string): Promise<World> => {
  console.log(`[${label}] on the tier's shared control plane`)
  const made = new Set<string>()
  const world = worldOn(inject("sharedKubeconfigPath"), true, async (client) => {
    for (const namespace of made) await client.wipe(namespace)
  })
  const ensureNamespace = world.client.ensureNamespace
  return {
    ...world,
    client: {
      ...world.client,
      ensureNamespace: async (name) => {
        made.add(name)
        await ensureNamespace(name)
      }
    }
  }
}

/** A World on a control plane of the file's own, which its faults may break. */
export const startFaultWorld = async (label: string): Promise<FaultWorld> => {
  const plane = await startFaultPlane((line) => console.log(`[${label}] ${line}`))
  return { ...worldOn(plane.kubeconfigPath, plane.hasGarbageCollector, () => plane.stop()), plane }
}

/**
 * How long a leader keeps trying to renew before it gives up: the Deployment's 10 s in soak runs;
 * small runs give the bundle shorter lease timings (6 s / 4 s / 1 s), so a fault outlasts the
 * renew deadline, and a dead leader's Lease runs out, in a third of the time. What the
 * scenarios check (leadership lost and won back, a hand-over) is the same.
 */
export const RENEW_DEADLINE_MS = SOAK ? 10_000 : 4_000

/** The Lease namespace and flags of a controller under leader election. */
export const LEADER_ARGS: ReadonlyArray<string> = [
  "--leader-elect",
  "--leader-election-namespace",
  "kube-system",
  ...(SOAK ? [] : ["--lease-duration", "6s", "--renew-deadline", "4s", "--retry-period", "1s"])
]

export interface FaultWindow {
  readonly start: number
  readonly end: number
}

export interface ScenarioOutcome {
  readonly assessment: Assessment
  readonly recoverySeconds: number | undefined
  readonly notReadySeconds: number
  readonly fault: FaultWindow
}

/**
 * How long recovery may take: a fault that is over must not leave the controller idle. Generous
 * for two loaded cores (it includes converging whatever the fault held up); a controller that
 * waits for a timeout of minutes, or forever, fails it.
 */
export const RECOVERY_LIMIT_S = 60

/** Checks shared by every scenario: nothing stuck, no duplicate, no orphan, no crash, prompt recovery. */
export const judge = (o: ScenarioOutcome, controllers: ReadonlyArray<ControllerProcess>) => {
  const problems: Array<string> = []
  const a = o.assessment
  if (o.recoverySeconds !== undefined && o.recoverySeconds > RECOVERY_LIMIT_S) {
    problems.push(`recovery took ${o.recoverySeconds.toFixed(1)} s (limit ${RECOVERY_LIMIT_S} s)`)
  }
  if (a.notConverged.length > 0) problems.push(`not converged: ${a.notConverged.slice(0, 5).join("; ")}`)
  if (a.duplicates.length > 0) problems.push(`duplicates: ${a.duplicates.slice(0, 5).join("; ")}`)
  if (a.orphans.length > 0) problems.push(`orphans: ${a.orphans.slice(0, 5).join("; ")}`)
  for (const c of controllers) {
    const crashed = uncaughtErrors(c.lines())
    if (crashed.length > 0) problems.push(`${c.name} logged uncaught errors: ${JSON.stringify(crashed.slice(0, 2))}`)
    if (c.stray().length > 0) problems.push(`${c.name} wrote non-JSON output: ${c.stray().slice(0, 3).join(" | ")}`)
  }
  return problems
}

/**
 * Runs `fault` while `count` new Apis converge in `namespace` (after `shareBefore` of them have),
 * then waits up to `recoverMs` for all. The Apis stay; the caller wipes the namespace.
 */
export const whileConverging = async (
  w: World,
  c: ControllerProcess,
  options: {
    readonly namespace: string
    readonly count: number
    readonly shareBefore?: number
    readonly recoverMs?: number
    readonly fault: () => Promise<FaultWindow>
    /**
     * Once all have converged, change every Api once more (a new port) and wait again: an Api
     * whose key the controller lost would keep its old status and child for good.
     */
    readonly changeAfter?: boolean
  }
): Promise<ScenarioOutcome> => {
  const { namespace, count } = options
  await w.client.ensureNamespace(namespace)
  const readiness = sampleReadiness(c.readyz)
  const creating = w.client.createAll(Kinds.Api, Array.from({ length: count }, (_, i) => securedApi(namespace, i)))
  const inNs = (a: KubeObject) => a.metadata.namespace === namespace
  await waitFor(w.client, {
    select: inNs,
    timeoutMs: 300_000,
    intervalMs: 250,
    done: (a) => a.converged >= Math.ceil(count * (options.shareBefore ?? 0.2))
  })
  const fault = await options.fault()
  await creating
  const first = await waitFor(w.client, { select: inNs, expected: count, timeoutMs: options.recoverMs ?? 180_000 })
  const { assessment, at } = first.at === undefined || options.changeAfter !== true ? first : await (async () => {
    await w.client.changeApis(namespace, names(count), (spec) => ({ ...spec, service: { ...(spec["service"] as object), port: 8443 } }))
    const again = await waitFor(w.client, { select: inNs, expected: count, timeoutMs: 120_000 })
    // Recovery is still the first moment everything had converged; the change only proves it lasts.
    return { assessment: again.assessment, at: again.at === undefined ? undefined : first.at }
  })()
  await readiness.stop()
  return {
    assessment,
    recoverySeconds: at === undefined ? undefined : (at - fault.end) / 1000,
    notReadySeconds: readiness.notReadySeconds(fault.start, at ?? Date.now()),
    fault
  }
}

/**
 * With the Apis of `namespace` converged: runs `fault`, then changes every Api's port (a new
 * generation each) and waits up to `recoverMs` for all to converge on it.
 */
export const idleThenChanged = async (
  w: World,
  c: ControllerProcess,
  options: {
    readonly namespace: string
    readonly count: number
    readonly port: number
    readonly recoverMs?: number
    readonly fault: () => Promise<FaultWindow>
  }
): Promise<ScenarioOutcome> => {
  const { namespace, count } = options
  const readiness = sampleReadiness(c.readyz)
  const fault = await options.fault()
  await w.client.changeApis(namespace, names(count), (spec) => ({
    ...spec,
    service: { ...(spec["service"] as object), port: options.port }
  }))
  const inNs = (a: KubeObject) => a.metadata.namespace === namespace
  const { assessment, at } = await waitFor(w.client, { select: inNs, expected: count, timeoutMs: options.recoverMs ?? 180_000 })
  await readiness.stop()
  return {
    assessment,
    recoverySeconds: at === undefined ? undefined : (at - fault.end) / 1000,
    notReadySeconds: readiness.notReadySeconds(fault.start, at ?? Date.now()),
    fault
  }
}

/** Api number i of a namespace without authentication: one child. */
export const plainApi = (namespace: string, i: number, port = 8080): KubeObject => ({
  apiVersion: "gateway.kyma-project.io/v1alpha2",
  kind: "Api",
  metadata: { name: `api-${i}`, namespace },
  spec: { service: { name: `svc-${i}`, port }, hostname: `${namespace}-${i}` }
})

/** Creates `count` Apis in `namespace` (secured unless `make` says otherwise) and waits until all have converged. */
export const convergeFresh = async (
  w: World,
  namespace: string,
  count: number,
  timeoutMs = 300_000,
  make: (namespace: string, i: number) => KubeObject = securedApi
) => {
  await w.client.ensureNamespace(namespace)
  const started = Date.now()
  await w.client.createAll(Kinds.Api, Array.from({ length: count }, (_, i) => make(namespace, i)))
  const { assessment, at } = await waitFor(w.client, {
    select: (a) => a.metadata.namespace === namespace,
    expected: count,
    timeoutMs
  })
  if (at === undefined) throw new Error(`${count} Apis in ${namespace} did not converge: ${assessment.notConverged.slice(0, 5).join("; ")}`)
  return (at - started) / 1000
}

export const figure = (
  scenario: string,
  o: ScenarioOutcome,
  extra: Readonly<Record<string, string | number>> = {}
) =>
  report(figureOf(scenario, o.assessment, o.recoverySeconds, {
    "fault s": ((o.fault.end - o.fault.start) / 1000).toFixed(1),
    "not ready s": o.notReadySeconds.toFixed(1),
    ...extra
  }))

export { assess, snapshot }
