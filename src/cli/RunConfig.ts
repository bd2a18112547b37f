/**
 * Everything `api-controller run` is configured with, flags and environment together, as one
 * Schema decoded once: the controller's environment (SPEC 9, `ControllerEnv`), the flags that
 * need checking, and `LEADER_ELECT` as a fallback for `--leader-elect`. Every problem is reported,
 * one line each, by the same formatter as the Api's spec; nothing starts until there is none.
 */
import { Result, Schema, SchemaTransformation } from "effect"
import { type ControllerConfig, ControllerEnv, configOf, type Env, presentEnv } from "../domain/ControllerConfig.ts"
import { type Problem, problemsOf } from "../domain/Problems.ts"
import { leaseTimingProblems } from "../k8s/LeaderElection.ts"

/** `15s`, `2m`, `1h30m`, `500ms`, or plain seconds: the Go-style durations Kubernetes users know. */
export const parseDuration = (raw: string): number | undefined => {
  const s = raw.trim()
  if (/^\d+$/.test(s)) return Number(s) * 1000
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy
  let total = 0
  let matched = 0
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    const n = Number(m[1])
    total += m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : m[2] === "m" ? n * 60_000 : n * 3_600_000
    matched += m[0].length
  }
  return matched === s.length && matched > 0 ? total : undefined
}

/** A duration flag, decoded to milliseconds. */
const Millis = Schema.String.pipe(
  Schema.check(Schema.makeFilter((s: string) => (parseDuration(s) ?? 0) > 0, { expected: "a duration such as 30s, 10m or 1h" })),
  Schema.decodeTo(Schema.Number, SchemaTransformation.transform({ decode: (s: string) => parseDuration(s)!, encode: (ms: number) => `${ms}ms` }))
)

const Port = Schema.Int.pipe(Schema.check(Schema.makeFilter((n: number) => n >= 0 && n <= 65535, { expected: "0-65535" })))

const TRUE = /^(true|1|yes)$/i

export const RunInput = Schema.Struct({
  ...ControllerEnv.fields,
  "--workers": Schema.Int.pipe(Schema.check(Schema.makeFilter((n: number) => n >= 1, { expected: "at least 1" }))),
  "--resync-period": Millis,
  "--health-port": Port,
  "--web-port": Schema.optionalKey(Port),
  "--leader-elect": Schema.Boolean,
  LEADER_ELECT: Schema.optionalKey(Schema.String),
  "--lease-duration": Millis,
  "--renew-deadline": Millis,
  "--retry-period": Millis
}).pipe(Schema.check(Schema.makeFilter((r) => {
  const leaderElect = r["--leader-elect"] || TRUE.test(r.LEADER_ELECT ?? "")
  const problems = leaderElect ? leaseTimingProblems(r["--lease-duration"], r["--renew-deadline"], r["--retry-period"]) : []
  return problems.length === 0 || `--lease-duration, --renew-deadline, --retry-period: ${problems.join("; ")}`
})))

export interface RunConfig {
  readonly config: ControllerConfig
  readonly workers: number
  readonly resyncMillis: number
  readonly healthPort: number
  readonly webPort: number | undefined
  readonly leaderElect: boolean
  readonly leaseMillis: number
  readonly renewMillis: number
  readonly retryMillis: number
}

/** The raw flag values `run` was given, keyed as the user typed them. */
export interface RunFlagValues {
  readonly workers: number
  readonly resyncPeriod: string
  readonly healthPort: number
  readonly webPort: number | undefined
  readonly leaderElect: boolean
  readonly leaseDuration: string
  readonly renewDeadline: string
  readonly retryPeriod: string
}

const decodeRun = Schema.decodeUnknownResult(RunInput)

export const decodeRunConfig = (env: Env, flags: RunFlagValues): Result.Result<RunConfig, ReadonlyArray<Problem>> =>
  Result.map(
    Result.mapError(
      decodeRun({
        ...presentEnv(env),
        ...(env["LEADER_ELECT"] !== undefined ? { LEADER_ELECT: env["LEADER_ELECT"] } : {}),
        "--workers": flags.workers,
        "--resync-period": flags.resyncPeriod,
        "--health-port": flags.healthPort,
        ...(flags.webPort !== undefined ? { "--web-port": flags.webPort } : {}),
        "--leader-elect": flags.leaderElect,
        "--lease-duration": flags.leaseDuration,
        "--renew-deadline": flags.renewDeadline,
        "--retry-period": flags.retryPeriod
      }, { errors: "all", reportInput: true }),
      (e) => problemsOf(e.issue)
    ),
    (r) => ({
      config: configOf(r),
      workers: r["--workers"],
      resyncMillis: r["--resync-period"],
      healthPort: r["--health-port"],
      webPort: r["--web-port"],
      leaderElect: r["--leader-elect"] || TRUE.test(r.LEADER_ELECT ?? ""),
      leaseMillis: r["--lease-duration"],
      renewMillis: r["--renew-deadline"],
      retryMillis: r["--retry-period"]
    })
  )
