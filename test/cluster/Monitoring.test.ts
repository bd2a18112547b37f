/**
 * deploy/monitoring/ against the real things it names:
 *   - the API server, with the Prometheus Operator's CRDs installed (made from the operator's Go
 *     module by scripts/build-prometheus.sh), accepts the ServiceMonitor, the PrometheusRule and the
 *     dashboard's ConfigMap in a server-side dry run of deploy/ with the component switched on;
 *   - every series name the rules and the dashboard use, and every label value they select, is in
 *     what a running controller serves on /metrics (read from it, not from a list).
 * A real Prometheus scraping the controller is test/soak/PrometheusScrape.test.ts (its build is
 * minutes on a fresh machine, so it runs with the soak tier).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { deployCopy, kubectl, one, parseDocs, render, toYaml, warningsIn } from "../deploy/DeployKit.ts"
import { REPO_ROOT } from "../../scripts/lib/RepoRoot.ts"
import { kubeconfigPath, liveKubeApi, testNamespace, uniqueNamespaceName } from "../support/ClusterTest.ts"
import { eventually } from "../support/Eventually.ts"
import { createApi, liveController } from "../monitoring/LiveController.ts"
import { labelValuesSelector, metricNamesIn, panelQueries, records, ruleGroups, variableQueries } from "../monitoring/Monitoring.ts"
import { valueOf } from "../runtime/prometheus.ts"

const kubeconfig = () => kubeconfigPath()
const OPERATOR_CRDS = join(REPO_ROOT, ".bin", "prometheus-operator-crds.yaml")

/** The operator's CRDs, installed for real (cluster-scoped, shared by the tier) and Established. */
const installOperatorCrds = Effect.gen(function*() {
  const crds = parseDocs(readFileSync(OPERATOR_CRDS, "utf8"))
  assert.deepStrictEqual(crds.map((c) => c.metadata.name).sort(), ["prometheusrules.monitoring.coreos.com", "servicemonitors.monitoring.coreos.com"])
  yield* kubectl(["apply", "--server-side", "--force-conflicts", "-f", OPERATOR_CRDS], { kubeconfig: kubeconfig() })
  yield* kubectl(["wait", "--for=condition=Established", "--timeout=60s", ...crds.map((c) => `crd/${c.metadata.name}`)], { kubeconfig: kubeconfig() })
})

/** A copy of deploy/ with the monitoring component switched on as its comment says. */
const deployWithMonitoring = (namespace: string) =>
  Effect.gen(function*() {
    const dir = yield* deployCopy({ namespace })
    const file = join(dir, "kustomization.yaml")
    const text = readFileSync(file, "utf8")
    const on = text.replace(/^# components:\n#   - monitoring$/m, "components:\n  - monitoring")
    assert.notStrictEqual(on, text, "deploy/kustomization.yaml has no commented `components: - monitoring` to switch on")
    writeFileSync(file, on)
    return dir
  })

describe("deploy/monitoring, a kustomize component", () => {
  it.live("kubectl apply -k deploy/ with the component on passes a server-side dry run against the Prometheus Operator's CRDs", () =>
    Effect.gen(function*() {
      yield* installOperatorCrds
      const namespace = uniqueNamespaceName("monitoring-dry")
      const dir = yield* deployWithMonitoring(namespace)
      const objects = yield* render(dir)
      const monitor = one(objects, "ServiceMonitor")
      const rule = one(objects, "PrometheusRule")
      const dashboard = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "api-controller-dashboard")
      for (const o of [monitor, rule, dashboard]) assert.strictEqual(o?.metadata.namespace, namespace, "in the controller's namespace")
      assert.strictEqual(dashboard?.metadata.labels?.["grafana_dashboard"], "1")
      assert.deepStrictEqual(JSON.parse((dashboard as unknown as { data: Record<string, string> }).data["api-controller.json"]!), JSON.parse(readFileSync(join(REPO_ROOT, "docs", "grafana-dashboard.json"), "utf8")))
      // The ServiceMonitor selects the metrics Service by its labels and names its port.
      const service = objects.find((o) => o.kind === "Service" && o.metadata.name === "api-controller-metrics")!
      const spec = (monitor as unknown as { spec: { selector: { matchLabels: Record<string, string> }; endpoints: ReadonlyArray<{ port: string }>; jobLabel: string } }).spec
      for (const [k, v] of Object.entries(spec.selector.matchLabels)) assert.strictEqual(service.metadata.labels?.[k], v)
      const ports = (service as unknown as { spec: { ports: ReadonlyArray<{ name: string }> } }).spec.ports.map((p) => p.name)
      for (const e of spec.endpoints) assert.include(ports, e.port)
      assert.strictEqual(service.metadata.labels?.[spec.jobLabel], "api-controller", "the alerts' job label")

      yield* kubectl(["apply", "--server-side", "-f", "-"], { kubeconfig: kubeconfig(), input: toYaml([one(objects, "Namespace")]) })
      yield* Effect.addFinalizer(() => Effect.ignore(kubectl(["delete", "namespace", namespace, "--wait=false"], { kubeconfig: kubeconfig() })))
      const applied = yield* kubectl(["apply", "-k", dir, "--server-side", "--dry-run=server"], { kubeconfig: kubeconfig() })
      const lines = applied.stdout.trim().split("\n")
      assert.strictEqual(lines.length, objects.length, applied.stdout)
      for (const l of lines) assert.match(l, /serverside-applied \(server dry run\)$/)
      assert.isTrue(lines.some((l) => l.startsWith("servicemonitor.monitoring.coreos.com/api-controller ")), applied.stdout)
      assert.isTrue(lines.some((l) => l.startsWith("prometheusrule.monitoring.coreos.com/api-controller ")), applied.stdout)
      assert.deepStrictEqual(warningsIn(applied.stderr), [])

      // The CRDs' schemas do check: a ServiceMonitor whose endpoint port is a number, and a
      // PrometheusRule alert without an expression, are refused.
      const badMonitor = structuredClone(monitor) as typeof monitor & { spec: { endpoints: Array<Record<string, unknown>> } }
      badMonitor.spec.endpoints[0]!["port"] = 8081
      const badRule = structuredClone(rule) as typeof rule & { spec: { groups: Array<{ rules: Array<Record<string, unknown>> }> } }
      delete badRule.spec.groups[1]!.rules[0]!["expr"]
      for (const bad of [badMonitor, badRule]) {
        const r = yield* Effect.result(kubectl(["apply", "--server-side", "--dry-run=server", "-f", "-"], { kubeconfig: kubeconfig(), input: toYaml([bad]) }))
        assert.strictEqual(r._tag, "Failure", `${bad.kind} with a broken field was accepted`)
      }
    }).pipe(Effect.scoped))
})

describe("the names the rules and the dashboard use", () => {
  it.live("are all in what a running controller serves on /metrics, with the label values they select", () =>
    Effect.gen(function*() {
      const controller = yield* liveController()
      // Some work first, so passes, writes and the fleet gauges have been recorded.
      const ns = yield* testNamespace("monitoring-names")
      yield* createApi(ns, "orders", `orders-${ns}`)
      const x = yield* eventually(
        Effect.gen(function*() {
          const x = yield* controller.scrape
          assert.strictEqual(valueOf(x, "api_controller_ready"), 1)
          assert.isAbove(valueOf(x, "api_controller_apis_ready_condition", { status: "True", reason: "Ready" }) ?? 0, 0)
          assert.isAbove(valueOf(x, "api_controller_reconcile_total", { result: "done" }) ?? 0, 0)
          return x
        }),
        { live: true, steps: 300 }
      )
      const exported = new Set(x.samples.map((s) => s.name))
      const recorded = new Set(records())

      const rules = ruleGroups().flatMap((g) => g.rules.map((r) => ({ what: r.alert ?? r.record!, expr: r.expr })))
      const panels = panelQueries().map((q) => ({ what: `panel "${q.panel}" ${q.refId}`, expr: q.expr }))
      const variables = variableQueries().map((v) => ({ what: `variable ${v.name}`, expr: labelValuesSelector(v.query) }))
      let checked = 0
      for (const { what, expr } of [...rules, ...panels, ...variables]) {
        for (const name of metricNamesIn(expr)) {
          checked++
          if (name.includes(":")) assert.isTrue(recorded.has(name), `${what}: ${name} is not a recording rule`)
          else assert.isTrue(exported.has(name), `${what}: the controller exports no ${name}`)
        }
        // Every label value a selector asks for, `name{label="value"}` or `label=~"a|b"`: the
        // gauges export every value they have at all times (at 0), so each must be there; a
        // counter's series appear with their first count (a verb of a write not made yet), so
        // one of the alternatives must be.
        for (const m of expr.matchAll(/\b(api_controller_[a-z_]+)\{([^}]*)\}/g)) {
          const name = m[1]!
          const gauge = x.types.get(name) === "gauge"
          for (const l of m[2]!.matchAll(/([a-z_]+)\s*(=~|=)\s*"([^"$]*)"/g)) {
            const [label, op, value] = [l[1]!, l[2]!, l[3]!]
            if (label === "job" || label === "namespace") continue // the target's, not the controller's
            const values = op === "=~" ? value.split("|") : [value]
            const present = values.filter((v) => x.samples.some((s) => s.name === name && s.labels[label] === v))
            if (gauge || values.length === 1) assert.deepStrictEqual(present, values, `${what}: ${name}{${label}${op}"${value}"} in the controller's /metrics`)
            else assert.isAbove(present.length, 0, `${what}: no ${name}{${label}${op}"${value}"} in the controller's /metrics`)
          }
        }
      }
      assert.isAbove(checked, 40)

      // No label of the controller's own carries an Api: each has a small, fixed set of values.
      const labels = new Set(x.samples.flatMap((s) => Object.keys(s.labels)))
      for (const l of labels) {
        assert.include(["result", "machine", "state", "type", "verb", "resource", "outcome", "backend", "virtual_service_version", "area", "status", "reason", "le"], l)
      }
    }).pipe(Effect.provide(liveKubeApi()), Effect.scoped))
})
