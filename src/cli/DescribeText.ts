/**
 * `api-controller describe`'s output: one Api's lifecycle (src/visual/ApiView.ts) as plain
 * terminal text, no colours. Pure: the caller reads the cluster and passes what it found.
 */
import type { KubeObject } from "../domain/Kube.ts"
import { apiView, childView, timelineOf, transitionText } from "../visual/ApiView.ts"

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
  /** The child kinds that were looked for, to say "(none)" for the missing ones. */
  readonly childKinds: ReadonlyArray<string>
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
      m.lastError !== undefined ? oneLine(m.lastError) : m.off ? `(not reported: ${m.machine} off)` : ""
    ])
  ))

  out.push("")
  out.push("Children:")
  const children = input.children.map((c) => childView(api, c))
  const rows = [
    ...children.map((c) => [
      c.kind,
      c.name,
      c.uid ?? "",
      c.resourceVersion ?? "",
      c.owned ? "this Api" : "NOT this Api",
      c.hosts.length > 0 ? `hosts: ${c.hosts.join(", ")}` : c.origins.length > 0 ? `origins: ${c.origins.join(", ")}` : ""
    ]),
    ...input.childKinds.filter((k) => !children.some((c) => c.kind === k)).map((k) => [k, "(none)", "", "", "", ""])
  ]
  out.push(safeTable(["KIND", "NAME", "UID", "RESOURCE VERSION", "OWNER", "HOSTS / ORIGINS"], rows))
  const recorded = view.machines.flatMap((m) => {
    // The child the status names (by uid), when the cluster has moved it on since.
    const child = m.resource !== undefined ? children.find((c) => c.uid === m.resource?.uid) : undefined
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
