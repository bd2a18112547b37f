/**
 * `api-controller describe` against a real kube-apiserver: the controller (the whole app) takes an
 * Api to Created, then describe (in process, and the real command in a child process) shows each
 * machine's state and code, the children with their real uid and resourceVersion, Ready, and a
 * timeline where the Events the reconciler recorded are folded into status.transitions.
 *
 * The command is run as the README runs it, `npx api-controller ...` in the checkout: package.json's
 * `bin` with the project's Node 22 (a `bin` pointing at the TypeScript sources made Node's own
 * type stripping refuse them; bin/api-controller.js loads them through tsx). npx gets a cache of
 * its own: it links the checkout into its cache once and would keep running the `bin` of an
 * earlier version from there.
 */
import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Duration, Effect, Layer } from "effect"
import { describeApi } from "../../src/cli/Describe.ts"
import { decodeStatus } from "../../src/domain/Api.ts"
import { Kinds } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { appWith } from "../../src/runtime/App.ts"
import * as Logging from "../../src/runtime/Logging.ts"
import { REPO_ROOT } from "../../scripts/lib/RepoRoot.ts"
import { kubeconfigPath, liveKubeApi, testNamespace } from "../support/ClusterTest.ts"
import { eventually } from "../support/Eventually.ts"
import { apiObject, googleJwt, testConfig } from "../support/Fixtures.ts"

const app = appWith(liveKubeApi(), {
  config: testConfig,
  controller: { workers: 2, resyncPeriod: Duration.hours(1) }
}).pipe(Layer.provide(Logging.layer({ format: "pretty", level: "Error" })))

/**
 * The real command line, as a user runs it: `npx api-controller describe ns/name --kubeconfig ...`,
 * each run with an npx cache of its own (runs at the same time never share one being filled).
 */
const cli = (...args: ReadonlyArray<string>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "api-controller-npx-"))),
    (cache) =>
      Effect.callback<{ readonly code: number; readonly stdout: string; readonly stderr: string }>((resume) => {
        const env = {
          ...process.env,
          npm_config_cache: cache,
          npm_config_offline: "true",
          npm_config_update_notifier: "false",
          npm_config_loglevel: "error",
          // Only the cluster the command line names.
          KUBECONFIG: "",
          HOME: cache
        }
        const child = execFile("npx", ["api-controller", ...args], { cwd: REPO_ROOT, timeout: 60_000, env }, (error, stdout, stderr) =>
          resume(Effect.succeed({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr })))
        return Effect.sync(() => child.kill())
      }),
    (cache) => Effect.sync(() => rmSync(cache, { recursive: true, force: true }))
  )

const line = (text: string, pattern: RegExp) =>
  assert.isTrue(text.split("\n").some((l) => pattern.test(l)), `no line matches ${pattern} in:\n${text}`)

describe("describe on a real kube-apiserver", () => {
  it.live("names each machine's state, the children and the timeline once the controller has created them", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const namespace = yield* testNamespace("describe")
      const host = `${namespace}-orders`
      yield* kube.create(Kinds.Api, apiObject(namespace, "orders", {
        service: { name: "orders", port: 8080 },
        hostname: host,
        authentication: [googleJwt]
      }))

      // The controller, until both children exist and are confirmed.
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(app)
        yield* eventually(
          Effect.gen(function*() {
            const s = decodeStatus((yield* kube.get(Kinds.Api, namespace, "orders"))["status"])
            assert.strictEqual(s.virtualService?.code, 2)
            assert.strictEqual(s.authenticationStatus?.code, 2)
            assert.strictEqual(s.conditions?.[0]?.status, "True")
          }),
          { live: true, step: "200 millis", steps: 150 }
        )
      }))

      const vs = yield* kube.get(Kinds.VirtualService, namespace, "orders")
      const policy = yield* kube.get(Kinds.Policy, namespace, "orders")
      const text = yield* describeApi(namespace, "orders")

      line(text, new RegExp(`^Api:\\s+${namespace}/orders$`))
      line(text, /^Ready:\s+True {2}Ready: exposed, authentication enforced/)
      line(text, /^ {2}service:\s+orders:8080$/)
      line(text, /^ {2}authentication:\s+JWT, 1 rule\(s\): https:\/\/accounts\.google\.com$/)
      line(text, /^ {2}validation\s+Valid\s+2\s+status\.validationStatus$/)
      line(text, /^ {2}virtualService\s+Created\s+2\s+status\.virtualService\.code$/)
      line(text, /^ {2}authentication\s+Created\s+2\s+status\.authenticationStatus\.code$/)
      line(text, new RegExp(`^ {2}VirtualService\\s+orders\\s+${vs.metadata.uid}\\s+${vs.metadata.resourceVersion}\\s+this Api\\s+hosts: ${host}\\.kyma\\.local$`))
      line(text, new RegExp(`^ {2}Policy\\s+orders\\s+${policy.metadata.uid}\\s+${policy.metadata.resourceVersion}\\s+this Api\\s+origins: https://accounts\\.google\\.com$`))
      // One pass: each machine's one step, then the one Ready Event (SPEC 8).
      line(text, /\s+validation\s+Pending -> Valid\s+status(\s|$)/)
      line(text, /\s+authentication\s+Disabled -> Created\s+status(\s|$)/)
      line(text, /\s+virtualService\s+NotCreated -> Created\s+status(\s|$)/)
      line(text, /\s+-\s+Ready\s+event\s+exposed, authentication enforced$/)
      assert.strictEqual(text.split("\n").filter((l) => /\s+event\s/.test(l)).length, 1, "one Event for a new Api")

      // The same through the command line a user types; what it says without a cluster or an Api.
      const noKubeconfig = join(tmpdir(), `${namespace}-no-such-kubeconfig`)
      const [run, missing, help, unconfigured] = yield* Effect.all([
        cli("describe", `${namespace}/orders`, "--kubeconfig", kubeconfigPath()),
        cli("describe", `${namespace}/nothing`, "--kubeconfig", kubeconfigPath()),
        cli("--help"),
        cli("describe", `${namespace}/orders`, "--kubeconfig", noKubeconfig)
      ], { concurrency: 2 })
      assert.strictEqual(run.code, 0, run.stderr)
      line(run.stdout, /^ {2}virtualService\s+Created\s+2\s+status\.virtualService\.code$/)
      line(run.stdout, new RegExp(`^ {2}VirtualService\\s+orders\\s+${vs.metadata.uid}\\s`))
      line(run.stdout, /\s+authentication\s+Disabled -> Created\s+status(\s|$)/)

      assert.strictEqual(missing.code, 1)
      assert.strictEqual(missing.stderr.trim(), `api-controller describe: Api ${namespace}/nothing not found`)

      assert.strictEqual(help.code, 0, help.stderr)
      for (const command of ["run", "describe", "diagram"]) line(help.stdout, new RegExp(`^ {2}${command}\\s{2,}\\S`))

      assert.strictEqual(unconfigured.code, 1, unconfigured.stdout)
      assert.strictEqual(unconfigured.stderr.trim(), `api-controller describe: no kubeconfig at ${noKubeconfig}`)
    }).pipe(Effect.scoped, Effect.provide(liveKubeApi())), { timeout: 150_000 })

  it.live("shows a blocked Api: the holder of its hostname, no children, the Warning", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const namespace = yield* testNamespace("describe-blocked")
      const host = `${namespace}-shop.kyma.local`
      yield* kube.create(Kinds.VirtualService, {
        apiVersion: "networking.istio.io/v1alpha3",
        kind: "VirtualService",
        metadata: { name: "holder", namespace },
        spec: { hosts: [host], gateways: ["g"] }
      })
      yield* kube.create(Kinds.Api, apiObject(namespace, "shop", { service: { name: "shop", port: 80 }, hostname: host }))
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Layer.build(app)
        yield* eventually(
          Effect.gen(function*() {
            const s = decodeStatus((yield* kube.get(Kinds.Api, namespace, "shop"))["status"])
            assert.strictEqual(s.virtualService?.code, 4)
          }),
          { live: true, step: "200 millis", steps: 150 }
        )
        // The Event is recorded just after the status; wait for it too.
        yield* eventually(
          Effect.gen(function*() {
            const events = (yield* kube.list(Kinds.Event, { namespace })).items
            assert.isTrue(events.some((e) => e["reason"] === "HostnameOccupied"))
          }),
          { live: true }
        )
      }))
      const text = yield* describeApi(namespace, "shop")
      line(text, new RegExp(`^ {2}virtualService\\s+HostnameOccupied\\s+4\\s+status\\.virtualService\\.code\\s+hostname ${host.replace(/\./g, "\\.")} is already used by VirtualService ${namespace}/holder$`))
      line(text, /^Ready:\s+False {2}HostnameOccupied:/)
      line(text, /^ {2}VirtualService\s+\(none\)$/)
      line(text, /^ {2}Policy\s+\(none\)$/)
      line(text, /\s+virtualService\s+NotCreated -> HostnameOccupied\s+both \(Warning\)\s+hostname /)
    }).pipe(Effect.scoped, Effect.provide(liveKubeApi())), { timeout: 90_000 })
})
