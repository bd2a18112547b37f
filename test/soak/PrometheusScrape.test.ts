/**
 * A real Prometheus (built from github.com/prometheus/prometheus by scripts/build-prometheus.sh)
 * scrapes a running controller on a control plane of this file's own every second, with the PrometheusRule's
 * groups loaded as shipped but for one alert's `for`, shortened from 15 minutes to 5 seconds:
 *   - every recording rule and alert evaluates without error on the controller's real series;
 *   - an Api made to fail (a second Api claims a hostname another holds) makes
 *     ApiControllerApisConflicting go pending, then firing; when the Api heals (takes a hostname
 *     of its own) the alert resolves;
 *   - every dashboard panel's query, and every variable's, returns data from the real series.
 * In the soak tier (`npm run test:soak`, which CI runs after `npm test`): building prometheus from
 * source takes minutes on a fresh machine, which `npm test` does not pay; its promtool checks
 * (test/monitoring/) and the dry run against the operator's CRDs (test/cluster/Monitoring.test.ts) are there.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ControlPlane, startControlPlane } from "../../scripts/lib/ControlPlane.ts"
import { Kinds } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { KubeApiLive } from "../../src/k8s/KubeApiLive.ts"
import { testNamespace } from "../support/ClusterTest.ts"
import { eventually } from "../support/Eventually.ts"
import { createApi, liveController, readyReason } from "../monitoring/LiveController.ts"
import { buildPrometheus, labelValuesSelector, panelQueries, ruleGroups, variableQueries, withVariables } from "../monitoring/Monitoring.ts"
import { type Alert, startPrometheus } from "../monitoring/PrometheusServer.ts"
import { valueOf } from "../runtime/prometheus.ts"

const ALERT = "ApiControllerApisConflicting"
const SHORT_FOR = "5s"
const TARGET_LABELS = { namespace: "api-controller-test", pod: "api-controller-a" }
const JOB = "api-controller"

/** The shipped groups, with ALERT's `for` shortened: the expression, labels and annotations as shipped. */
const groupsUnderTest = () =>
  ruleGroups().map((g) => ({ ...g, rules: g.rules.map((r) => (r.alert === ALERT ? { ...r, for: SHORT_FOR } : r)) }))

const conflicting = (alerts: ReadonlyArray<Alert>) =>
  alerts.filter((a) => a.labels["alertname"] === ALERT && a.labels["reason"] === "HostnameOccupied")

let cp: ControlPlane | undefined
beforeAll(async () => {
  buildPrometheus("prometheus") // a no-op when .bin/ is current; cold, minutes
  cp = await startControlPlane({ log: (line) => console.log(`[prometheus scrape] ${line}`) })
}, 45 * 60_000)
afterAll(async () => {
  await cp?.stop()
})

describe("a real Prometheus scraping the controller", () => {
  it.live("evaluates every rule, sees ApiControllerApisConflicting go pending and firing when an Api fails and resolve when it heals, and answers every dashboard query", () =>
    Effect.gen(function*() {
      const kubeApi = KubeApiLive.layer({ kubeconfigPath: cp!.kubeconfigPath })
      const controller = yield* liveController(kubeApi)
      // The controller watches every namespace: start from no hostname conflict anywhere.
      yield* eventually(
        Effect.map(controller.scrape, (x) => assert.strictEqual(valueOf(x, "api_controller_apis_ready_condition", { status: "False", reason: "HostnameOccupied" }), 0)),
        { live: true }
      )
      const prometheus = yield* startPrometheus({ targets: [{ job: JOB, target: controller.target, labels: TARGET_LABELS }], groups: groupsUnderTest() })

      // Scraped, and every rule evaluated without an error on the real series.
      yield* eventually(
        Effect.gen(function*() {
          const [t] = yield* prometheus.targets
          assert.strictEqual(t?.health, "up", t?.lastError)
          const rules = yield* prometheus.rules
          assert.strictEqual(rules.length, ruleGroups().flatMap((g) => g.rules).length)
          for (const r of rules) assert.strictEqual(r.health, "ok", `${r.name}: ${r.lastError ?? r.health}`)
        }),
        { live: true }
      )
      assert.deepStrictEqual(conflicting(yield* prometheus.alerts), [], "no conflict yet")

      // Make an Api fail: a second Api asks for the hostname the first one holds.
      const ns = yield* testNamespace("prometheus")
      const hostname = `shop-${ns}`
      yield* createApi(ns, "orders", hostname)
      yield* eventually(Effect.map(readyReason(ns, "orders"), (r) => assert.strictEqual(r, "Ready")), { live: true })
      yield* createApi(ns, "carts", hostname)
      yield* eventually(Effect.map(readyReason(ns, "carts"), (r) => assert.strictEqual(r, "HostnameOccupied")), { live: true })

      // Pending first (held for `for`), then firing. Polled every 100 ms; the pending phase lasts
      // 5 s and Prometheus also keeps it as ALERTS{alertstate="pending"} samples, checked below.
      const seen: Array<string> = []
      const firing = yield* eventually(
        Effect.gen(function*() {
          const a = conflicting(yield* prometheus.alerts)
          if (a[0] !== undefined && seen.at(-1) !== a[0].state) seen.push(a[0].state)
          assert.strictEqual(a[0]?.state, "firing", `states so far: ${seen.join(", ")}`)
          return a[0]!
        }),
        { live: true, steps: 600 }
      )
      assert.strictEqual(seen[0], "pending", `the alert fired without being pending first: ${seen.join(", ")}`)
      assert.deepStrictEqual(
        { ...firing.labels },
        { alertname: ALERT, severity: "warning", reason: "HostnameOccupied", namespace: TARGET_LABELS.namespace, job: JOB }
      )
      assert.strictEqual(Number(firing.value), 1)
      const pendingSamples = yield* prometheus.query(`count_over_time(ALERTS{alertname="${ALERT}", alertstate="pending"}[5m])`)
      assert.isAbove(Number(pendingSamples[0]?.value[1] ?? 0), 0, "no ALERTS{alertstate=\"pending\"} sample")

      // Every panel's query and every variable's selector, as Grafana would send them, has data.
      const values = { namespace: TARGET_LABELS.namespace, job: JOB, rateInterval: "1m" }
      for (const q of panelQueries()) {
        const result = yield* prometheus.query(withVariables(q.expr, values))
        assert.isAbove(result.length, 0, `panel "${q.panel}" ${q.refId} has no data: ${q.expr}`)
      }
      for (const v of variableQueries()) {
        const result = yield* prometheus.query(withVariables(labelValuesSelector(v.query), values))
        assert.isTrue(result.some((s) => s.metric[v.name] !== undefined), `variable ${v.name} offers no value`)
      }

      // Heal the Api: a hostname of its own. The alert resolves.
      const kube = yield* KubeApi
      yield* kube.patch(Kinds.Api, ns, "carts", { spec: { hostname: `carts-${ns}` } })
      yield* eventually(Effect.map(readyReason(ns, "carts"), (r) => assert.strictEqual(r, "Ready")), { live: true })
      yield* eventually(Effect.map(prometheus.alerts, (a) => assert.deepStrictEqual(conflicting(a), [])), { live: true, steps: 600 })
      const still = yield* prometheus.query(`ALERTS{alertname="${ALERT}"}`)
      assert.deepStrictEqual(still, [], "ALERTS still has the resolved alert")
    }).pipe(Effect.provide(KubeApiLive.layer({ kubeconfigPath: cp!.kubeconfigPath })), Effect.scoped), 180_000)
})
