/**
 * `api-controller plan`, the part that decides: what the controller would do to the cluster, from
 * the same code that will run.
 *
 *   settings        discovered as `run` discovers them (controller/Settings.ts), for the given config
 *   -> snapshot     one list per kind (Snapshot.ts)
 *   -> overlay      the input Apis: new ones, changed specs, or (--delete) removed with their
 *                   children, as garbage collection would
 *   -> converge     the controller's passes until one round writes nothing (Converge.ts)
 *   -> report       per Api: status, child diffs against the live objects, conflicts, decisions
 *
 * Apis outside the input are passed too (a change interacts with them: a freed host, a Service
 * taken over), and reported when their outcome differs from a run without the input (`affected`).
 * Needs a `KubeApi` that reads; the command gives it a read-only one (ReadOnlyKubeApi.ts).
 */
import { Clock, Effect, Result } from "effect"
import { type ApiObject, decodeSpec, decodeStatus, type ApiStatus } from "../domain/Api.ts"
import type { ControllerConfig } from "../domain/ControllerConfig.ts"
import { Kinds, type KubeObject, objectKey } from "../domain/Kube.ts"
import { gatherer } from "../controller/Gather.ts"
import { discoverSettings, type SettingsShape } from "../controller/Settings.ts"
import type { KubeApi, KubeApiError } from "../k8s/KubeApi.ts"
import { ownerOf, workloadOfObservation } from "../lifecycle/Observation.ts"
import { authenticationPlan } from "../plan/AuthenticationPlan.ts"
import { claimsOf, servesHost, targetServiceOf } from "../plan/Claims.ts"
import { hostnameHolder, keyOf, serviceHolder } from "../plan/Conflicts.ts"
import { isOwnedBy, ownerKeyOf } from "../plan/Ownership.ts"
import { jsonEqual } from "../util/MergePatch.ts"
import { type ChildRef, type Convergence, converge } from "./Converge.ts"
import { decisionTable } from "./DecisionTable.ts"
import {
  type ApiPlan,
  type ChildChange,
  type Conflict,
  PLAN_FORMAT,
  type PlannedStatus,
  type PlanReport
} from "./PlanReport.ts"
import { kindKeyOf, Snapshot } from "./Snapshot.ts"
import { comparable, toYaml, unifiedDiff } from "./UnifiedDiff.ts"

export interface PlanRequest {
  /** The controller's configuration, `AUTH_BACKEND` already as the plan should run it. */
  readonly config: ControllerConfig
  /** Api manifests, namespace filled in. */
  readonly manifests: ReadonlyArray<KubeObject>
  /** Where the manifests came from, for the report. */
  readonly files: ReadonlyArray<string>
  /** Remove the manifests' Apis instead of applying them. */
  readonly delete: boolean
  /** Plan every Api in the cluster (in `namespace`, when given). */
  readonly all: boolean
  readonly namespace?: string | undefined
  /** Notes from reading the input (documents ignored, ...). */
  readonly notes?: ReadonlyArray<string>
}

/** The uid a new Api stands in for until the server gives it one. */
export const newApiUid = (namespace: string, name: string): string => `(uid of new Api ${namespace}/${name})`

const iso = (millis: number) => new Date(millis).toISOString().replace(/\.\d+Z$/, "Z")

/** Status as the report shows it; undefined for an Api that has none yet. */
export const plannedStatusOf = (status: ApiStatus): PlannedStatus | undefined => {
  const ready = (status.conditions ?? []).find((c) => c.type === "Ready")
  if (ready === undefined && status.validationStatus === undefined) return undefined
  const machine = (code: number | undefined, lastError: string | undefined) => ({
    code: code ?? 0,
    ...(lastError !== undefined ? { lastError } : {})
  })
  return {
    ready: ready?.status === "True",
    reason: ready?.reason ?? "Unknown",
    message: ready?.message ?? "",
    validation: machine(status.validationStatus, status.lastError),
    virtualService: machine(status.virtualService?.code, status.virtualService?.lastError),
    ...(status.authenticationStatus !== undefined
      ? { authentication: machine(status.authenticationStatus.code, status.authenticationStatus.lastError) }
      : {})
  }
}

/** `live/networking.istio.io.v1.VirtualService.shop.orders`, as kubectl diff names its files. */
const diffLabel = (side: string, o: KubeObject) =>
  `${side}/${o.apiVersion.replace("/", ".")}.${o.kind}.${o.metadata.namespace ?? ""}.${o.metadata.name}`

const sameRef = (a: ChildRef, b: ChildRef) => kindKeyOf(a.kind) === kindKeyOf(b.kind) && a.namespace === b.namespace && a.name === b.name

/** What became of each child an Api's passes touched, against the live object. */
const childChanges = (refs: ReadonlyArray<ChildRef>, live: Snapshot, planned: Snapshot): ReadonlyArray<ChildChange> =>
  refs.flatMap((ref): ReadonlyArray<ChildChange> => {
    const before = live.get(ref.kind, ref.namespace, ref.name)
    const after = planned.get(ref.kind, ref.namespace, ref.name)
    if (before === undefined && after === undefined) return []
    if (before !== undefined && after !== undefined && jsonEqual(comparable(before), comparable(after))) return []
    const shown = (after ?? before)!
    const action = before === undefined ? "create" : after === undefined ? "delete" : "update"
    return [{
      action,
      kind: shown.kind,
      apiVersion: shown.apiVersion,
      namespace: ref.namespace,
      name: ref.name,
      diff: unifiedDiff(toYaml(before), toYaml(after), { from: diffLabel("live", shown), to: diffLabel("planned", shown) }),
      ...(before !== undefined ? { live: comparable(before) } : {}),
      ...(after !== undefined ? { planned: comparable(after) } : {})
    }]
  })

const describeHolder = (kind: string, o: KubeObject) => {
  const owner = ownerKeyOf(o)
  return `${kind} ${keyOf(o)}${owner !== undefined ? ` (Api ${owner})` : ""}`
}

/** The conflicts the Api is in once everything settled, read from the converged world. */
const conflictsOf = (api: ApiObject, settings: SettingsShape, snapshot: Snapshot) =>
  Effect.gen(function*() {
    const world = yield* Effect.orDie(gatherer(snapshot.view(), settings)(api as KubeObject))
    const conflicts: Array<Conflict> = []
    const namespace = api.metadata.namespace ?? ""
    const owner = ownerOf(api)
    const service = targetServiceOf(api as KubeObject)
    const serviceHeld = service !== undefined ? serviceHolder(api as KubeObject, service, world.serviceClaims) : undefined
    if (serviceHeld !== undefined) {
      conflicts.push({
        kind: "service",
        holder: `Api ${keyOf(serviceHeld)}`,
        message: `Service ${namespace}/${service} is held by the older Api ${keyOf(serviceHeld)}: this one creates nothing for it (code 5)`
      })
    }
    const fqdn = claimsOf(api as KubeObject, settings.config.domainName).fqdn
    const hostHeld = fqdn !== undefined ? hostnameHolder(owner, fqdn, world.hostClaims) : undefined
    if (hostHeld !== undefined) {
      conflicts.push({
        kind: "hostname",
        holder: describeHolder("VirtualService", hostHeld),
        message: `${fqdn} is served by VirtualService ${keyOf(hostHeld)}: this Api's VirtualService is not created (code 4)`
      })
    }
    const vs = world.virtualService
    if (vs !== undefined && !isOwnedBy(vs.metadata, owner)) {
      conflicts.push({ kind: "child", holder: describeHolder("VirtualService", vs), message: `VirtualService ${keyOf(vs)} is not this Api's` })
    }
    for (const c of world.authentication) {
      if (settings.backend.kinds.includes(c.kind) && !isOwnedBy(c.object.metadata, owner)) {
        conflicts.push({ kind: "child", holder: describeHolder(c.kind.kind, c.object), message: `${c.kind.kind} ${keyOf(c.object)} is not this Api's` })
      }
    }
    const sharing = workloadOfObservation({ ...world, api }, settings)?.sharing
    if (sharing != null) {
      const others = [...sharing.matchAll(/apart from Api (\S+) on the pods/g)].map((m) => `Api ${m[1]}`)
      conflicts.push({ kind: "workload", holder: [...new Set(others)].join(", "), message: sharing })
    }
    return { conflicts, world }
  })

/** What an Api ends with, to tell whether the input changed it. */
const outcomeOf = (key: string, conv: Convergence, snapshot: Snapshot, refs: ReadonlyArray<ChildRef>) =>
  JSON.stringify({
    status: plannedStatusOf(conv.decisions.get(key)?.status ?? {}),
    children: refs.map((r) => {
      const o = snapshot.get(r.kind, r.namespace, r.name)
      return o === undefined ? null : comparable(o)
    })
  })

export const predict = Effect.fn("preview.predict")(function*(request: PlanRequest): Effect.fn.Return<PlanReport, KubeApiError, KubeApi> {
  const settings = yield* discoverSettings(request.config)
  const notes: Array<string> = [...(request.notes ?? [])]
  const live = yield* Snapshot.read(settings)
  const unserved = settings.backend.kinds.filter((k) => !live.serves(k))
  if (unserved.length > 0) {
    notes.push(`the cluster does not serve ${unserved.map((k) => k.kind).join(", ")}, which ${settings.backend.name} writes: Apis that ask for authentication would fail`)
  }
  const now = iso(yield* Clock.currentTimeMillis)

  // The input on top of the cluster.
  const planned = live.clone()
  const changes = new Map<string, ApiPlan["change"]>()
  const collected = new Map<string, ReadonlyArray<ChildRef>>()
  for (const m of request.manifests) {
    const namespace = m.metadata.namespace ?? ""
    const key = objectKey(namespace, m.metadata.name)
    const existing = planned.get(Kinds.Api, namespace, m.metadata.name)
    if (request.delete) {
      if (existing === undefined) {
        notes.push(`Api ${key} is not in the cluster: nothing to delete`)
        continue
      }
      planned.remove(Kinds.Api, namespace, m.metadata.name)
      const gone = planned.collectGarbage(new Set([existing.metadata.uid ?? ""]))
      collected.set(key, gone.map((g) => ({ kind: g.kind, namespace: g.object.metadata.namespace ?? "", name: g.object.metadata.name })))
      changes.set(key, "delete")
    } else if (existing !== undefined) {
      const specChanged = !jsonEqual(existing["spec"], m["spec"])
      const generation = existing.metadata.generation ?? 1
      planned.put(Kinds.Api, {
        ...existing,
        metadata: {
          ...existing.metadata,
          ...(m.metadata.labels !== undefined ? { labels: m.metadata.labels } : {}),
          generation: specChanged ? generation + 1 : generation
        },
        spec: m["spec"]
      })
      changes.set(key, specChanged ? "update" : "none")
    } else {
      planned.put(Kinds.Api, {
        apiVersion: m.apiVersion,
        kind: m.kind,
        metadata: {
          ...(m.metadata.labels !== undefined ? { labels: m.metadata.labels } : {}),
          name: m.metadata.name,
          namespace,
          uid: newApiUid(namespace, m.metadata.name),
          resourceVersion: planned.placeholder(),
          generation: 1,
          creationTimestamp: now
        },
        spec: m["spec"]
      })
      changes.set(key, "create")
    }
  }
  if ([...changes.values()].includes("create")) {
    notes.push("a new Api gets its uid when it is created: \"(uid of new Api <namespace>/<name>)\" stands for it in the planned objects")
  }

  const inNamespace = (o: KubeObject) => request.namespace === undefined || o.metadata.namespace === request.namespace
  const input = new Set<string>([
    ...changes.keys(),
    ...(request.all ? planned.list(Kinds.Api).filter(inNamespace).map((o) => keyOf(o)) : [])
  ])

  const conv = yield* converge(planned, settings, now)
  if (!conv.settled) notes.push(`the passes did not settle within ${conv.rounds} rounds: the controller would keep rewriting`)

  // Apis outside the input: reported when the input changes their outcome.
  const outside = planned.list(Kinds.Api).map((o) => keyOf(o)).filter((k) => !input.has(k))
  const affected = new Set<string>()
  if (outside.length > 0 && changes.size > 0) {
    const baseline = live.clone()
    const base = yield* converge(baseline, settings, now)
    for (const key of outside) {
      const refs = [...(conv.touched.get(key) ?? []), ...(base.touched.get(key) ?? [])]
      if (outcomeOf(key, conv, planned, refs) !== outcomeOf(key, base, baseline, refs)) affected.add(key)
    }
  }

  const apiPlanOf = (key: string, scope: ApiPlan["scope"]) =>
    Effect.gen(function*() {
      const [namespace, name] = [key.slice(0, key.indexOf("/")), key.slice(key.indexOf("/") + 1)]
      const change = changes.get(key) ?? "none"
      const liveApi = live.get(Kinds.Api, namespace, name)
      const current = liveApi !== undefined ? plannedStatusOf(decodeStatus(liveApi["status"])) : undefined
      const refs: Array<ChildRef> = []
      for (const r of [...(conv.touched.get(key) ?? []), ...(collected.get(key) ?? [])]) if (!refs.some((x) => sameRef(x, r))) refs.push(r)
      const children = childChanges(refs, live, planned)
      const notesOf: Array<string> = []
      const skipped = conv.skipped.get(key)
      if (skipped !== undefined) notesOf.push(skipped)
      const base = { namespace, name, change, scope, ...(current !== undefined ? { current } : {}), children, notes: notesOf }
      const api = planned.get(Kinds.Api, namespace, name) as ApiObject | undefined
      const decision = conv.decisions.get(key)
      if (api === undefined || decision === undefined) return { ...base, conflicts: [] } satisfies ApiPlan

      const { conflicts, world } = yield* conflictsOf(api, settings, planned)
      const status = plannedStatusOf(decision.status)
      const spec = decodeSpec(api.spec)
      const fqdn = claimsOf(api as KubeObject, settings.config.domainName).fqdn
      const plan = Result.isSuccess(spec) ? authenticationPlan(spec.success, settings.config) : undefined
      const vs = world.virtualService
      const exposed = vs !== undefined && fqdn !== undefined && isOwnedBy(vs.metadata, ownerOf(api)) && servesHost(vs, fqdn)
      const decisions = plan !== undefined && fqdn !== undefined && Result.isSuccess(spec)
        ? decisionTable({ api, plan, host: fqdn, port: spec.success.service.port, backend: settings.backend, snapshot: planned, exposed })
        : undefined
      return {
        ...base,
        ...(status !== undefined ? { status } : {}),
        conflicts,
        ...(decisions !== undefined ? { decisions } : {})
      } satisfies ApiPlan
    })

  const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
  const apis: Array<ApiPlan> = []
  for (const key of [...input].sort(byKey)) apis.push(yield* apiPlanOf(key, "input"))
  for (const key of [...affected].sort(byKey)) apis.push(yield* apiPlanOf(key, "affected"))

  // An Api no pass ran for (being deleted) has no planned status, and is not counted.
  const planned_ = apis.filter((a) => a.status !== undefined)
  return {
    format: PLAN_FORMAT,
    readOnly: true,
    backend: { name: settings.backend.name, reason: settings.backendReason },
    virtualServiceVersion: `${settings.virtualServiceKind.group}/${settings.virtualServiceKind.version}`,
    input: {
      files: [...request.files],
      all: request.all,
      delete: request.delete,
      ...(request.namespace !== undefined ? { namespace: request.namespace } : {})
    },
    convergence: { rounds: conv.rounds, settled: conv.settled },
    notes,
    apis,
    summary: {
      apis: planned_.length,
      ready: planned_.filter((a) => a.status?.ready === true).length,
      notReady: planned_.filter((a) => a.status?.ready !== true).length,
      withChanges: apis.filter((a) => a.change !== "none" || a.children.length > 0).length,
      deleted: apis.filter((a) => a.change === "delete").length
    }
  } satisfies PlanReport
})
