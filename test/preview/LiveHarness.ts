/**
 * The cluster tier's side of the plan tests: the whole controller (src/runtime/App.ts, settings
 * discovered as `run` discovers them) started and stopped on the real API server, `plan` run as
 * the command runs, and the API server's own request count (`apiserver_request_total` from its
 * /metrics) to show that a plan wrote nothing.
 */
import { assert } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Layer, Metric, Option, Scope } from "effect"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { execFileSync } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { planOutcome } from "../../src/cli/Plan.ts"
import { Controller } from "../../src/controller/Controller.ts"
import { decodeStatus } from "../../src/domain/Api.ts"
import { Kinds } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { appWith } from "../../src/runtime/App.ts"
import * as Logging from "../../src/runtime/Logging.ts"
import { REPO_ROOT } from "../../scripts/lib/RepoRoot.ts"
import { kubeconfigPath, liveKubeApi } from "../support/ClusterTest.ts"
import { eventually } from "../support/Eventually.ts"
import { configWith, testEnv } from "../support/Fixtures.ts"
import { type Input, manifestsYaml } from "./Situations.ts"

export const KUBECTL = join(REPO_ROOT, ".bin", "kubectl")

/** The controller on the test plane with AUTH_BACKEND=`backend`, until `stop` (or the test's scope ends). */
export const startController = (backend: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const stop = Scope.close(scope, Exit.void)
    yield* Effect.addFinalizer(() => stop)
    const context = yield* Layer.buildWithScope(
      appWith(liveKubeApi(), {
        config: configWith({ AUTH_BACKEND: backend }),
        controller: { workers: 4, resyncPeriod: Duration.hours(1) }
      }).pipe(Layer.provide(Layer.mergeAll(
        Logging.layer({ format: "pretty", level: "Error" }),
        // Each app its own metrics registry: several run in one process, one after another.
        Layer.succeed(Metric.MetricRegistry, new Map())
      ))),
      scope
    )
    return { controller: Context.get(context, Controller), stop }
  })

/** The queue empty with nothing in flight for `quietMillis` in a row: every event so far has had its pass. */
export const idle = (controller: Controller["Service"], quietMillis = 1_500, limitMillis = 60_000) =>
  Effect.gen(function*() {
    const start = Date.now()
    let quietSince: number | undefined
    while (true) {
      const busy = (yield* controller.queue.depth) + (yield* controller.queue.inFlight)
      const now = Date.now()
      if (busy > 0) quietSince = undefined
      else if (quietSince === undefined) quietSince = now
      else if (now - quietSince >= quietMillis) return
      if (now - start > limitMillis) return assert.fail(`the work queue was not idle within ${limitMillis} ms`)
      yield* Effect.sleep("50 millis")
    }
  })

/** Every Api of the namespace has a status for its generation. */
export const statusesCurrent = (namespace: string) =>
  eventually(
    Effect.gen(function*() {
      const apis = (yield* (yield* KubeApi).list(Kinds.Api, { namespace })).items
      const behind = apis.filter((a) => decodeStatus(a["status"]).observedGeneration !== a.metadata.generation)
      assert.deepStrictEqual(behind.map((a) => a.metadata.name), [], "Apis without a status for their generation")
    }),
    { live: true }
  )

/** `api-controller plan -n <namespace> --backend <backend> [-f <input>] [--delete] [--all]`, in this process, on the test plane. */
export const planLive = (namespace: string, backend: string | undefined, input: Input, output: "json" | "text" = "json") =>
  Effect.gen(function*() {
    const files: Array<string> = []
    if (input.manifests.length > 0) {
      const path = join(mkdtempSync(join(tmpdir(), "plan-")), "input.yaml")
      writeFileSync(path, manifestsYaml(input))
      files.push(path)
    }
    return yield* planOutcome({
      filename: files,
      delete: input.delete === true,
      all: input.all === true,
      namespace: Option.some(namespace),
      backend: Option.fromUndefinedOr(backend as "istio-security" | "istio-policy" | undefined),
      output,
      kubeconfig: Option.some(kubeconfigPath())
    }, testEnv, liveKubeApi()).pipe(Effect.provide(NodeFileSystem.layer))
  })

/** Writes verbs as the API server counts them (`apiserver_request_total`'s `verb` label). */
const WRITE_VERBS = new Set(["POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", "APPLY"])

/** Resources the controller reads or writes: what a plan could write to. */
export const CONTROLLER_RESOURCES = new Set([
  "apis",
  "virtualservices",
  "policies",
  "requestauthentications",
  "authorizationpolicies",
  "peerauthentications",
  "services",
  "events"
])

/**
 * Writes the API server has served so far to the controller's resources, summed over
 * `apiserver_request_total` by `verb` (its own count: no client can leave a request out).
 */
export const serverWrites = (): number => {
  const text = execFileSync(KUBECTL, ["--kubeconfig", kubeconfigPath(), "get", "--raw", "/metrics"], { encoding: "utf8", maxBuffer: 64 << 20 })
  let total = 0
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]))
    if (WRITE_VERBS.has(labels["verb"] ?? "") && CONTROLLER_RESOURCES.has(labels["resource"] ?? "")) {
      total += Number(line.slice(line.lastIndexOf(" ") + 1))
    }
  }
  return total
}

/**
 * No namespace is being deleted: the namespace controller's deletions (of an earlier test's
 * namespace) would be writes in the count while a plan runs.
 */
export const noNamespaceTerminating = eventually(
  Effect.gen(function*() {
    const namespaces = (yield* (yield* KubeApi).list(Kinds.Namespace)).items
    const terminating = namespaces.filter((n) => n.metadata.deletionTimestamp !== undefined).map((n) => n.metadata.name)
    assert.deepStrictEqual(terminating, [], "namespaces still terminating")
  }),
  { live: true, step: "500 millis", steps: 240 }
)
