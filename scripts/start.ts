/**
 * `npm start`: api-controller end to end.
 *
 * With a kubeconfig (`--kubeconfig`, $KUBECONFIG or ~/.kube/config) it runs against that
 * cluster. Without one it builds kube-apiserver + etcd from Go modules (cached in .bin/),
 * starts them on 127.0.0.1 and installs the CRDs. Then it runs the controller in this process,
 * applies the samples from deploy/samples/ (Services and Apis) into the `demo` namespace, prints the Apis'
 * status as the controller moves them along, with the live web view on 127.0.0.1 (`--web-port`
 * to choose its port). It keeps running (Ctrl-C stops everything it
 * started) unless `--exit` is given, in which case it exits once the samples have settled:
 * 0 if every sample reached the state it documents, 1 if not.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Context, Duration, Effect, Layer, Result, Schedule } from "effect"
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { parseAllDocuments } from "yaml"
import { parseControllerConfig } from "../src/domain/ControllerConfig.ts"
import { Kinds, type KubeObject, type ResourceKind } from "../src/domain/Kube.ts"
import { KubeApi } from "../src/k8s/KubeApi.ts"
import { KubeApiLive } from "../src/k8s/KubeApiLive.ts"
import { appWith } from "../src/runtime/App.ts"
import { table } from "../src/cli/DescribeText.ts"
import { HealthServer } from "../src/runtime/HealthServer.ts"
import { apiView, machineColumns, type MachineName } from "../src/visual/ApiView.ts"
import { WebView } from "../src/web/WebView.ts"
import * as Logging from "../src/runtime/Logging.ts"
import { DEFAULT_CRDS, startControlPlane } from "./lib/ControlPlane.ts"
import { REPO_ROOT } from "./lib/RepoRoot.ts"

const args = process.argv.slice(2)
const flag = (name: string) => args.includes(`--${name}`)
const option = (name: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : undefined
}

const NAMESPACE = option("namespace") ?? "demo"

/** The controller configuration for the demo: the environment wins, the Kyma defaults fill in. */
const demoEnv = {
  DOMAIN_NAME: "kyma.local",
  GATEWAY_FQDN: "kyma-gateway.kyma-system.svc.cluster.local",
  DEFAULT_ISSUER: "https://dex.kyma.local",
  DEFAULT_JWKS_URI: "http://dex-service.kyma-system.svc.cluster.local:5556/keys",
  BLACKLISTED_SERVICES: "kubernetes.default",
  ...process.env
}

/** What each sample documents about itself (deploy/samples/*.yaml comments): a status code per machine (absent: 0; left out: any). */
const expected: Record<string, Partial<Record<MachineName, number>>> = {
  httpbin: { validation: 2, virtualService: 2 },
  orders: { validation: 2, virtualService: 2, authentication: 2 },
  billing: { validation: 2, virtualService: 2, authentication: 2 },
  "orders-copy": { validation: 5, virtualService: 0 },
  "wrong-domain": { validation: 3, virtualService: 0 }
}

const log = (line: string) => console.log(`[start] ${line}`)

const existingKubeconfig = (): string | undefined => {
  const explicit = option("kubeconfig") ?? process.env["KUBECONFIG"]
  if (explicit !== undefined && explicit !== "") return explicit
  const home = join(homedir(), ".kube", "config")
  return existsSync(home) ? home : undefined
}

const samples = (): ReadonlyArray<KubeObject> =>
  ["services.yaml", "apis.yaml", "problems.yaml"].flatMap((file) =>
    parseAllDocuments(readFileSync(join(REPO_ROOT, "deploy/samples", file), "utf8"))
      .map((d) => d.toJS() as KubeObject | null)
      .filter((o): o is KubeObject => o !== null)
      .map((o) => ({ ...o, metadata: { ...o.metadata, namespace: NAMESPACE } }))
  )

const CRD: ResourceKind = {
  group: "apiextensions.k8s.io",
  version: "v1",
  kind: "CustomResourceDefinition",
  plural: "customresourcedefinitions",
  namespaced: false
}

/** On a cluster of the user's: create the CRDs it lacks (never replace ones it has), wait until served. */
const installMissingCrds = Effect.fn("start.installMissingCrds")(function*(kube: KubeApi["Service"]) {
  const crds = DEFAULT_CRDS.flatMap((file) =>
    parseAllDocuments(readFileSync(file, "utf8")).map((d) => d.toJS() as KubeObject | null).filter((o): o is KubeObject =>
      o?.kind === "CustomResourceDefinition"
    )
  )
  for (const crd of crds) {
    const found = yield* Effect.result(kube.get(CRD, "", crd.metadata.name))
    if (found._tag === "Success") continue
    if (found.failure.reason !== "NotFound") return yield* Effect.fail(found.failure)
    yield* kube.create(CRD, crd)
    log(`installed CRD ${crd.metadata.name}`)
    yield* Effect.repeat(
      Effect.map(kube.get(CRD, "", crd.metadata.name), (o) =>
        ((o["status"] as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? [])
          .some((c) => c.type === "Established" && c.status === "True")),
      { until: (established) => established, schedule: Schedule.spaced("200 millis") }
    )
  }
})

/** The Apis' status as one line each: a column per machine, headed and ordered by the catalog. */
const statusTable = (apis: ReadonlyArray<KubeObject>): string => {
  const rows = apis.map(apiView).map((v) => {
    const problem = v.machines.map((m) => m.lastError).find((e) => e !== undefined) ?? ""
    return [
      v.name,
      v.spec.hostname,
      v.spec.service.split(":")[0] ?? "",
      ...v.machines.map((m) => (m.off ? "off" : String(m.code ?? "-"))),
      v.ready !== undefined ? `${v.ready.status} ${v.ready.reason}` : "-",
      problem.length > 90 ? `${problem.slice(0, 87)}...` : problem
    ]
  })
  return table(["API", "HOSTNAME", "SERVICE", ...machineColumns.map((c) => c.title.toUpperCase()), "READY", "LAST ERROR"], rows, "")
}

const settledAsDocumented = (apis: ReadonlyArray<KubeObject>) =>
  apis.every((a) => {
    const want = expected[a.metadata.name]
    return want === undefined || apiView(a).machines.every((m) => want[m.machine] === undefined || (m.code ?? 0) === want[m.machine])
  })

const program = Effect.gen(function*() {
  const config = parseControllerConfig(demoEnv)
  if (Result.isFailure(config)) {
    return yield* Effect.fail(new Error(config.failure.map((p) => `${p.path}: ${p.message}`).join("\n")))
  }

  // 1. A cluster: the one the kubeconfig names, or a local control plane.
  let kubeconfigPath = existingKubeconfig()
  if (kubeconfigPath !== undefined) {
    log(`using the cluster of ${kubeconfigPath}; installing the CRDs it lacks`)
    yield* Effect.flatMap(Effect.provide(Effect.service(KubeApi), KubeApiLive.layer({ kubeconfigPath })), installMissingCrds)
  } else {
    log("no kubeconfig: building (if needed) and starting a local kube-apiserver + etcd")
    execFileSync(join(REPO_ROOT, "scripts/build-control-plane.sh"), ["--no-istioctl"], { stdio: "inherit" })
    const cp = yield* Effect.acquireRelease(
      Effect.promise(() => startControlPlane({ log })),
      (cp) => Effect.promise(() => cp.stop()).pipe(Effect.andThen(Effect.sync(() => log("control plane stopped"))))
    )
    kubeconfigPath = cp.kubeconfigPath
    log(`control plane up in ${(cp.timings.totalMs / 1000).toFixed(1)}s at ${cp.server}`)
  }
  log(`try: kubectl --kubeconfig ${kubeconfigPath} get apis -n ${NAMESPACE} -o wide`)

  // 2. The controller, in this process, exactly as `api-controller run` builds it.
  const kube = KubeApiLive.layer({ kubeconfigPath })
  const app = yield* Layer.build(appWith(kube, {
    config: config.success,
    controller: { workers: 2, resyncPeriod: Duration.minutes(10) },
    health: { host: "127.0.0.1", port: 0 },
    web: { host: "127.0.0.1", port: Number(option("web-port") ?? 0) }
  }).pipe(Layer.provide(Logging.layer({ format: "pretty", level: flag("verbose") ? "Debug" : "Warn" }))))
  const health = Context.get(app, HealthServer)
  log(`controller running; health and metrics at ${health.url}/healthz and ${health.url}/metrics`)
  // The web view announces itself at INFO ("web view at ..."), which --verbose shows: say it here only otherwise.
  if (!flag("verbose")) log(`live web view of the Apis at ${Context.get(app, WebView).url}/`)

  // 3. The samples.
  const api = yield* Effect.provide(Effect.service(KubeApi), kube)
  yield* api.create(Kinds.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } }).pipe(
    Effect.catchIf((e) => e.reason === "AlreadyExists", () => Effect.void)
  )
  for (const sample of samples()) {
    const kind = sample.kind === "Service" ? Kinds.Service : Kinds.Api
    const created = yield* Effect.result(api.create(kind, sample))
    if (created._tag === "Failure") {
      log(`${sample.kind} ${sample.metadata.name}: ${created.failure.reason === "AlreadyExists" ? "already there" : created.failure.message}`)
    } else log(`applied ${sample.kind} ${NAMESPACE}/${sample.metadata.name}`)
  }

  // 4. Watch the statuses move.
  let last = ""
  const started = Date.now()
  const timeout = Duration.toMillis(Duration.seconds(Number(option("timeout") ?? 60)))
  while (true) {
    const apis = (yield* api.list(Kinds.Api, { namespace: NAMESPACE })).items
    const now = statusTable(apis)
    if (now !== last) {
      console.log(`\n${now}\n`)
      last = now
    }
    const done = settledAsDocumented(apis)
    if (flag("exit") && (done || Date.now() - started > timeout)) {
      log(done ? "every sample reached the state it documents" : "timed out before the samples settled as documented")
      if (!done) process.exitCode = 1
      return
    }
    yield* Effect.sleep(Duration.millis(500))
  }
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
