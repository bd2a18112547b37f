/**
 * What the monitoring tests share: deploy/monitoring/ read as data (the PrometheusRule's groups,
 * its alerts, the dashboard's queries), Prometheus's own binaries from .bin/ (built by
 * scripts/build-prometheus.sh) and the metric names an expression refers to.
 */
import { execFile, execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { parse, stringify } from "yaml"
import { REPO_ROOT } from "../../scripts/lib/RepoRoot.ts"

export const MONITORING_DIR = join(REPO_ROOT, "deploy", "monitoring")
export const RULE_FILE = join(MONITORING_DIR, "prometheus-rule.yaml")
export const DASHBOARD_FILE = join(MONITORING_DIR, "dashboard.json")
export const DOCS_DASHBOARD_FILE = join(REPO_ROOT, "docs", "grafana-dashboard.json")
export const RUNBOOK_FILE = join(REPO_ROOT, "docs", "operations.md")
export const PROMTOOL = join(REPO_ROOT, ".bin", "promtool")
export const PROMETHEUS = join(REPO_ROOT, ".bin", "prometheus")

export interface Rule {
  readonly record?: string
  readonly alert?: string
  readonly expr: string
  readonly for?: string
  readonly labels?: Readonly<Record<string, string>>
  readonly annotations?: Readonly<Record<string, string>>
}
export interface RuleGroup {
  readonly name: string
  readonly interval?: string
  readonly rules: ReadonlyArray<Rule>
}

/** The PrometheusRule's `spec.groups`: exactly what Prometheus loads from a rule file. */
export const ruleGroups = (): ReadonlyArray<RuleGroup> =>
  (parse(readFileSync(RULE_FILE, "utf8")) as { spec: { groups: ReadonlyArray<RuleGroup> } }).spec.groups

export const alerts = (groups = ruleGroups()): ReadonlyArray<Rule & { readonly alert: string }> =>
  groups.flatMap((g) => g.rules.filter((r): r is Rule & { alert: string } => r.alert !== undefined))

export const records = (groups = ruleGroups()): ReadonlyArray<string> =>
  groups.flatMap((g) => g.rules.flatMap((r) => (r.record !== undefined ? [r.record] : [])))

/** A Prometheus rule file's text for `groups`. */
export const ruleFileText = (groups: ReadonlyArray<RuleGroup>): string => stringify({ groups })

// ---------------------------------------------------------------------------------------------
// the dashboard

interface Target {
  readonly expr: string
  readonly refId: string
}
interface Panel {
  readonly type: string
  readonly title: string
  readonly targets?: ReadonlyArray<Target>
  readonly panels?: ReadonlyArray<Panel>
}
export interface Dashboard {
  readonly panels: ReadonlyArray<Panel>
  readonly templating: { readonly list: ReadonlyArray<{ readonly name: string; readonly type: string; readonly query?: unknown }> }
}

export const dashboard = (): Dashboard => JSON.parse(readFileSync(DASHBOARD_FILE, "utf8")) as Dashboard

export interface PanelQuery {
  readonly panel: string
  readonly refId: string
  readonly expr: string
}

/** Every query of every panel (rows' panels included). */
export const panelQueries = (d = dashboard()): ReadonlyArray<PanelQuery> => {
  const all = (ps: ReadonlyArray<Panel>): ReadonlyArray<Panel> => ps.flatMap((p) => [p, ...all(p.panels ?? [])])
  return all(d.panels).flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr })))
}

/** The template variables' queries (`label_values(...)`), which Grafana runs against Prometheus too. */
export const variableQueries = (d = dashboard()): ReadonlyArray<{ readonly name: string; readonly query: string }> =>
  d.templating.list.flatMap((v) => {
    if (v.type !== "query") return []
    const q = v.query as string | { readonly query: string }
    return [{ name: v.name, query: typeof q === "string" ? q : q.query }]
  })

/** `label_values(<selector>, <label>)` -> the selector, which is what Grafana asks Prometheus for. */
export const labelValuesSelector = (query: string): string => {
  const m = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(query.trim())
  if (m === null) throw new Error(`not a label_values query: ${query}`)
  return m[1]!
}

/** A query as Grafana would send it, with the dashboard's variables set. */
export const withVariables = (expr: string, values: { readonly namespace: string; readonly job: string; readonly rateInterval: string }): string =>
  expr.replaceAll("$__rate_interval", values.rateInterval).replaceAll("$namespace", values.namespace).replaceAll("$job", values.job)

// ---------------------------------------------------------------------------------------------
// metric names

/**
 * The series names an expression refers to: every `api_controller_*` name (the controller's own
 * prefix), and every `api_controller:*` recording rule. A `_bucket` name stands for its histogram.
 */
export const metricNamesIn = (expr: string): ReadonlyArray<string> =>
  [...new Set([...expr.matchAll(/\bapi_controller[_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]))].sort()

// ---------------------------------------------------------------------------------------------
// Prometheus's binaries

/** Builds these parts (promtool, prometheus, crds) into .bin/ unless they are current (a no-op then). */
export const buildPrometheus = (...parts: ReadonlyArray<"promtool" | "prometheus" | "crds">): void => {
  execFileSync("bash", [join(REPO_ROOT, "scripts", "build-prometheus.sh"), ...parts], { stdio: "inherit" })
}

export interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs a binary to its end, never throwing: the exit code and both outputs. */
export const run = (bin: string, args: ReadonlyArray<string>, cwd?: string): Promise<Run> =>
  new Promise((resolve) => {
    execFile(bin, args, { cwd, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : -1
      resolve({ code, stdout, stderr })
    })
  })
