/**
 * `api-controller plan`: what the controller would do, against the live cluster, before anything
 * is applied: per Api the status it would get, the children it would create, update or delete
 * (diffs against the live objects), the conflicts it would hit and, for authenticated Apis, what
 * their authentication would allow. Read-only by construction (src/preview/ReadOnlyKubeApi.ts);
 * the decision is the controller's own (src/preview/Prediction.ts).
 *
 * Configuration is the controller's: the environment `run` reads, through the same Schema
 * (`ControllerEnv`, the environment part of `run`'s `RunInput`), with `--backend` in place of
 * `AUTH_BACKEND`; `run`'s other flags (workers, ports, leader election) decide nothing a plan shows.
 *
 * Exit code: 0 when every planned Api would be Ready, 2 when some would not, 1 on error.
 */
import { Console, Data, Effect, FileSystem, type Layer, Option, References, Result } from "effect"
import { Flag } from "effect/cli"
import { ENV, type Env, parseControllerConfig } from "../domain/ControllerConfig.ts"
import { formatProblem } from "../domain/Problems.ts"
import type { KubeApi } from "../k8s/KubeApi.ts"
import { KubeApiLive } from "../k8s/KubeApiLive.ts"
import { apisOf, type ManifestFile } from "../preview/Manifests.ts"
import { encodeReport, exitCodeOf } from "../preview/PlanReport.ts"
import { planText } from "../preview/PlanText.ts"
import { predict } from "../preview/Prediction.ts"
import { readOnly } from "../preview/ReadOnlyKubeApi.ts"
import { terminalSafe } from "./DescribeText.ts"

export const planFlags = {
  filename: Flag.String("filename").pipe(
    Flag.withAlias("f"),
    Flag.withDescription("Api manifests (a YAML or JSON file, or a directory of them; repeatable), planned on top of the cluster. Other kinds are left out with a note."),
    Flag.between(0, 1000)
  ),
  delete: Flag.Boolean("delete").pipe(
    Flag.withDescription("Plan the deletion of the -f Apis instead (their children go by garbage collection)."),
    Flag.withDefault(false)
  ),
  all: Flag.Boolean("all").pipe(
    Flag.withDescription("Plan every Api in the cluster (in -n's namespace, when given)."),
    Flag.withDefault(false)
  ),
  namespace: Flag.String("namespace").pipe(
    Flag.withAlias("n"),
    Flag.withDescription("With --all: only this namespace's Apis. With -f: the namespace of manifests that name none (default: default)."),
    Flag.optional
  ),
  backend: Flag.Literals("backend", ["istio-security", "istio-policy"]).pipe(
    Flag.withDescription("Plan with this authentication backend instead of AUTH_BACKEND (default: as `run` chooses it)."),
    Flag.optional
  ),
  output: Flag.Literals("output", ["text", "json"]).pipe(
    Flag.withAlias("o"),
    Flag.withDescription("text for people (default); json for machines (format api-controller.kyma-project.io/plan/v1)."),
    Flag.withDefault("text" as const)
  ),
  kubeconfig: Flag.String("kubeconfig").pipe(
    Flag.withDescription("Path to a kubeconfig. Default: $KUBECONFIG, then ~/.kube/config, then the in-cluster service account."),
    Flag.optional
  )
} as const

export interface PlanFlags {
  readonly filename: ReadonlyArray<string>
  readonly delete: boolean
  readonly all: boolean
  readonly namespace: Option.Option<string>
  readonly backend: Option.Option<"istio-security" | "istio-policy">
  readonly output: "text" | "json"
  readonly kubeconfig: Option.Option<string>
}

/** What a run of the command prints, and how it ends. */
export interface PlanOutcome {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: 0 | 1 | 2
}

class PlanError extends Data.TaggedError("PlanError")<{ readonly lines: ReadonlyArray<string> }> {}

const MANIFEST_EXTENSIONS = /\.(ya?ml|json)$/i

/** The files `-f` names: a file as given, a directory's YAML and JSON files (not recursively), sorted. */
const readManifests = (paths: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const files: Array<ManifestFile> = []
    for (const path of paths) {
      const info = yield* fs.stat(path).pipe(Effect.mapError(() => new PlanError({ lines: [`-f ${path}: no such file or directory`] })))
      const names = info.type === "Directory"
        ? (yield* Effect.orDie(fs.readDirectory(path))).filter((n) => MANIFEST_EXTENSIONS.test(n)).sort().map((n) => `${path.replace(/\/+$/, "")}/${n}`)
        : [path]
      for (const name of names) {
        const text = yield* fs.readFileString(name).pipe(Effect.mapError((e) => new PlanError({ lines: [`-f ${name}: ${e.message}`] })))
        files.push({ path: name, text })
      }
    }
    return files
  })

/**
 * The command, given its flags, environment and a `KubeApi` to read with (made read-only here):
 * what it prints and its exit code. `runPlan` prints them; tests look at them.
 */
export const planOutcome = <E>(flags: PlanFlags, env: Env, kube: Layer.Layer<KubeApi, E>): Effect.Effect<PlanOutcome, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const namespace = Option.getOrUndefined(flags.namespace)
    const backend = Option.getOrUndefined(flags.backend)
    const usage: Array<string> = []
    if (flags.filename.length === 0 && !flags.all) usage.push("give -f <file or directory> (Apis to plan on top of the cluster) or --all (every Api in the cluster)")
    if (flags.delete && flags.filename.length === 0) usage.push("--delete plans the deletion of the -f Apis: give -f")
    if (usage.length > 0) return yield* new PlanError({ lines: usage })

    // The controller's environment, through the same Schema as `run`; --backend stands for AUTH_BACKEND.
    const config = parseControllerConfig(backend !== undefined ? { ...env, [ENV.authBackend]: backend } : env)
    if (Result.isFailure(config)) return yield* new PlanError({ lines: config.failure.map(formatProblem) })

    const manifests = apisOf(yield* readManifests(flags.filename), namespace)
    if (manifests.problems.length > 0) return yield* new PlanError({ lines: manifests.problems })

    const report = yield* predict({
      config: config.success,
      manifests: manifests.apis,
      files: flags.filename,
      delete: flags.delete,
      all: flags.all,
      namespace,
      notes: manifests.notes
    }).pipe(
      Effect.provide(readOnly),
      Effect.provide(kube),
      Effect.mapError((e) => new PlanError({ lines: [typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e)] }))
    )
    // The backend as the command line chose it; the settings' own reason (AUTH_BACKEND=...) is what the
    // controller run with that backend would say, and stays in the predicted messages.
    const shown = backend !== undefined ? { ...report, backend: { ...report.backend, reason: `--backend ${backend}` } } : report
    const stdout = flags.output === "json" ? encodeReport(shown) : planText(shown)
    return { stdout, stderr: "", exitCode: exitCodeOf(shown) } satisfies PlanOutcome
  }).pipe(
    Effect.catchTag("PlanError", (e) =>
      Effect.succeed<PlanOutcome>({
        stdout: "",
        stderr: `api-controller plan: ${e.lines.length === 1 ? terminalSafe(e.lines[0]) : "cannot plan:"}\n` +
          (e.lines.length === 1 ? "" : e.lines.map((l) => `  ${terminalSafe(l)}\n`).join("")),
        exitCode: 1
      })
    ),
    // Discovery logs a warning for a backend the cluster does not serve; the report says so in its
    // notes, and stdout stays the report alone (-o json is parsed).
    Effect.provideService(References.MinimumLogLevel, "None")
  )

export const runPlan = Effect.fn("cli.plan")(function*(flags: PlanFlags) {
  const kubeconfigPath = Option.getOrUndefined(flags.kubeconfig)
  const fs = yield* FileSystem.FileSystem
  // A kubeconfig named on the command line that is not there: say so, not how the client failed to open it.
  if (kubeconfigPath !== undefined && !(yield* Effect.orElseSucceed(fs.exists(kubeconfigPath), () => false))) {
    yield* Console.error(`api-controller plan: no kubeconfig at ${terminalSafe(kubeconfigPath)}`)
    process.exitCode = 1
    return
  }
  const outcome = yield* planOutcome(flags, process.env, KubeApiLive.layer(kubeconfigPath !== undefined ? { kubeconfigPath } : {}))
  if (outcome.stdout !== "") yield* Effect.sync(() => process.stdout.write(outcome.stdout))
  if (outcome.stderr !== "") yield* Effect.sync(() => process.stderr.write(outcome.stderr))
  process.exitCode = outcome.exitCode
})
