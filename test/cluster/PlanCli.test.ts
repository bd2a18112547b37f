/**
 * `api-controller plan` as people and CI run it (the package bin, and `kubectl api-plan` through the
 * kubectl plugin in bin/), on a real kube-apiserver (issue 22, "done when"):
 *
 * - `plan -f deploy/samples/` prints the statuses and diffs the controller then produces;
 * - `plan --all --backend istio-security` (the backend switch of the samples, through kubectl)
 *   does the same for a switch from the legacy Policy;
 * - neither writes: the API server's own count of writes (`apiserver_request_total`) to the
 *   controller's resources does not move while the plan runs, and does when the input is applied
 *   (so the count is seen to count);
 * - `kubectl api-plan --help` works with the built kubectl and bin/ on PATH.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { parseAllDocuments } from "yaml"
import { Kinds, type KubeObject } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { decodeReport, type PlanReport } from "../../src/preview/PlanReport.ts"
import { REPO_ROOT } from "../../scripts/lib/RepoRoot.ts"
import { idle, KUBECTL, noNamespaceTerminating, serverWrites, startController, statusesCurrent } from "../preview/LiveHarness.ts"
import { brief, clusterState, mismatches } from "../preview/Situations.ts"
import { kubeconfigPath, liveKubeApi, testNamespace } from "../support/ClusterTest.ts"
import { eventually } from "../support/Eventually.ts"
import { testEnv } from "../support/Fixtures.ts"

const NODE = join(REPO_ROOT, "node_modules", ".bin", "node")
const BIN = join(REPO_ROOT, "bin")

/** The controller's environment as a deployment sets it, AUTH_BACKEND left to discovery (`auto`). */
const env = (): NodeJS.ProcessEnv => {
  const { AUTH_BACKEND: _auto, ...rest } = testEnv
  return { PATH: `${BIN}:${process.env["PATH"] ?? ""}`, HOME: process.env["HOME"] ?? "/tmp", ...rest }
}

const run = (command: string, args: ReadonlyArray<string>) => {
  const r = spawnSync(command, args, { cwd: REPO_ROOT, env: env(), encoding: "utf8", maxBuffer: 64 << 20, timeout: 120_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** `api-controller plan ...`, the package bin. */
const plan = (...args: ReadonlyArray<string>) => run(NODE, [join(BIN, "api-controller.js"), "plan", "--kubeconfig", kubeconfigPath(), ...args])

const samples = (file: string): ReadonlyArray<KubeObject> =>
  parseAllDocuments(readFileSync(join(REPO_ROOT, "deploy", "samples", file), "utf8")).map((d) => d.toJS() as KubeObject).filter((o) => o !== null)

const createAll = (namespace: string, objects: ReadonlyArray<KubeObject>) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    for (const o of objects) {
      yield* kube.create(o.kind === "Service" ? Kinds.Service : Kinds.Api, { ...o, metadata: { ...o.metadata, namespace } })
    }
  })

const apiIn = (report: PlanReport, name: string) => report.apis.find((a) => a.name === name)!

/** The plan's writes, and the apply's: the count must not move for the first and must for the second. */
const writesDuring = <A>(f: () => A): { readonly result: A; readonly writes: number } => {
  const before = serverWrites()
  const result = f()
  return { result, writes: serverWrites() - before }
}

describe("api-controller plan on a real kube-apiserver", () => {
  it.live("plan -f deploy/samples/ prints the statuses and diffs the controller then produces, and writes nothing", () =>
    Effect.gen(function*() {
      const ns = yield* testNamespace("plan-samples")
      yield* createAll(ns, samples("services.yaml"))
      yield* noNamespaceTerminating

      const { result, writes } = writesDuring(() => plan("-f", "deploy/samples/", "-n", ns, "-o", "json"))
      assert.strictEqual(writes, 0, "the plan wrote nothing, by the server's own count")
      assert.strictEqual(result.stderr, "")
      assert.strictEqual(result.status, 2, "two sample Apis would not be Ready: exit 2")
      const report = decodeReport(result.stdout)
      assert.strictEqual(report.backend.name, "istio-security", "discovered as run discovers it: the plane serves security.istio.io/v1")
      assert.deepStrictEqual(
        report.apis.map((a) => [a.name, a.change, a.status?.ready, a.status?.reason]),
        [
          ["billing", "create", true, "Ready"],
          ["httpbin", "create", true, "Ready"],
          ["orders", "create", true, "Ready"],
          ["orders-copy", "create", false, "TargetServiceOccupied"],
          ["wrong-domain", "create", false, "InvalidSpec"]
        ]
      )
      assert.deepStrictEqual(apiIn(report, "orders-copy").conflicts.map((c) => c.holder), [`Api ${ns}/orders`])
      assert.deepStrictEqual(apiIn(report, "orders").children.map((c) => `${c.action} ${c.kind} ${c.name}`), [
        "create RequestAuthentication orders",
        "create AuthorizationPolicy orders-deny",
        "create AuthorizationPolicy orders",
        "create PeerAuthentication orders",
        "create VirtualService orders"
      ])
      const text = plan("-f", "deploy/samples/", "-n", ns)
      assert.strictEqual(text.status, 2)
      assert.match(text.stdout, /^api-controller plan: read-only/)
      assert.match(text.stdout, /\n5 Apis: 3 Ready, 2 not Ready, 5 with changes\n$/)

      // Applied as kubectl apply -f deploy/samples/ would (its Apis), then the controller.
      const state = yield* clusterState(ns)
      const before = serverWrites()
      yield* createAll(ns, [...samples("apis.yaml"), ...samples("problems.yaml")])
      assert.isAtLeast(serverWrites() - before, 5, "the count sees writes: the five creates")
      const controller = yield* startController("auto")
      const check = Effect.map(mismatches(report, ns, state), (m) => assert.deepStrictEqual(m, [], brief(report)))
      yield* eventually(check, { live: true })
      yield* idle(controller.controller)
      yield* check
    }).pipe(Effect.provide(liveKubeApi())), 180_000)

  it.live("kubectl api-plan --all --backend istio-security: the backend switch of the samples, as the controller then makes it, and nothing written", () =>
    Effect.gen(function*() {
      const ns = yield* testNamespace("plan-switch")
      yield* createAll(ns, [...samples("services.yaml"), ...samples("apis.yaml")])
      const legacy = yield* startController("istio-policy")
      yield* statusesCurrent(ns)
      yield* idle(legacy.controller)
      yield* legacy.stop
      yield* noNamespaceTerminating
      const state = yield* clusterState(ns)

      const { result, writes } = writesDuring(() =>
        run(KUBECTL, ["api-plan", "--all", "-n", ns, "--backend", "istio-security", "-o", "json", "--kubeconfig", kubeconfigPath()])
      )
      assert.strictEqual(writes, 0, "the plan wrote nothing, by the server's own count")
      assert.strictEqual(result.stderr, "")
      assert.strictEqual(result.status, 0, "every Api would be Ready: exit 0")
      const report = decodeReport(result.stdout)
      assert.deepStrictEqual(report.apis.map((a) => [a.name, a.status?.ready, a.children.map((c) => `${c.action} ${c.kind}`)]), [
        ["billing", true, ["create RequestAuthentication", "create AuthorizationPolicy", "create AuthorizationPolicy", "delete Policy"]],
        ["httpbin", true, []],
        ["orders", true, ["create RequestAuthentication", "create AuthorizationPolicy", "create AuthorizationPolicy", "create PeerAuthentication", "delete Policy"]]
      ])

      const controller = yield* startController("istio-security")
      const check = Effect.map(mismatches(report, ns, state), (m) => assert.deepStrictEqual(m, [], brief(report)))
      yield* eventually(check, { live: true })
      yield* idle(controller.controller)
      yield* check
    }).pipe(Effect.provide(liveKubeApi())), 180_000)

  it("kubectl api-plan --help works with the built kubectl and bin/ on PATH", () => {
    const help = run(KUBECTL, ["api-plan", "--help"])
    assert.strictEqual(help.status, 0, help.stderr)
    assert.match(help.stdout, /USAGE\n {2}api-controller plan \[flags\]/)
    assert.match(help.stdout, /--backend choice/)
    const listed = run(KUBECTL, ["plugin", "list"])
    assert.match(listed.stdout, /\/bin\/kubectl-api_plan\n/)
  })
})
