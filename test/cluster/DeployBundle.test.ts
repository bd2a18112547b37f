/**
 * The production bundle (scripts/bundle.ts, what the Dockerfile's runtime stage runs) on its own:
 * no node_modules beside it, started with the container's arguments and the ConfigMap's
 * environment from deploy/, against the real API server, until /readyz says ready.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import { freePort } from "../../scripts/lib/FreePort.ts"
import { join } from "node:path"
import { bundle } from "../../scripts/bundle.ts"
import { Kinds } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { configMapLiterals, containerLiteralEnv, deploymentContainer } from "../deploy/Manifests.ts"
import { REPO_ROOT, tempDir } from "../deploy/DeployKit.ts"
import { kubeconfigPath, liveKubeApi, testNamespace } from "../support/ClusterTest.ts"

/** Node 22 from the project's own devDependency (bare `node` may be older). */
const NODE = existsSync(join(REPO_ROOT, "node_modules/.bin/node")) ? join(REPO_ROOT, "node_modules/.bin/node") : process.execPath

interface Run {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
}

/** Starts `node <main> args` in an empty directory with only `env`; killed with the scope. */
const start = (main: string, args: ReadonlyArray<string>, env: Record<string, string>, cwd: string) =>
  Effect.acquireRelease(
    Effect.sync((): Run => {
      const child = spawn(NODE, [main, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] })
      let out = ""
      let err = ""
      child.stdout?.on("data", (d: Buffer) => (out += d.toString()))
      child.stderr?.on("data", (d: Buffer) => (err += d.toString()))
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)))
      return { child, stdout: () => out, stderr: () => err, exited }
    }),
    (run) =>
      Effect.promise(async () => {
        if (run.child.exitCode === null && run.child.signalCode === null) {
          run.child.kill("SIGKILL")
          await run.exited
        }
      })
  )

const waitExit = (run: Run, ms: number) =>
  Effect.promise(() => Promise.race([run.exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), ms))]))

/** Only what a container gets: no HOME config, no KUBECONFIG, a PATH. */
const baseEnv = (home: string): Record<string, string> => ({ PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: home })

describe("the production bundle", () => {
  it.live("is one ES module of production dependencies that runs without node_modules", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("api-controller-bundle-")
      const out = join(dir, "dist")
      const result = yield* Effect.promise(() => bundle(out))
      assert.deepStrictEqual(readdirSync(out).sort(), ["main.js", "main.js.map", "package.json"])
      for (const p of ["effect@", "@kubernetes/client-node@", "xstate@", "@effect/platform-node@"]) {
        assert.isTrue(result.packages.some((x) => x.startsWith(p)), `${p} is bundled`)
      }
      for (const dev of ["vitest@", "typescript@", "tsx@", "esbuild@", "@effect/vitest@"]) {
        assert.isFalse(result.packages.some((x) => x.startsWith(dev)), `${dev} stays out`)
      }

      const help = yield* start(result.main, ["run", "--help"], baseEnv(dir), dir)
      assert.strictEqual(yield* waitExit(help, 20_000), 0, help.stderr())
      for (const flag of ["--leader-elect", "--health-port", "--kubeconfig"]) assert.include(help.stdout(), flag)

      // Without its configuration it refuses to start, one line per missing variable, exit code 2.
      const bare = yield* start(result.main, ["run"], baseEnv(dir), dir)
      assert.strictEqual(yield* waitExit(bare, 20_000), 2, bare.stderr())
      for (const v of ["DOMAIN_NAME", "GATEWAY_FQDN", "DEFAULT_ISSUER", "DEFAULT_JWKS_URI"]) assert.include(bare.stderr(), v)
    }).pipe(Effect.scoped), 60_000)

  it.live("started as the Deployment starts it, it reaches /readyz on the real API server and serves /metrics", () =>
    Effect.gen(function*() {
      const ns = yield* testNamespace("deploy-bundle")
      const dir = yield* tempDir("api-controller-bundle-")
      const result = yield* Effect.promise(() => bundle(join(dir, "dist")))
      const port = yield* Effect.promise(freePort)
      const container = deploymentContainer()
      // The container's own arguments, with a free port on loopback instead of 8081 on every
      // interface, and the test's kubeconfig in place of the mounted service account
      // (test/cluster/DeployRbac.test.ts covers that path).
      const args = [
        ...container.args.map((a) =>
          a.startsWith("--health-port=") ? `--health-port=${port}` : a.startsWith("--health-host=") ? "--health-host=127.0.0.1" : a
        ),
        "--kubeconfig",
        kubeconfigPath()
      ]
      assert.include(args, "--leader-elect")
      // The ConfigMap's environment and the container's own (NODE_OPTIONS: the V8 sizing).
      const env = { ...baseEnv(dir), ...configMapLiterals(), ...containerLiteralEnv(), POD_NAME: "bundle-test", POD_NAMESPACE: ns }
      const run = yield* start(result.main, args, env, dir)

      const get = (path: string) =>
        Effect.promise(() =>
          fetch(`http://127.0.0.1:${port}${path}`).then(async (r) => ({ status: r.status, body: await r.text() }), () => undefined)
        )
      let ready = false
      for (let i = 0; i < 300 && !ready; i++) {
        if (run.child.exitCode !== null) break
        ready = (yield* get("/readyz"))?.status === 200
        if (!ready) yield* Effect.sleep("100 millis")
      }
      assert.isTrue(ready, `never ready; exit ${run.child.exitCode}; stderr:\n${run.stderr()}\nstdout:\n${run.stdout().slice(-2000)}`)
      assert.strictEqual((yield* get("/healthz"))?.status, 200)
      assert.include((yield* get("/metrics"))?.body ?? "", "api_controller_")

      // It took the Lease in its namespace (POD_NAMESPACE), under its POD_NAME.
      const kube = yield* KubeApi
      let holder: string | undefined
      for (let i = 0; i < 100 && holder === undefined; i++) {
        const lease = yield* Effect.option(kube.get(Kinds.Lease, ns, "api-controller"))
        holder = Option.isSome(lease) ? (lease.value["spec"] as { holderIdentity?: string }).holderIdentity || undefined : undefined
        if (holder === undefined) yield* Effect.sleep("100 millis")
      }
      assert.match(holder ?? "", /^bundle-test_/)

      // JSON logs, one object per line (--log-format=json from the container's arguments).
      const lines = run.stdout().trim().split("\n").filter((l) => l.startsWith("{"))
      assert.isAbove(lines.length, 0, run.stdout())
      for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), l)

      // SIGTERM (what the kubelet sends) stops it within the grace period.
      run.child.kill("SIGTERM")
      assert.notStrictEqual(yield* waitExit(run, 15_000), "timeout", "still running 15 s after SIGTERM")
    }).pipe(Effect.scoped, Effect.provide(liveKubeApi())), 90_000)
})
