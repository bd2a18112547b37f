/**
 * One Api's lifecycle as data and as terminal text (issue 6): its spec in a few words, where each
 * machine stands (state, code, lastError), its children, the Ready condition, and a timeline that
 * merges `status.transitions` with the Kubernetes Events on the Api. `api-controller describe`
 * prints `describeText`; the web view renders the same `apiView`, `childViews` and `timelineOf`.
 *
 * Pure: everything comes in as the JSON the API server returned, nothing is fetched here.
 *
 * The timeline: the status keeps the last 10 transitions (with `from`); Events last longer (an
 * hour by default) and mark the moments that matter (SPEC 8): `Ready`, or the reason of a failed
 * state (`HostnameOccupied`, `AuthenticationFailed`, ...). An Event that reports a kept
 * transition (the failed state it names, within a few seconds) is folded into it; the others are
 * shown as what they are.
 */
import { type ApiStatus, type Condition, decodeStatus, type ResourceRef } from "../domain/Api.ts"
import type { KubeObject } from "../domain/Kube.ts"
import { isOwnedBy } from "../plan/Ownership.ts"
import { catalog, failureReasons, MACHINE_NAMES, type MachineName } from "../../machines/Catalog.ts"
import { machineStatesOf, READY, reportedOf } from "../lifecycle/StatusProjection.ts"

export type { MachineName }

export const machineNames: ReadonlyArray<MachineName> = MACHINE_NAMES

// ---------------------------------------------------------------------------------------------
// spec

export interface SpecSummary {
  /** `orders:8080`, or what is there when the spec is malformed. */
  readonly service: string
  readonly hostname: string
  /** One line, following SPEC 4. */
  readonly authentication: string
  /** JWT issuers in spec order (empty when authentication is off or uses the default issuer). */
  readonly issuers: ReadonlyArray<string>
  readonly mtls: string | undefined
}

const asRecord = (u: unknown): Record<string, unknown> | undefined =>
  typeof u === "object" && u !== null && !Array.isArray(u) ? (u as Record<string, unknown>) : undefined

const asString = (u: unknown): string | undefined =>
  typeof u === "string" ? u : typeof u === "number" || typeof u === "boolean" ? String(u) : undefined

export const specSummary = (specRaw: unknown): SpecSummary => {
  const spec = asRecord(specRaw) ?? {}
  const service = asRecord(spec["service"])
  const rules = Array.isArray(spec["authentication"]) ? spec["authentication"] : []
  const enabled = spec["authenticationEnabled"]
  const issuers = rules.flatMap((r) => {
    const issuer = asString(asRecord(asRecord(r)?.["jwt"])?.["issuer"])
    return issuer !== undefined ? [issuer] : []
  })
  const excluded = rules.reduce<number>((n, r) => {
    const paths = asRecord(asRecord(asRecord(asRecord(r)?.["jwt"])?.["triggerRule"]))?.["excludedPaths"]
    return n + (Array.isArray(paths) ? paths.length : 0)
  }, 0)
  const on = enabled !== false && (rules.length > 0 || enabled === true)
  const authentication = enabled === false
    ? `off (authenticationEnabled: false${rules.length > 0 ? `; ${rules.length} rule(s) ignored` : ""})`
    : rules.length > 0
    ? `JWT, ${rules.length} rule(s): ${issuers.join(", ") || "(no issuer)"}${excluded > 0 ? `; ${excluded} path(s) need no token` : ""}`
    : enabled === true
    ? "JWT with the controller's default issuer (authenticationEnabled: true, no rules)"
    : "off (no rules)"
  const serviceName = asString(service?.["name"]) ?? "?"
  const port = asString(service?.["port"]) ?? "?"
  return {
    service: `${serviceName}:${port}`,
    hostname: asString(spec["hostname"]) ?? "?",
    authentication,
    issuers: enabled === false ? [] : issuers,
    mtls: on ? (spec["disableIstioAuthPolicyMTLS"] === true ? "peer mTLS off for this Api" : "peer mTLS as configured") : undefined
  }
}

// ---------------------------------------------------------------------------------------------
// machines, Ready, the Api as a whole

export interface MachineView {
  readonly machine: MachineName
  readonly state: string
  /** The code in the status; undefined when the status does not report this machine (yet). */
  readonly code: number | undefined
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
  readonly machines: ReadonlyArray<MachineView>
  readonly ready: Condition | undefined
  readonly status: ApiStatus
}

/** Where each machine stands, from the stored status (the machines' only memory). */
export const machineViews = (status: ApiStatus): ReadonlyArray<MachineView> => {
  const m = machineStatesOf(status)
  const reported = reportedOf(status)
  return MACHINE_NAMES.map((machine) => ({
    machine,
    state: m[machine].state,
    code: reported[machine].code,
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

// ---------------------------------------------------------------------------------------------
// terminal text

/** `3m12s`, `2h5m`, `4d3h`: how long ago, kubectl style. */
export const age = (iso: string | undefined, now: number): string => {
  if (iso === undefined) return ""
  const t = Date.parse(iso)
  if (Number.isNaN(t)) return ""
  const s = Math.max(0, Math.floor((now - t) / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return s % 60 === 0 || m >= 10 ? `${m}m` : `${m}m${s % 60}s`
  const h = Math.floor(m / 60)
  if (h < 24) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`
  const d = Math.floor(h / 24)
  return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`
}

/** Columns padded to their widest cell; the last column is never padded. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, indent = "  "): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  return [header, ...rows]
    .map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd())
    .join("\n")
}

const oneLine = (s: string | undefined): string => (s ?? "").replace(/\s*\n\s*/g, " ").trim()

/**
 * Characters a terminal acts on instead of printing, and those that change how the rest of the
 * line reads: C0 controls (ESC starts colour, cursor and title sequences; CR rewrites the line),
 * DEL, C1 controls (U+009B is a one-character CSI), and the invisible and bidirectional
 * formatting characters that can make text read differently from what it is ("Trojan source").
 */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g

/**
 * Any string an Api (or anything in the cluster) can carry, made safe for a terminal and for one
 * line: line breaks and tabs become spaces (no forged extra lines), the characters above become
 * visible escapes (`\x1b`, `\u202e`), everything else is left as it is.
 */
export const terminalSafe = (s: string | undefined): string =>
  (s ?? "").replace(/[\t\n]/g, " ").replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0)
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`
  })

export interface DescribeInput {
  readonly api: KubeObject
  /** The VirtualService and authentication children named after the Api, as found in the cluster. */
  readonly children: ReadonlyArray<KubeObject>
  /** Events in the Api's namespace (filtered here), or why they could not be read. */
  readonly events: ReadonlyArray<KubeObject> | { readonly error: string }
  /** Child kinds that are looked for, to say "none" for the missing ones. Default VirtualService, Policy. */
  readonly childKinds?: ReadonlyArray<string>
  /** For the AGE column; default: ages left out. */
  readonly now?: number
  /** Which authentication backend the cluster offers (SPEC 10), when known. */
  readonly backend?: string
}

/** The Api's lifecycle, readable in a terminal (plain text, no colours). */
export const describeText = (input: DescribeInput): string => {
  const { api } = input
  const view = apiView(api)
  const now = input.now
  const out: Array<string> = []
  // Every value below can come from the cluster: each goes through terminalSafe, once, here.
  const safe = terminalSafe
  const field = (label: string, value: string) => out.push(`${`${label}:`.padEnd(16)}${safe(value)}`)
  const safeTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) =>
    table(header, rows.map((r) => r.map(safe)))

  field("Api", `${view.namespace}/${view.name}`)
  if (view.uid !== undefined) field("UID", view.uid)
  if (view.created !== undefined) field("Created", `${view.created}${now !== undefined ? ` (${age(view.created, now)} ago)` : ""}`)
  if (view.deleting !== undefined) field("Deleting", `since ${view.deleting}: garbage collection removes its children`)
  field(
    "Generation",
    `${view.generation ?? "?"}${
      view.observedGeneration === undefined
        ? " (not reconciled yet)"
        : view.observedGeneration === view.generation
        ? " (status is current)"
        : ` (status describes generation ${view.observedGeneration})`
    }`
  )
  out.push("")
  out.push("Spec:")
  out.push(`  service:         ${safe(view.spec.service)}`)
  out.push(`  hostname:        ${safe(view.spec.hostname)}`)
  out.push(`  authentication:  ${safe(view.spec.authentication)}`)
  if (view.spec.mtls !== undefined) out.push(`  mTLS:            ${safe(view.spec.mtls)}`)
  if (input.backend !== undefined) out.push(`  backend:         ${safe(input.backend)}`)

  out.push("")
  const ready = view.ready
  field(
    "Ready",
    ready === undefined
      ? "Unknown (no condition yet)"
      : `${ready.status}  ${ready.reason}: ${oneLine(ready.message)}  (since ${ready.lastTransitionTime}${
        now !== undefined ? `, ${age(ready.lastTransitionTime, now)} ago` : ""
      })`
  )

  out.push("")
  out.push("Machines:")
  out.push(safeTable(
    ["MACHINE", "STATE", "CODE", "FIELD", "LAST ERROR"],
    view.machines.map((m) => [
      m.machine,
      m.state,
      m.code !== undefined ? String(m.code) : "-",
      m.statusField,
      m.lastError !== undefined ? oneLine(m.lastError) : m.code === undefined && m.machine === "authentication" ? "(not reported: authentication off)" : ""
    ])
  ))

  out.push("")
  out.push("Children:")
  const kinds = input.childKinds ?? ["VirtualService", "Policy"]
  const children = input.children.map((c) => childView(api, c))
  const rows = [
    ...children.map((c) => [
      c.kind,
      c.name,
      c.uid ?? "",
      c.resourceVersion ?? "",
      c.owned ? "this Api" : "NOT this Api",
      c.kind === "VirtualService" ? `hosts: ${c.hosts.join(", ")}` : c.origins.length > 0 ? `origins: ${c.origins.join(", ")}` : ""
    ]),
    ...kinds.filter((k) => !children.some((c) => c.kind === k)).map((k) => [k, "(none)", "", "", "", ""])
  ]
  out.push(safeTable(["KIND", "NAME", "UID", "RESOURCE VERSION", "OWNER", "HOSTS / ORIGINS"], rows))
  const recorded = view.machines.flatMap((m) => {
    // The child the status names: the VirtualService, or the authentication child the backend reports first.
    const child = children.find((c) => (m.machine === "virtualService") === (c.kind === "VirtualService") && c.name === m.resource?.name)
    return m.resource !== undefined && child !== undefined && m.resource.version !== child.resourceVersion
      ? [`  note: ${m.statusField}.resource says version ${safe(m.resource.version)}; the cluster has ${safe(child.resourceVersion)}`]
      : []
  })
  out.push(...recorded)

  out.push("")
  const events = "error" in input.events ? undefined : input.events
  const timeline = timelineOf(api, events ?? [])
  out.push(`Timeline (oldest first; status keeps the last 10 transitions, Events add older ones and write failures):`)
  if ("error" in input.events) out.push(`  (Events could not be read: ${safe(oneLine(input.events.error))})`)
  if (timeline.length === 0) out.push("  (nothing yet)")
  else {
    out.push(safeTable(
      [...(now !== undefined ? ["AGE"] : []), "TIME", "MACHINE", "TRANSITION", "SOURCE", "MESSAGE"],
      timeline.map((t) => [
        ...(now !== undefined ? [age(t.at, now)] : []),
        t.at,
        t.machine ?? "-",
        transitionText(t),
        `${t.source}${t.type === "Warning" ? " (Warning)" : ""}${t.count !== undefined ? ` x${t.count}` : ""}`,
        oneLine(t.message)
      ])
    ))
  }
  return out.join("\n") + "\n"
}
