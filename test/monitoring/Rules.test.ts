/**
 * deploy/monitoring/ checked with Prometheus's own code (promtool, built from the Go module by
 * scripts/build-prometheus.sh): the PrometheusRule's groups load and lint clean, every alert has
 * `promtool test rules` cases in which it fires and in which it must not (rules.test.yaml), and
 * those cases fail when an alert is broken; every dashboard query parses; each alert says what to
 * run and has its runbook section. That the names exist in what the controller exports is the
 * cluster tier's (test/cluster/Monitoring.test.ts); that a real Prometheus fires an alert from a
 * running controller, the soak tier's (test/soak/PrometheusScrape.test.ts).
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parse } from "yaml"
import {
  alerts,
  buildPrometheus,
  dashboard,
  DASHBOARD_FILE,
  DOCS_DASHBOARD_FILE,
  labelValuesSelector,
  metricNamesIn,
  MONITORING_DIR,
  panelQueries,
  PROMTOOL,
  records,
  type RuleGroup,
  ruleFileText,
  ruleGroups,
  RUNBOOK_FILE,
  run,
  variableQueries,
  withVariables
} from "./Monitoring.ts"

const CASES_FILE = join(import.meta.dirname, "rules.test.yaml")

let dir = ""
beforeAll(() => {
  // A no-op when .bin/ is current (npm test's cluster setup has built it already); cold, minutes.
  buildPrometheus("promtool")
  dir = mkdtempSync(join(tmpdir(), "api-controller-rules-"))
}, 45 * 60_000)
afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true })
})

/**
 * The groups as promtool's cases compare them: annotations but the summary left out (the
 * description and runbook are prose; `promtool check rules` parses their templates on the full file).
 */
const forCases = (groups: ReadonlyArray<RuleGroup>): ReadonlyArray<RuleGroup> =>
  groups.map((g) => ({
    ...g,
    rules: g.rules.map((r) =>
      r.annotations === undefined ? r : { ...r, annotations: { summary: r.annotations["summary"] ?? "" } }
    )
  }))

/** Runs the cases of rules.test.yaml against `groups`, in a folder of their own. */
const testRules = async (name: string, groups: ReadonlyArray<RuleGroup>) => {
  const folder = mkdtempSync(join(dir, `${name}-`))
  writeFileSync(join(folder, "rules.yaml"), ruleFileText(forCases(groups)))
  copyFileSync(CASES_FILE, join(folder, "rules.test.yaml"))
  return run(PROMTOOL, ["test", "rules", "rules.test.yaml"], folder)
}

interface Case {
  readonly name: string
  readonly alert_rule_test?: ReadonlyArray<{ readonly alertname: string; readonly exp_alerts?: ReadonlyArray<unknown> }>
}
const cases = (): ReadonlyArray<Case> => (parse(readFileSync(CASES_FILE, "utf8")) as { tests: ReadonlyArray<Case> }).tests

/** For tests that run promtool: a process of its own, seconds on a busy machine (no bound on behaviour). */
const PROMTOOL_TIMEOUT = 120_000

describe("the PrometheusRule", () => {
  it("loads in Prometheus: promtool check rules, every linter on and fatal", async () => {
    const file = join(dir, "check.yaml")
    writeFileSync(file, ruleFileText(ruleGroups()))
    const r = await run(PROMTOOL, ["check", "rules", "--lint=all", "--lint-fatal", file])
    assert.strictEqual(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, new RegExp(`SUCCESS: ${ruleGroups().flatMap((g) => g.rules).length} rules found`))
  }, PROMTOOL_TIMEOUT)

  it("promtool test rules passes, and every alert has a case where it fires and a case where it does not", async () => {
    for (const { alert } of alerts()) {
      const checks = cases().flatMap((c) => (c.alert_rule_test ?? []).filter((t) => t.alertname === alert))
      assert.isTrue(checks.some((t) => (t.exp_alerts ?? []).length > 0), `${alert}: no case in which it fires`)
      assert.isTrue(checks.some((t) => (t.exp_alerts ?? []).length === 0), `${alert}: no case in which it stays quiet`)
    }
    const known = new Set(alerts().map((a) => a.alert))
    for (const c of cases()) for (const t of c.alert_rule_test ?? []) assert.isTrue(known.has(t.alertname), `${c.name}: no alert ${t.alertname}`)

    const r = await testRules("as-shipped", ruleGroups())
    assert.strictEqual(r.code, 0, r.stdout + r.stderr)
    assert.include(r.stdout, "SUCCESS")
  }, PROMTOOL_TIMEOUT)

  it("the cases catch a broken alert: one that never fires, and one that always fires, fail them for every alert", async () => {
    const mutate = (expr: string) => ruleGroups().map((g) => ({ ...g, rules: g.rules.map((r) => (r.alert !== undefined ? { ...r, expr } : r)) }))
    for (const [label, expr] of [["never", "vector(1) > 2"], ["always", "vector(1)"]] as const) {
      const r = await testRules(label, mutate(expr))
      assert.notStrictEqual(r.code, 0, `the cases pass with every alert set to ${expr}`)
      const failures = r.stdout + r.stderr
      for (const { alert } of alerts()) assert.include(failures, `alertname: ${alert}`, `no case fails for ${alert} set to ${expr}`)
    }
  }, PROMTOOL_TIMEOUT)

  it("every alert is actionable: a severity, a summary, a description naming a command, and a runbook section", () => {
    const runbook = readFileSync(RUNBOOK_FILE, "utf8")
    // GitHub's anchors: a heading's text in lower case.
    const anchors = new Set([...runbook.matchAll(/^#{2,4} (.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^a-z0-9 -]/g, "").replace(/ /g, "-")))
    assert.isAbove(alerts().length, 0)
    for (const a of alerts()) {
      assert.include(["critical", "warning", "info"], a.labels?.["severity"], `${a.alert}: severity`)
      assert.isAbove((a.annotations?.["summary"] ?? "").length, 10, `${a.alert}: summary`)
      const description = a.annotations?.["description"] ?? ""
      assert.match(description, /`(kubectl|api-controller) [^`]+`/, `${a.alert}: the description names a command to run`)
      assert.strictEqual(a.annotations?.["runbook"], `docs/operations.md#${a.alert.toLowerCase()}`, `${a.alert}: runbook`)
      assert.isTrue(anchors.has(a.alert.toLowerCase()), `${a.alert}: no section "${a.alert}" in docs/operations.md`)
      assert.isDefined(a.for, `${a.alert}: no 'for', so one bad scrape would page`)
    }
    // Apis not Ready: the description says how to find them and look at one.
    for (const a of alerts().filter((a) => /Apis|Authentication|Writes/.test(a.alert))) {
      assert.include(a.annotations?.["description"], "api-controller describe <namespace>/<name>", a.alert)
    }
  })

  it("no rule keeps a label whose values are unbounded: aggregations keep only the controller's fixed label sets", () => {
    // The target's labels (namespace, job) and the controller's own bounded labels. The
    // controller never exports an Api's name, namespace or hostname as a label.
    const bounded = new Set(["namespace", "job", "status", "reason", "machine", "state", "result", "le", "verb", "outcome", "resource", "type", "backend", "virtual_service_version", "area", "pod"])
    for (const r of ruleGroups().flatMap((g) => g.rules)) {
      assert.notMatch(r.expr, /\bwithout\s*\(/, `${r.alert ?? r.record}: 'without' keeps whatever labels come`)
      for (const m of r.expr.matchAll(/\b(?:by|on|ignoring)\s*\(([^)]*)\)/g)) {
        for (const label of m[1]!.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
          assert.isTrue(bounded.has(label), `${r.alert ?? r.record}: groups by ${label}`)
        }
      }
    }
  })

  it("every recording rule a rule or the dashboard uses is defined in the PrometheusRule", () => {
    const defined = new Set(records())
    const used = [...ruleGroups().flatMap((g) => g.rules.map((r) => r.expr)), ...panelQueries().map((q) => q.expr)]
      .flatMap(metricNamesIn)
      .filter((n) => n.includes(":"))
    for (const n of used) assert.isTrue(defined.has(n), `${n} is not recorded`)
  })
})

describe("the Grafana dashboard", () => {
  it("docs/grafana-dashboard.json, for import by hand, is the ConfigMap's dashboard.json", () => {
    assert.strictEqual(readFileSync(DOCS_DASHBOARD_FILE, "utf8"), readFileSync(DASHBOARD_FILE, "utf8"))
  })

  it("has the panels the fleet needs, each with a query", () => {
    const titles = panelQueries().map((q) => q.panel)
    for (
      const t of ["Apis", "Ready", "Apis by Ready reason", "Apis by machine state", "Conflicts", "Passes by result", "Pass latency",
        "Work queue depth", "Writes by verb and outcome", "Memory", "CPU", "Backend", "Leader"]
    ) assert.include(titles, t)
    const d = dashboard()
    const all = (ps: typeof d.panels): typeof d.panels => ps.flatMap((p) => [p, ...all(p.panels ?? [])])
    for (const p of all(d.panels)) if (p.type !== "row") assert.isAbove((p.targets ?? []).length, 0, `${p.title} has no query`)
  })

  it("every panel's query and every variable's selector is PromQL that Prometheus's parser accepts", async () => {
    const values = { namespace: "api-controller", job: "api-controller", rateInterval: "2m" }
    const queries = [
      ...panelQueries().map((q) => ({ what: `${q.panel} ${q.refId}`, expr: withVariables(q.expr, values) })),
      ...variableQueries().map((v) => ({ what: `variable ${v.name}`, expr: withVariables(labelValuesSelector(v.query), values) }))
    ]
    for (const q of queries) assert.notInclude(q.expr, "$", `${q.what}: a variable the test does not set`)
    // Each query as a recording rule: promtool check rules parses it with Prometheus's parser
    // and refuses what is not an instant vector (a panel's query must be one).
    const file = join(dir, "dashboard-queries.yaml")
    writeFileSync(file, ruleFileText([{ name: "dashboard", rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: q.expr })) }]))
    const r = await run(PROMTOOL, ["check", "rules", file])
    assert.strictEqual(r.code, 0, r.stdout + r.stderr)
    // And the check is not vacuous: a query with a typo is refused.
    writeFileSync(file, ruleFileText([{ name: "dashboard", rules: [{ record: "dashboard:broken", expr: "sum by (reason (api_controller_apis)" }] }]))
    assert.notStrictEqual((await run(PROMTOOL, ["check", "rules", file])).code, 0)
  }, PROMTOOL_TIMEOUT)
})

describe("deploy/monitoring/kustomization.yaml", () => {
  it("is a Component that takes in every manifest of its folder and the dashboard, which deploy/kustomization.yaml offers to switch on", () => {
    const k = parse(readFileSync(join(MONITORING_DIR, "kustomization.yaml"), "utf8")) as {
      kind: string
      resources: ReadonlyArray<string>
      configMapGenerator: ReadonlyArray<{ name: string; files: ReadonlyArray<string>; options: { labels: Record<string, string> } }>
    }
    assert.strictEqual(k.kind, "Component")
    const yamls = readdirSync(MONITORING_DIR).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
    assert.deepStrictEqual([...k.resources].sort(), yamls.sort())
    const dashboardMap = k.configMapGenerator.find((g) => g.name === "api-controller-dashboard")
    assert.deepStrictEqual(dashboardMap?.files, ["api-controller.json=dashboard.json"])
    assert.strictEqual(dashboardMap?.options.labels["grafana_dashboard"], "1")
    assert.match(readFileSync(join(MONITORING_DIR, "..", "kustomization.yaml"), "utf8"), /^# components:\n# {3}- monitoring$/m)
  })
})
