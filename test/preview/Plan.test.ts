/**
 * `api-controller plan` on the in-memory cluster: read-only by construction, its JSON a stable
 * Schema that round-trips, exit codes fit for a CI gate, and the interactions the simulation must
 * get right (a hostname race between two new Apis, the loser of a Service conflict, a backend
 * switch, a deleted holder), its decision table, its text, and how it reads `-f` input.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { execFileSync } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { planOutcome, type PlanFlags } from "../../src/cli/Plan.ts"
import { Kinds } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { IstioPolicyBackend } from "../../src/plan/IstioPolicyBackend.ts"
import { IstioSecurityBackend } from "../../src/plan/IstioSecurityBackend.ts"
import { apisOf } from "../../src/preview/Manifests.ts"
import { decodeReport, encodeReport, PlanReport } from "../../src/preview/PlanReport.ts"
import { planText } from "../../src/preview/PlanText.ts"
import { readOnlyKubeApi, ReadOnlyViolation } from "../../src/preview/ReadOnlyKubeApi.ts"
import { unifiedDiff } from "../../src/preview/UnifiedDiff.ts"
import { testEnv } from "../support/Fixtures.ts"
import { MemoryCluster } from "../support/MemoryCluster.ts"
import { createSetup, jwt, A, B, manifestsYaml } from "./Situations.ts"
import { convergeWith } from "./MemoryHarness.ts"

const ns = "team"

const flags = (over: Partial<PlanFlags> = {}): PlanFlags => ({
  filename: [],
  delete: false,
  all: false,
  namespace: Option.some(ns),
  backend: Option.none(),
  output: "json",
  kubeconfig: Option.none(),
  ...over
})

const fileWith = (text: string, name = "input.yaml") => {
  const path = join(mkdtempSync(join(tmpdir(), "plan-")), name)
  writeFileSync(path, text)
  return path
}

/** The command on the in-memory cluster, with the test environment (AUTH_BACKEND=istio-policy) unless told. */
const plan = (over: Partial<PlanFlags> = {}, env: Record<string, string | undefined> = testEnv) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    return yield* planOutcome(flags(over), env, Layer.succeed(KubeApi, kube)).pipe(Effect.provide(NodeFileSystem.layer))
  })

const reportOf = (over: Partial<PlanFlags> = {}) =>
  Effect.gen(function*() {
    const outcome = yield* plan(over)
    assert.strictEqual(outcome.stderr, "")
    return decodeReport(outcome.stdout)
  })

const apiIn = (report: PlanReport, name: string) => {
  const a = report.apis.find((x) => x.name === name)
  if (a === undefined) throw new Error(`no Api ${name} in the report: ${report.apis.map((x) => x.name).join(", ")}`)
  return a
}

const memory = MemoryCluster.layer()

describe("the read-only KubeApi", () => {
  it.effect("passes gets and lists through and dies on every write and watch, which never reach the server", () =>
    Effect.gen(function*() {
      const kube = readOnlyKubeApi(yield* KubeApi)
      const cluster = yield* MemoryCluster
      const service = { apiVersion: "v1", kind: "Service", metadata: { name: "s", namespace: ns } }
      const attempts = [
        kube.create(Kinds.Service, service),
        kube.replace(Kinds.Service, service),
        kube.patch(Kinds.Service, ns, "s", {}),
        kube.patchStatus(Kinds.Api, ns, "a", {}),
        kube.delete(Kinds.Service, ns, "s")
      ]
      for (const attempt of attempts) {
        const exit = yield* Effect.exit(attempt)
        assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause), "a write dies")
        const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        assert.instanceOf(defect, ReadOnlyViolation)
        assert.match((defect as ReadOnlyViolation).message, /^read-only: refused /)
      }
      assert.deepStrictEqual((yield* cluster.requests).map((r) => r.verb), [], "no write reached the server")
      assert.deepStrictEqual((yield* kube.list(Kinds.Service, { namespace: ns })).items, [])
      assert.deepStrictEqual((yield* cluster.requests).map((r) => r.verb), ["list"])
    }).pipe(Effect.provide(memory)))
})

describe("plan's JSON", () => {
  it.effect("round-trips through its Schema, and the Schema refuses another format", () =>
    Effect.gen(function*() {
      yield* createSetup(ns, [{ service: "orders" }], Effect.void)
      const input = fileWith(manifestsYaml({
        manifests: [{ name: "orders", spec: { service: { name: "orders", port: 8080 }, hostname: "orders", authentication: [jwt(A, [{ prefix: "/web" }])] } }]
      }))
      const outcome = yield* plan({ filename: [input] })
      const report = decodeReport(outcome.stdout)
      assert.strictEqual(encodeReport(report), outcome.stdout, "decode then encode gives the same text")
      assert.strictEqual(report.format, "api-controller.kyma-project.io/plan/v1")
      assert.isTrue(report.readOnly)
      const tampered = JSON.parse(outcome.stdout) as Record<string, unknown>
      assert.isTrue(Exit.isFailure(Schema.decodeUnknownExit(PlanReport)({ ...tampered, format: "plan/v2" })))
      const { summary: _summary, ...withoutSummary } = tampered
      assert.isTrue(Exit.isFailure(Schema.decodeUnknownExit(PlanReport)(withoutSummary)))
    }).pipe(Effect.provide(memory)))
})

describe("plan's exit code", () => {
  it.effect("0 when every planned Api would be Ready, 2 when one would not", () =>
    Effect.gen(function*() {
      yield* createSetup(ns, [{ service: "one" }], Effect.void)
      const good = fileWith(manifestsYaml({ manifests: [{ name: "good", spec: { service: { name: "one", port: 8080 }, hostname: "good" } }] }))
      assert.strictEqual((yield* plan({ filename: [good] })).exitCode, 0)
      const bad = fileWith(manifestsYaml({ manifests: [{ name: "bad", spec: { service: { name: "one", port: 8080 }, hostname: "bad.example.com" } }] }))
      assert.strictEqual((yield* plan({ filename: [good, bad] })).exitCode, 2)
      assert.strictEqual((yield* plan({ filename: [good, bad], output: "text" })).exitCode, 2, "the same with -o text")
    }).pipe(Effect.provide(memory)))

  it.effect("1 on error, with the reason on stderr and nothing on stdout", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Partial<PlanFlags>, Record<string, string | undefined>, RegExp]> = [
        [{ all: true }, { ...testEnv, DOMAIN_NAME: undefined }, /DOMAIN_NAME: is required/],
        [{ all: true }, { ...testEnv, DEFAULT_ISSUER: "not a url" }, /DEFAULT_ISSUER/],
        [{}, testEnv, /give -f <file or directory>.* or --all/],
        [{ all: true, delete: true }, testEnv, /--delete plans the deletion of the -f Apis: give -f/],
        [{ filename: ["/nonexistent/apis.yaml"] }, testEnv, /-f \/nonexistent\/apis.yaml: no such file or directory/],
        [{ filename: [fileWith("kind: Api\napiVersion: gateway.kyma-project.io/v1alpha2\nmetadata: {name: a, namespace: other}\n")] }, testEnv, /in namespace other, not -n team/],
        [{ filename: [fileWith("a: [unclosed\n")] }, testEnv, /document 1: /]
      ]
      for (const [over, env, expected] of cases) {
        const outcome = yield* plan(over, env)
        assert.strictEqual(outcome.exitCode, 1, String(expected))
        assert.strictEqual(outcome.stdout, "")
        assert.match(outcome.stderr, /^api-controller plan: /)
        assert.match(outcome.stderr, expected)
      }
    }).pipe(Effect.provide(memory)))

  it.effect("1 when the cluster does not serve Apis: the server's answer is the message", () =>
    Effect.gen(function*() {
      const outcome = yield* plan({ all: true })
      assert.strictEqual(outcome.exitCode, 1)
      assert.match(outcome.stderr, /list apis.*NotFound/)
    }).pipe(Effect.provide(MemoryCluster.layer({ unserved: [Kinds.Api] }))))
})

describe("plan's simulation", () => {
  it.effect("a hostname race between two new Apis: the older (then the first by name) creates its VirtualService, the other reports the holder", () =>
    Effect.gen(function*() {
      yield* createSetup(ns, [{ service: "one" }, { service: "two" }], Effect.void)
      const input = fileWith(manifestsYaml({
        manifests: [
          { name: "zeta", spec: { service: { name: "two", port: 8080 }, hostname: "race" } },
          { name: "alpha", spec: { service: { name: "one", port: 8080 }, hostname: "race" } }
        ]
      }))
      const report = yield* reportOf({ filename: [input], backend: Option.some("istio-security") })
      const alpha = apiIn(report, "alpha")
      const zeta = apiIn(report, "zeta")
      assert.deepStrictEqual([alpha.status?.ready, alpha.children.map((c) => `${c.action} ${c.kind}`)], [true, ["create VirtualService"]])
      assert.deepStrictEqual([zeta.status?.ready, zeta.status?.reason, zeta.status?.virtualService.code], [false, "HostnameOccupied", 4])
      assert.deepStrictEqual(zeta.children, [], "the loser never created one")
      assert.deepStrictEqual(zeta.conflicts.map((c) => [c.kind, c.holder]), [["hostname", "VirtualService team/alpha (Api team/alpha)"]])
      assert.deepStrictEqual(report.summary, { apis: 2, ready: 1, notReady: 1, withChanges: 2, deleted: 0 })
    }).pipe(Effect.provide(memory)))

  it.effect("the loser of a Service conflict is reported though not in the input, withdrawing every child; Apis the input does not touch are left out", () =>
    Effect.gen(function*() {
      const secured = (service: string, hostname: string) => ({ service: { name: service, port: 8080 }, hostname, authentication: [jwt(B)] })
      yield* createSetup(ns, [
        { service: "one" },
        { service: "two" },
        { service: "three" },
        { api: "older", spec: secured("one", "older") },
        "later",
        { api: "younger", spec: secured("two", "younger") },
        { api: "bystander", spec: secured("three", "bystander") }
      ], TestClock.adjust("1 second"))
      yield* convergeWith(IstioSecurityBackend)
      const input = fileWith(manifestsYaml({ manifests: [{ name: "older", spec: secured("two", "older") }] }))
      const report = yield* reportOf({ filename: [input], backend: Option.some("istio-security") })
      assert.deepStrictEqual(report.apis.map((a) => [a.name, a.change, a.scope]), [["older", "update", "input"], ["younger", "none", "affected"]])
      const younger = apiIn(report, "younger")
      assert.deepStrictEqual([younger.status?.validation.code, younger.current?.ready], [5, true])
      assert.deepStrictEqual(younger.conflicts.map((c) => [c.kind, c.holder]), [["service", "Api team/older"]])
      assert.deepStrictEqual(younger.children.map((c) => `${c.action} ${c.kind} ${c.name}`), [
        "delete VirtualService younger",
        "delete RequestAuthentication younger",
        "delete AuthorizationPolicy younger-deny",
        "delete AuthorizationPolicy younger",
        "delete PeerAuthentication younger"
      ], "VirtualService first, then the authentication children")
    }).pipe(Effect.provide(memory)))

  it.effect("a backend switch: the new backend's children are created before the Policy is deleted, every status stays Ready", () =>
    Effect.gen(function*() {
      yield* createSetup(ns, [{ service: "orders" }, { api: "orders", spec: { service: { name: "orders", port: 8080 }, hostname: "orders", authentication: [jwt(A)] } }], Effect.void)
      yield* convergeWith(IstioPolicyBackend)
      const report = yield* reportOf({ all: true, backend: Option.some("istio-security") })
      assert.deepStrictEqual(report.backend, { name: "istio-security", reason: "--backend istio-security" })
      const orders = apiIn(report, "orders")
      assert.deepStrictEqual(orders.children.map((c) => `${c.action} ${c.kind}`), [
        "create RequestAuthentication",
        "create AuthorizationPolicy",
        "create AuthorizationPolicy",
        "create PeerAuthentication",
        "delete Policy"
      ])
      assert.deepStrictEqual([orders.status?.ready, orders.status?.authentication?.code], [true, 2])
      // The DENY policy's rules share one ports list: printed twice, as kubectl prints it, not as a YAML alias.
      assert.match(orders.children[1]!.diff, /\n\+ {12}ports:\n\+ {14}- "8080"\n[^]*\n\+ {12}ports:\n\+ {14}- "8080"\n/)
      assert.notMatch(orders.children[1]!.diff, /[&*]a1/)
      assert.match(orders.children[4]!.diff, /^--- live\/authentication\.istio\.io\.v1alpha1\.Policy\.team\.orders\n\+\+\+ planned\/authentication\.istio\.io\.v1alpha1\.Policy\.team\.orders\n@@ -1,\d+ \+0,0 @@\n-apiVersion: authentication\.istio\.io\/v1alpha1\n/)
      const left = yield* (yield* MemoryCluster).objects(Kinds.Policy, ns)
      assert.strictEqual(left.length, 1, "the plan deleted nothing")
    }).pipe(Effect.provide(memory)))

  it.effect("--delete: the Api's children go by garbage collection, and the Api waiting for its host is reported Ready", () =>
    Effect.gen(function*() {
      const spec = (service: string) => ({ service: { name: service, port: 8080 }, hostname: "shared" })
      yield* createSetup(ns, [{ service: "one" }, { service: "two" }, { api: "holder", spec: spec("one") }, "later", { api: "waiting", spec: spec("two") }], TestClock.adjust("1 second"))
      yield* convergeWith(IstioPolicyBackend)
      const input = fileWith(manifestsYaml({ manifests: [{ name: "holder", spec: spec("one") }] }))
      const report = yield* reportOf({ filename: [input], delete: true })
      const holder = apiIn(report, "holder")
      assert.deepStrictEqual([holder.change, holder.status, holder.children.map((c) => `${c.action} ${c.kind}`)], ["delete", undefined, ["delete VirtualService"]])
      const waiting = apiIn(report, "waiting")
      assert.deepStrictEqual([waiting.scope, waiting.current?.reason, waiting.status?.ready], ["affected", "HostnameOccupied", true])
      assert.deepStrictEqual(waiting.children.map((c) => `${c.action} ${c.kind}`), ["create VirtualService"])
      assert.deepStrictEqual(report.summary, { apis: 1, ready: 1, notReady: 0, withChanges: 2, deleted: 1 })
      assert.strictEqual((yield* plan({ filename: [input], delete: true })).exitCode, 0)
    }).pipe(Effect.provide(memory)))
})

describe("plan's decision table", () => {
  it.effect("samples /, each excluded path and one under each prefix, with no token, each issuer's and a foreign one, next to the legacy decision", () =>
    Effect.gen(function*() {
      yield* createSetup(ns, [{ service: "orders" }], Effect.void)
      const input = fileWith(manifestsYaml({
        manifests: [{
          name: "orders",
          spec: {
            service: { name: "orders", port: 8080 },
            hostname: "orders",
            authentication: [jwt(A, [{ exact: "/status" }, { prefix: "/web" }, { suffix: ".ico" }]), jwt(B)]
          }
        }]
      }))
      for (const backend of ["istio-security", "istio-policy"] as const) {
        const table = apiIn(yield* reportOf({ filename: [input], backend: Option.some(backend) }), "orders").decisions!
        assert.strictEqual(table.decidedBy, backend)
        assert.strictEqual(table.host, "orders.kyma.local")
        assert.isTrue(table.exposed)
        const cell = (path: string, token: string | null) => {
          const row = table.rows.find((r) => r.path === path && r.token === token)!
          return [row.allowed, row.legacy]
        }
        assert.deepStrictEqual([...new Set(table.rows.map((r) => r.path))], ["/", "/status", "/web/sample", "/sample.ico"])
        assert.deepStrictEqual([...new Set(table.rows.map((r) => r.token))], [null, A.issuer, B.issuer, "https://foreign-issuer.invalid"])
        assert.deepStrictEqual(cell("/", null), [false, false], backend)
        assert.deepStrictEqual(cell("/", A.issuer), [true, true], backend)
        assert.deepStrictEqual(cell("/", "https://foreign-issuer.invalid"), [false, false], backend)
        // Excluded for A only: B still triggers, so legacy asks for a token (of A or B, whichever is triggered).
        assert.deepStrictEqual(cell("/status", null), [false, false], backend)
        assert.deepStrictEqual(cell("/status", B.issuer), [true, true], backend)
        if (backend === "istio-security") {
          assert.deepStrictEqual(table.podLabels, { app: "orders" })
          assert.strictEqual(table.port, 8080)
        }
      }
    }).pipe(Effect.provide(memory)))
})

describe("plan's text", () => {
  it.effect("says it was read-only, names the backend, shows each Api's status, diffs and table, and ends with the summary line", () =>
    Effect.gen(function*() {
      yield* createSetup(ns, [{ service: "orders" }], Effect.void)
      const input = fileWith(manifestsYaml({ manifests: [{ name: "orders", spec: { service: { name: "orders", port: 8080 }, hostname: "orders", authentication: [jwt(A)] } }] }))
      const outcome = yield* plan({ filename: [input], output: "text" })
      const text = outcome.stdout
      assert.match(text, /^api-controller plan: read-only \(the cluster was read with get and list; nothing was written\)\n/)
      assert.match(text, /\nbackend: istio-policy \(AUTH_BACKEND=istio-policy\); VirtualService networking\.istio\.io\/v1\n/)
      assert.match(text, /\nApi team\/orders \(new\)\n  would be Ready=True \(Ready\)\n/)
      assert.match(text, /\n    \+\+\+ planned\/authentication\.istio\.io\.v1alpha1\.Policy\.team\.orders\n/)
      assert.match(text, /\n  decisions through orders\.kyma\.local \(istio-policy: the Api's Policy\):\n    PATH/)
      assert.match(text, /\n1 Api: 1 Ready, 0 not Ready, 1 with changes\n$/)
      assert.strictEqual(planText(decodeReport((yield* plan({ filename: [input] })).stdout)), text, "the text is the JSON's, rendered")
    }).pipe(Effect.provide(memory)))
})

describe("plan's -f input", () => {
  it("reads Apis from several documents and List items; other kinds are left out with a note; -n fills a missing namespace", () => {
    const text = [
      "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n",
      "apiVersion: gateway.kyma-project.io/v1alpha2\nkind: Api\nmetadata: {name: a}\nspec: {hostname: a}\n",
      "apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: gateway.kyma-project.io/v1alpha2, kind: Api, metadata: {name: b, namespace: team}}\n",
      "apiVersion: gateway.kyma-project.io/v1alpha1\nkind: Api\nmetadata: {name: old}\n",
      ""
    ].join("---\n")
    const read = apisOf([{ path: "x.yaml", text }], "team")
    assert.deepStrictEqual(read.apis.map((a) => `${a.metadata.namespace}/${a.metadata.name}`), ["team/a", "team/b"])
    assert.deepStrictEqual(read.notes, [
      "x.yaml document 1: Service s left out (plan reads only Apis from files)",
      "x.yaml document 4: Api old left out (not gateway.kyma-project.io/v1alpha2)"
    ])
    assert.deepStrictEqual(read.problems, [])
    assert.deepStrictEqual(apisOf([{ path: "y.yaml", text: "apiVersion: gateway.kyma-project.io/v1alpha2\nkind: Api\nmetadata: {name: a}\n" }], undefined).apis[0]!.metadata.namespace, "default")
    assert.deepStrictEqual(apisOf([{ path: "x.yaml", text }, { path: "z.yaml", text }], "team").problems, [
      "z.yaml document 2: Api team/a is given twice",
      "z.yaml document 3 item 1: Api team/b is given twice"
    ])
  })

  it.effect("a directory: its YAML and JSON files in name order, the kustomization left out with a note", () =>
    Effect.gen(function*() {
      const report = yield* reportOf({ filename: ["deploy/samples/"] })
      assert.deepStrictEqual(report.apis.map((a) => a.name), ["billing", "httpbin", "orders", "orders-copy", "wrong-domain"], "problems.yaml too, as kubectl apply -f reads a directory")
      assert.deepStrictEqual(report.notes.filter((n) => n.includes("left out")), [
        "deploy/samples/kustomization.yaml document 1: Kustomization (no name) left out (plan reads only Apis from files)",
        "deploy/samples/services.yaml document 1: Service httpbin left out (plan reads only Apis from files)",
        "deploy/samples/services.yaml document 2: Service orders left out (plan reads only Apis from files)",
        "deploy/samples/services.yaml document 3: Service billing left out (plan reads only Apis from files)"
      ])
    }).pipe(Effect.provide(memory)))
})

describe("the unified diff", () => {
  it("is the one diff -u prints: hunks with three lines of context, a count of 1 left out, removals before additions", () => {
    const a = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"].join("\n") + "\n"
    const b = ["a", "B", "c", "d", "e", "f", "g", "h", "i", "j", "k", "m", "n"].join("\n") + "\n"
    const dir = mkdtempSync(join(tmpdir(), "diff-"))
    writeFileSync(join(dir, "a"), a)
    writeFileSync(join(dir, "b"), b)
    let expected = ""
    try {
      execFileSync("diff", ["-u", "--label", "live/x", "--label", "planned/x", join(dir, "a"), join(dir, "b")], { encoding: "utf8" })
    } catch (e) {
      expected = (e as { stdout: string }).stdout
    }
    assert.strictEqual(unifiedDiff(a, b, { from: "live/x", to: "planned/x" }), expected)
    assert.strictEqual(unifiedDiff("", "x\n", { from: "l", to: "p" }), "--- l\n+++ p\n@@ -0,0 +1 @@\n+x\n")
    assert.strictEqual(unifiedDiff(a, a, { from: "l", to: "p" }), "")
  })
})
