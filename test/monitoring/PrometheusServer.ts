/**
 * A real Prometheus (.bin/prometheus, built from the Go module by scripts/build-prometheus.sh) for
 * a test: it scrapes static targets on this machine every second, evaluates the given rule groups
 * every second, keeps its data in a temporary folder and is stopped with the caller's scope.
 * Its HTTP API (/api/v1/query, /api/v1/alerts, /api/v1/rules) is what the tests read.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { stringify } from "yaml"
import { freePort } from "../../scripts/lib/FreePort.ts"
import { PROMETHEUS, type RuleGroup, ruleFileText } from "./Monitoring.ts"

export interface ScrapeTarget {
  readonly job: string
  /** host:port */
  readonly target: string
  /** Target labels, as a ServiceMonitor's discovery would give them (namespace, pod). */
  readonly labels: Readonly<Record<string, string>>
}

export interface Alert {
  readonly labels: Readonly<Record<string, string>>
  readonly state: "pending" | "firing" | "inactive"
  readonly value: string
}

export interface RuleState {
  readonly name: string
  readonly type: "alerting" | "recording"
  readonly health: string
  readonly lastError?: string
}

export interface Sample {
  readonly metric: Readonly<Record<string, string>>
  readonly value: readonly [number, string]
}

export class PrometheusApiError extends Error {}

const getJson = <A>(url: string): Effect.Effect<A> =>
  Effect.promise(async () => {
    const r = await fetch(url)
    const body = await r.json() as { status: string; data: A; error?: string }
    if (body.status !== "success") throw new PrometheusApiError(`${url}: ${body.error ?? r.status}`)
    return body.data
  })

/** Starts Prometheus; resolves once it answers /-/ready. */
export const startPrometheus = (options: { readonly targets: ReadonlyArray<ScrapeTarget>; readonly groups: ReadonlyArray<RuleGroup> }) =>
  Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "api-controller-prometheus-"))),
      (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
    )
    writeFileSync(join(dir, "rules.yaml"), ruleFileText(options.groups))
    writeFileSync(
      join(dir, "prometheus.yml"),
      stringify({
        global: { scrape_interval: "1s", scrape_timeout: "900ms", evaluation_interval: "1s" },
        rule_files: ["rules.yaml"],
        scrape_configs: options.targets.map((t) => ({
          job_name: t.job,
          static_configs: [{ targets: [t.target], labels: t.labels }]
        }))
      })
    )
    const port = yield* Effect.promise(freePort)
    const log = join(dir, "prometheus.log")
    const fd = openSync(log, "a")
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(PROMETHEUS, [
          `--config.file=${join(dir, "prometheus.yml")}`,
          `--storage.tsdb.path=${join(dir, "data")}`,
          `--web.listen-address=127.0.0.1:${port}`,
          "--log.level=warn"
        ], { stdio: ["ignore", fd, fd] })
      ),
      (p) =>
        Effect.promise(() =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null) return resolve()
            p.once("exit", () => resolve())
            p.kill("SIGTERM")
          })
        )
    )
    const url = `http://127.0.0.1:${port}`
    const logText = () => readFileSync(log, "utf8")
    // Ready: its storage is open and it serves the API. 300 tries, 100 ms apart.
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) return yield* Effect.die(new Error(`prometheus exited with ${child.exitCode}:\n${logText()}`))
      const ok = yield* Effect.promise(() => fetch(`${url}/-/ready`).then((r) => r.ok, () => false))
      if (ok) break
      if (i >= 300) return yield* Effect.die(new Error(`prometheus did not get ready:\n${logText()}`))
      yield* Effect.sleep("100 millis")
    }
    return {
      url,
      log: logText,
      query: (expr: string) =>
        Effect.map(
          getJson<{ resultType: string; result: ReadonlyArray<Sample> }>(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`),
          (d) => d.result
        ),
      alerts: Effect.map(getJson<{ alerts: ReadonlyArray<Alert> }>(`${url}/api/v1/alerts`), (d) => d.alerts),
      rules: Effect.map(
        getJson<{ groups: ReadonlyArray<{ name: string; rules: ReadonlyArray<RuleState> }> }>(`${url}/api/v1/rules`),
        (d) => d.groups.flatMap((g) => g.rules)
      ),
      targets: Effect.map(
        getJson<{ activeTargets: ReadonlyArray<{ health: string; lastError: string; labels: Record<string, string> }> }>(`${url}/api/v1/targets`),
        (d) => d.activeTargets
      )
    }
  })
