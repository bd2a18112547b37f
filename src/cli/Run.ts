/**
 * `api-controller run`: the controller, against the cluster the kubeconfig names (flag,
 * then KUBECONFIG or ~/.kube/config, then the in-cluster service account). Configuration
 * comes from the environment (SPEC 9) and flags; every problem is reported, one line each,
 * before anything starts.
 */
import { Duration, Effect, Layer, Option, Result } from "effect"
import { Flag } from "effect/cli"
import { hostname } from "node:os"
import { readFileSync } from "node:fs"
import { formatProblem } from "../domain/Problems.ts"
import { makeIdentity } from "../k8s/LeaderElection.ts"
import { KubeApiLive } from "../k8s/KubeApiLive.ts"
import { appWith } from "../runtime/App.ts"
import * as Logging from "../runtime/Logging.ts"
import { decodeRunConfig } from "./RunConfig.ts"
import { StartupError } from "./StartupError.ts"

const SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

const ownNamespace = (): string => {
  const fromEnv = process.env["POD_NAMESPACE"]?.trim()
  if (fromEnv) return fromEnv
  try {
    return readFileSync(SA_NAMESPACE_FILE, "utf8").trim() || "default"
  } catch {
    return "default"
  }
}

export const runFlags = {
  kubeconfig: Flag.String("kubeconfig").pipe(
    Flag.withDescription("Path to a kubeconfig. Default: $KUBECONFIG, then ~/.kube/config, then the in-cluster service account."),
    Flag.optional
  ),
  workers: Flag.Int("workers").pipe(
    Flag.withDescription("Apis reconciled in parallel, one pass at a time per Api (default 2)."),
    Flag.withDefault(2)
  ),
  resyncPeriod: Flag.String("resync-period").pipe(
    Flag.withDescription("Look at every Api again this often, events or not (default 10m)."),
    Flag.withDefault("10m")
  ),
  healthHost: Flag.String("health-host").pipe(
    Flag.withDescription("Address for /healthz, /readyz and /metrics (default 127.0.0.1; in a Pod pass 0.0.0.0 so the kubelet and Prometheus reach it)."),
    Flag.withDefault("127.0.0.1")
  ),
  healthPort: Flag.Int("health-port").pipe(
    Flag.withDescription("Port for /healthz, /readyz and /metrics; 0 picks a free port (default 8081)."),
    Flag.withDefault(8081)
  ),
  webPort: Flag.Int("web-port").pipe(
    Flag.withDescription("Serve the live web view (Apis, their machines and timelines) on this port; 0 picks a free one. Off unless given."),
    Flag.optional
  ),
  webHost: Flag.String("web-host").pipe(
    Flag.withDescription("Address for the web view (default 127.0.0.1: it shows every Api in the cluster, keep it local unless you mean it)."),
    Flag.withDefault("127.0.0.1")
  ),
  leaderElect: Flag.Boolean("leader-elect").pipe(
    Flag.withDescription("Run several replicas; only the holder of a Lease writes. Also LEADER_ELECT=true."),
    Flag.withDefault(false)
  ),
  leaderElectionNamespace: Flag.String("leader-election-namespace").pipe(
    Flag.withDescription("Namespace of the Lease. Default: $POD_NAMESPACE, else the service account's namespace, else default."),
    Flag.optional
  ),
  leaderElectionId: Flag.String("leader-election-id").pipe(
    Flag.withDescription("Name of the Lease (default api-controller)."),
    Flag.withDefault("api-controller")
  ),
  leaseDuration: Flag.String("lease-duration").pipe(
    Flag.withDescription("How long followers wait for a silent leader before taking over (default 15s)."),
    Flag.withDefault("15s")
  ),
  renewDeadline: Flag.String("renew-deadline").pipe(
    Flag.withDescription("How long the leader tries to renew before it stops writing (default 10s)."),
    Flag.withDefault("10s")
  ),
  retryPeriod: Flag.String("retry-period").pipe(
    Flag.withDescription("Pause between leader-election attempts (default 2s)."),
    Flag.withDefault("2s")
  ),
  logFormat: Flag.Literals("log-format", ["json", "pretty"]).pipe(
    Flag.withDescription("json: one object per line, for log collectors (default); pretty: for a terminal."),
    Flag.withDefault("json" as const)
  )
} as const

type RunFlags = {
  readonly [K in keyof typeof runFlags]: typeof runFlags[K] extends Flag.Flag<infer A> ? A : never
}

export const runController = Effect.fn("cli.run")(function*(flags: RunFlags) {
  // Flags and environment, decoded once: every problem, one line each, before anything starts.
  const decoded = decodeRunConfig(process.env, { ...flags, webPort: Option.getOrUndefined(flags.webPort) })
  if (Result.isFailure(decoded)) return yield* new StartupError({ problems: decoded.failure.map(formatProblem) })
  const run = decoded.success
  const webPort = run.webPort
  const leaderElect = run.leaderElect
  const [resync, lease, renew, retry] = [run.resyncMillis, run.leaseMillis, run.renewMillis, run.retryMillis]

  const identity = yield* makeIdentity(process.env["POD_NAME"]?.trim() || hostname())
  const kubeconfigPath = Option.getOrUndefined(flags.kubeconfig)
  const app = appWith(KubeApiLive.layer(kubeconfigPath !== undefined ? { kubeconfigPath } : {}), {
    config: run.config,
    controller: { workers: flags.workers, resyncPeriod: Duration.millis(resync) },
    health: { host: flags.healthHost, port: flags.healthPort, reachability: { probeNamespace: ownNamespace() } },
    ...(webPort !== undefined ? { web: { host: flags.webHost, port: webPort } } : {}),
    ...(leaderElect
      ? {
        leaderElection: {
          namespace: Option.getOrElse(flags.leaderElectionNamespace, ownNamespace),
          name: flags.leaderElectionId,
          identity,
          leaseDuration: Duration.millis(lease),
          renewDeadline: Duration.millis(renew),
          retryPeriod: Duration.millis(retry)
        }
      }
      : {})
  })
  const starting = Effect.logInfo("api-controller starting", {
    identity,
    domain: run.config.domainName,
    gateway: run.config.gatewayFqdn,
    leaderElection: leaderElect,
    workers: flags.workers
  })
  // The first line goes through the configured logger too (JSON in a Pod).
  return yield* starting.pipe(
    Effect.andThen(Layer.launch(app)),
    Effect.provide(Logging.layer({ format: flags.logFormat, level: run.config.logLevel }))
  )
})
