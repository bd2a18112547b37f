/**
 * `api-controller plan -o text`: the report for people. A header that says the plan was read-only
 * and what it ran with, a block per Api (the status it would get, its conflicts, its child changes
 * with their diffs, its decision table), and the summary line. Pure; every string that came from
 * the cluster goes through `terminalSafe`.
 */
import { table, terminalSafe } from "../cli/DescribeText.ts"
import type { ApiPlan, DecisionTable, MachineStatus, PlannedStatus, PlanReport } from "./PlanReport.ts"

const CHANGE_WORDS: Record<ApiPlan["change"], string> = {
  create: "new",
  update: "spec changed",
  delete: "deleted",
  none: "in the cluster"
}

const readyText = (s: PlannedStatus) => `Ready=${s.ready ? "True" : "False"} (${terminalSafe(s.reason)})`

const machineRows = (s: PlannedStatus): ReadonlyArray<ReadonlyArray<string>> => {
  const row = (name: string, m: MachineStatus | undefined) =>
    m === undefined ? [] : [[name, String(m.code), m.lastError !== undefined ? terminalSafe(m.lastError) : ""]]
  return [...row("validation", s.validation), ...row("authentication", s.authentication), ...row("virtualService", s.virtualService)]
}

const tokenText = (kind: string, token: string | null) =>
  kind === "none" ? "none" : kind === "foreign" ? `${terminalSafe(token ?? "")} (foreign)` : terminalSafe(token ?? "")

const decisionsText = (d: DecisionTable): Array<string> => {
  const where = d.decidedBy === "istio-policy"
    ? "the Api's Policy"
    : d.podLabels === undefined
    ? "no pod"
    : `every RequestAuthentication and AuthorizationPolicy on a pod with ${
      Object.entries(d.podLabels).map(([k, v]) => terminalSafe(`${k}=${v}`)).join(",")
    }${d.port !== undefined ? `, port ${d.port}` : ""}`
  const lines = [`  decisions through ${terminalSafe(d.host)} (${d.decidedBy}: ${where})${d.exposed ? "" : "; not exposed: no VirtualService of the Api serves the host"}:`]
  if (d.note !== undefined) lines.push(`    ${terminalSafe(d.note)}`)
  if (d.rows.length > 0) {
    lines.push(table(
      ["PATH", "TOKEN", "PLANNED", "LEGACY", ""],
      d.rows.map((r) => [
        terminalSafe(r.path),
        tokenText(r.tokenKind, r.token),
        r.allowed ? "allow" : "deny",
        r.legacy ? "allow" : "deny",
        r.allowed === r.legacy ? "" : r.allowed ? "(wider than legacy)" : "(stricter than legacy)"
      ]),
      "    "
    ))
  }
  return lines
}

const apiText = (a: ApiPlan): string => {
  const lines: Array<string> = []
  const scope = a.scope === "affected" ? "; affected by the input" : ""
  lines.push(`Api ${a.namespace}/${a.name} (${CHANGE_WORDS[a.change]}${scope})`)
  if (a.status !== undefined) {
    const was = a.current !== undefined && readyText(a.current) !== readyText(a.status) ? `, now ${readyText(a.current)}` : ""
    lines.push(`  would be ${readyText(a.status)}${was}${a.status.ready ? "" : `: ${terminalSafe(a.status.message)}`}`)
    lines.push(table(["MACHINE", "CODE", "LAST ERROR"], machineRows(a.status), "    "))
  } else if (a.change === "delete") {
    lines.push("  deleted: garbage collection removes its children")
  }
  for (const n of a.notes) lines.push(`  note: ${terminalSafe(n)}`)
  for (const c of a.conflicts) lines.push(`  conflict (${c.kind}): ${terminalSafe(c.holder)}: ${terminalSafe(c.message)}`)
  if (a.children.length === 0) lines.push("  children: no change")
  else {
    lines.push(`  children: ${a.children.map((c) => `${c.action} ${c.kind} ${c.name}`).join(", ")}`)
    for (const c of a.children) {
      for (const l of c.diff.replace(/\n$/, "").split("\n")) lines.push(`    ${terminalSafe(l)}`)
    }
  }
  if (a.decisions !== undefined) lines.push(...decisionsText(a.decisions))
  return lines.join("\n")
}

export const summaryLine = (r: PlanReport): string => {
  const s = r.summary
  return `${s.apis} Api${s.apis === 1 ? "" : "s"}: ${s.ready} Ready, ${s.notReady} not Ready, ${s.withChanges} with changes` +
    (s.deleted > 0 ? `, ${s.deleted} deleted` : "")
}

export const planText = (r: PlanReport): string => {
  const input = [
    ...(r.input.files.length > 0 ? [`-f ${r.input.files.join(" -f ")}`] : []),
    ...(r.input.delete ? ["--delete"] : []),
    ...(r.input.all ? ["--all"] : []),
    ...(r.input.namespace !== undefined ? [`-n ${r.input.namespace}`] : [])
  ].join(" ")
  const header = [
    "api-controller plan: read-only (the cluster was read with get and list; nothing was written)",
    `backend: ${r.backend.name} (${terminalSafe(r.backend.reason)}); VirtualService ${r.virtualServiceVersion}`,
    `input: ${input}; ${r.convergence.settled ? `settled after ${r.convergence.rounds} round${r.convergence.rounds === 1 ? "" : "s"} of passes` : `NOT settled after ${r.convergence.rounds} rounds`}`,
    ...r.notes.map((n) => `note: ${terminalSafe(n)}`)
  ]
  return [header.join("\n"), ...r.apis.map(apiText), summaryLine(r)].join("\n\n") + "\n"
}
