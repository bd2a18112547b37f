/**
 * One Api's lifecycle as data (issue 6): its spec in a few words, where each machine stands
 * (state, code, lastError), its children, the Ready condition, and a timeline that merges
 * `status.transitions` with the Kubernetes Events on the Api. The web view (src/web) renders it
 * as HTML, `api-controller describe` (src/cli/DescribeText.ts) as terminal text.
 *
 * Pure: everything comes in as the JSON the API server returned, nothing is fetched here. Every
 * machine name, heading and status field comes from machines/Catalog.ts, and whether
 * authentication is on from the plan (SPEC 4), so neither is decided here a second time.
 *
 * The timeline: the status keeps the last 10 transitions (with `from`); Events last longer (an
 * hour by default) and mark the moments that matter (SPEC 8): `Ready`, or the reason of a failed
 * state (`HostnameOccupied`, `AuthenticationFailed`, ...). An Event that reports a kept
 * transition (the failed state it names, within a few seconds) is folded into it; the others are
 * shown as what they are.
 */
import { Result } from "effect"
import { type ApiStatus, type Condition, decodeSpec, decodeStatus, type ResourceRef } from "../domain/Api.ts"
import type { ControllerConfig } from "../domain/ControllerConfig.ts"
import type { KubeObject } from "../domain/Kube.ts"
import { authenticationPlan } from "../plan/AuthenticationPlan.ts"
import { isOwnedBy } from "../plan/Ownership.ts"
import { catalog, codeOf, failureReasons, MACHINE_NAMES, type MachineName } from "../../machines/Catalog.ts"
import { machineStatesOf, READY, reportedOf } from "../lifecycle/StatusProjection.ts"

export type { MachineName }

/** A machine as a heading names it: its subject in the catalog, capitalised ("Authentication", "VirtualService"). */
export const machineTitle = (machine: MachineName): string => {
  const subject = catalog[machine].subject
  return subject.charAt(0).toUpperCase() + subject.slice(1)
}

/** The machines in the catalog's order, which is the order of every view's columns and cards. */
export const machineColumns: ReadonlyArray<{ readonly machine: MachineName; readonly title: string }> = MACHINE_NAMES
  .map((machine) => ({ machine, title: machineTitle(machine) }))

// ---------------------------------------------------------------------------------------------
// spec

export interface SpecSummary {
  /** `orders:8080`, or what is there when the spec is malformed. */
  readonly service: string
  readonly hostname: string
  /** One line: the authentication the plan derives from the spec (SPEC 4). */
  readonly authentication: string
  /** The JWT issuers of the spec's rules, in spec order (empty when authentication is off or uses the default issuer). */
  readonly issuers: ReadonlyArray<string>
  /** Undefined when authentication is off (no peer authentication either). */
  readonly mtls: string | undefined
}

const asRecord = (u: unknown): Record<string, unknown> | undefined =>
  typeof u === "object" && u !== null && !Array.isArray(u) ? (u as Record<string, unknown>) : undefined

const asString = (u: unknown): string | undefined =>
  typeof u === "string" ? u : typeof u === "number" || typeof u === "boolean" ? String(u) : undefined

/** Stands for the controller's DEFAULT_ISSUER in the plan below; no rule can name it (not a URL). */
const DEFAULT_ISSUER = "$DEFAULT_ISSUER"

/**
 * The plan is asked with what only the running controller knows set so that what differs is
 * this Api's own: the default issuer as a placeholder, peer mTLS on (so `mtls: false` means this
 * Api turns it off).
 */
const SUMMARY_CONFIG: ControllerConfig = {
  domainName: "",
  gatewayFqdn: "",
  defaultIssuer: DEFAULT_ISSUER,
  defaultJwksUri: "",
  enableMtls: true,
  blacklistedServices: [],
  logLevel: "Info",
  authBackend: "auto"
}

export const specSummary = (specRaw: unknown): SpecSummary => {
  // Service and hostname are shown as written, even when the spec does not decode.
  const raw = asRecord(specRaw) ?? {}
  const service = asRecord(raw["service"])
  const shown = {
    service: `${asString(service?.["name"]) ?? "?"}:${asString(service?.["port"]) ?? "?"}`,
    hostname: asString(raw["hostname"]) ?? "?"
  }
  const decoded = decodeSpec(specRaw)
  if (Result.isFailure(decoded)) {
    return { ...shown, authentication: "none: the spec is invalid (see validation)", issuers: [], mtls: undefined }
  }
  const spec = decoded.success
  const plan = authenticationPlan(spec, SUMMARY_CONFIG)
  if (plan === undefined) {
    const rules = spec.authentication?.length ?? 0
    const authentication = spec.authenticationEnabled === false
      ? `off (authenticationEnabled: false${rules > 0 ? `; ${rules} rule(s) ignored` : ""})`
      : "off (no rules)"
    return { ...shown, authentication, issuers: [], mtls: undefined }
  }
  const byDefault = plan.origins.every((o) => o.issuer === DEFAULT_ISSUER)
  const issuers = byDefault ? [] : plan.origins.map((o) => o.issuer)
  const open = plan.origins.reduce((n, o) => n + o.excludedPaths.length, 0)
  return {
    ...shown,
    authentication: byDefault
      ? "JWT with the controller's default issuer (authenticationEnabled: true, no rules)"
      : `JWT, ${plan.origins.length} rule(s): ${issuers.join(", ")}${open > 0 ? `; ${open} path(s) need no token` : ""}`,
    issuers,
    mtls: plan.mtls ? "peer mTLS as configured" : "peer mTLS off for this Api"
  }
}

// ---------------------------------------------------------------------------------------------
// machines, Ready, the Api as a whole

export interface MachineView {
  readonly machine: MachineName
  /** The heading the views give the machine (from the catalog). */
  readonly title: string
  readonly state: string
  /** The code in the status; undefined when the status does not report this machine (yet). */
  readonly code: number | undefined
  /** The state leaves the machine's status field out on purpose (authentication off: `Disabled`). */
  readonly off: boolean
  readonly lastError: string | undefined
  readonly resource: ResourceRef | undefined
  /** The status field the machine drives. */
  readonly statusField: string
}

export interface ApiView {
  readonly namespace: string
  readonly name: string
  readonly uid: string | undefined
  readonly created: string | undefined
  readonly deleting: string | undefined
  readonly generation: number | undefined
  readonly observedGeneration: number | undefined
  readonly spec: SpecSummary
  /** In the catalog's order (`machineColumns`). */
  readonly machines: ReadonlyArray<MachineView>
  readonly ready: Condition | undefined
  readonly status: ApiStatus
}

/** Where each machine stands, from the stored status (the machines' only memory). */
export const machineViews = (status: ApiStatus): ReadonlyArray<MachineView> => {
  const m = machineStatesOf(status)
  const reported = reportedOf(status)
  return machineColumns.map(({ machine, title }) => ({
    machine,
    title,
    state: m[machine].state,
    code: reported[machine].code,
    off: codeOf(machine, m[machine].state) === null,
    lastError: reported[machine].lastError,
    resource: reported[machine].resource,
    statusField: catalog[machine].statusField
  }))
}

export const apiView = (api: KubeObject): ApiView => {
  const status = decodeStatus(api["status"])
  return {
    namespace: api.metadata.namespace ?? "",
    name: api.metadata.name,
    uid: api.metadata.uid,
    created: api.metadata.creationTimestamp,
    deleting: api.metadata.deletionTimestamp,
    generation: api.metadata.generation,
    observedGeneration: status.observedGeneration,
    spec: specSummary(api["spec"]),
    machines: machineViews(status),
    ready: status.conditions?.find((c) => c.type === READY),
    status
  }
}

// ---------------------------------------------------------------------------------------------
// children

export interface ChildView {
  readonly kind: string
  readonly name: string
  readonly namespace: string
  readonly uid: string | undefined
  readonly resourceVersion: string | undefined
  /** VirtualService `spec.hosts`. */
  readonly hosts: ReadonlyArray<string>
  /** Policy `spec.origins[].jwt.issuer`. */
  readonly origins: ReadonlyArray<string>
  /** Owned by this Api (controller ownerReference or our labels); a foreign object blocks the name. */
  readonly owned: boolean
}

/** A child as the views show it; `api` decides ownership. */
export const childView = (api: KubeObject, child: KubeObject): ChildView => {
  const spec = asRecord(child["spec"]) ?? {}
  const hosts = Array.isArray(spec["hosts"]) ? spec["hosts"].flatMap((h) => (typeof h === "string" ? [h] : [])) : []
  const origins = Array.isArray(spec["origins"])
    ? spec["origins"].flatMap((o) => {
      const issuer = asString(asRecord(asRecord(o)?.["jwt"])?.["issuer"])
      return issuer !== undefined ? [issuer] : []
    })
    : []
  return {
    kind: child.kind,
    name: child.metadata.name,
    namespace: child.metadata.namespace ?? "",
    uid: child.metadata.uid,
    resourceVersion: child.metadata.resourceVersion,
    hosts,
    origins,
    owned: isOwnedBy(child.metadata, {
      apiVersion: api.apiVersion,
      kind: api.kind,
      name: api.metadata.name,
      namespace: api.metadata.namespace ?? "",
      uid: api.metadata.uid ?? ""
    })
  }
}

// ---------------------------------------------------------------------------------------------
// timeline

export interface TimelineEntry {
  /** ISO time, as the status or the Event says it. */
  readonly at: string
  /** The machine, or undefined for an Event that is not one machine's (e.g. `Ready`). `policy` in older statuses. */
  readonly machine: string | undefined
  readonly from: string | undefined
  readonly to: string | undefined
  /** The Event's reason when it is not a kept state change (e.g. `Ready`). */
  readonly reason: string | undefined
  readonly message: string | undefined
  /** `status` (status.transitions), `event` (an Event only) or `both`. */
  readonly source: "status" | "event" | "both"
  /** The Event's type (`Normal`, `Warning`), when there is one. */
  readonly type: string | undefined
  /** Event count when the server folded repeats (> 1 only). */
  readonly count: number | undefined
}

/**
 * Which machine and state an Event reason names: the Ready reason of a failed state (from
 * machines/Catalog.ts), or undefined for `Ready` and anything else.
 */
export const parseReason = (reason: string): { readonly machine: MachineName; readonly to: string } | undefined => {
  const failure = failureReasons.find((f) => f.reason === reason)
  return failure !== undefined ? { machine: failure.machine, to: failure.state } : undefined
}

/** The Events about this Api (this incarnation, when both sides carry a uid). */
export const eventsFor = (api: KubeObject, events: ReadonlyArray<KubeObject>): ReadonlyArray<KubeObject> =>
  events.filter((e) => {
    const involved = asRecord(e["involvedObject"]) ?? asRecord(e["regarding"])
    if (involved === undefined) return false
    if (involved["kind"] !== api.kind || involved["name"] !== api.metadata.name) return false
    if ((involved["namespace"] ?? e.metadata.namespace) !== api.metadata.namespace) return false
    const uid = asString(involved["uid"])
    return uid === undefined || uid === "" || api.metadata.uid === undefined || uid === api.metadata.uid
  })

const eventTime = (e: KubeObject): string =>
  asString(e["lastTimestamp"]) ?? asString(e["eventTime"]) ?? asString(e["firstTimestamp"]) ??
    e.metadata.creationTimestamp ?? ""

const millis = (iso: string): number => {
  const t = Date.parse(iso)
  return Number.isNaN(t) ? 0 : t
}

/** An Event and a kept transition further apart than this are different steps. */
const SAME_STEP_MS = 5_000

/**
 * `status.transitions` and the Api's Events as one list, oldest first. An Event that reports a
 * kept transition is folded into it (`source: "both"`).
 */
export const timelineOf = (api: KubeObject, events: ReadonlyArray<KubeObject> = []): ReadonlyArray<TimelineEntry> => {
  const transitions = decodeStatus(api["status"]).transitions ?? []
  const entries: Array<TimelineEntry & { readonly order: number }> = transitions.map((t, i) => ({
    at: t.at,
    machine: t.machine,
    from: t.from,
    to: t.to,
    reason: undefined,
    message: t.message,
    source: "status",
    type: undefined,
    count: undefined,
    order: i
  }))
  const folded = new Set<number>()
  eventsFor(api, events).forEach((e, i) => {
    const reason = asString(e["reason"]) ?? ""
    const message = asString(e["message"])
    const at = eventTime(e)
    const type = asString(e["type"])
    const count = typeof e["count"] === "number" && e["count"] > 1 ? e["count"] : undefined
    const parsed = parseReason(reason)
    if (parsed !== undefined) {
      const match = entries.findIndex((t, k) =>
        !folded.has(k) && t.source === "status" && t.machine === parsed.machine && t.to === parsed.to &&
        Math.abs(millis(t.at) - millis(at)) <= SAME_STEP_MS
      )
      if (match >= 0) {
        folded.add(match)
        const t = entries[match]!
        entries[match] = { ...t, source: "both", type, message: t.message ?? message }
        return
      }
    }
    entries.push({
      at,
      machine: parsed?.machine,
      from: undefined,
      to: parsed?.to,
      reason: parsed !== undefined ? undefined : reason,
      message,
      source: "event",
      type,
      count,
      order: transitions.length + i
    })
  })
  return entries
    .sort((a, b) => millis(a.at) - millis(b.at) || a.order - b.order)
    .map(({ order: _, ...entry }) => entry)
}

/** `Pending -> Valid`, `-> Created` (Event only), or the reason of a non-transition Event. */
export const transitionText = (t: TimelineEntry): string =>
  t.to !== undefined ? `${t.from ?? "?"} -> ${t.to}` : t.reason ?? ""
