/**
 * Istio's own verdict on Kubernetes objects: `istioctl analyze`, built from the istio.io/istio
 * module pinned in tools/istio/go.mod into `.bin/istioctl` (scripts/build-control-plane.sh).
 * analyze runs, per object, the validation istiod's admission webhook runs
 * (istio.io/istio/pkg/config/validation: errors IST0106, warnings IST0133) and then Istio's
 * analyzers across objects (a gateway or host that does not exist, a selector that matches no
 * workload, ...).
 *
 *   analyzeObjects(objects)                          the objects alone (no cluster)
 *   analyzeObjects(objects, { kubeconfig })          the objects on top of a live cluster's state
 *   analyzeCluster({ kubeconfig, namespace })        what is stored in the cluster
 *
 * The objects are passed as files, so they skip the API server's CRD schema; create them in a
 * cluster with Istio's CRDs (scripts/lib/IstioCrds.ts) to check that part too.
 *
 * istioctl silently skips documents of kinds or versions it does not know (a typo in apiVersion
 * would read as "no findings"), so `analyzeObjects` sorts its input: `report.unchecked` lists the
 * objects Istio never looked at.
 *
 * istioctl: `$ISTIOCTL` if set, else `.bin/istioctl`.
 */
import { REPO_ROOT } from "../../scripts/lib/RepoRoot.ts"
import { assert } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { ALL_AUTHENTICATION_KINDS } from "../../src/plan/Backends.ts"
import { Kinds, type KubeObject, type ResourceKind } from "../../src/domain/Kube.ts"
import { KubeApi, type KubeApiError } from "../../src/k8s/KubeApi.ts"
import { LABELS } from "../../src/plan/Ownership.ts"
import { kubeconfigPath } from "./ClusterTest.ts"
import { testConfig } from "./Fixtures.ts"
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { stringify } from "yaml"


export const istioctlBinary = (): string => {
  const explicit = process.env["ISTIOCTL"]
  return explicit !== undefined && explicit !== "" ? explicit : join(REPO_ROOT, ".bin", "istioctl")
}

/** One message of `istioctl analyze -o json`. */
const AnalyzeMessage = Schema.Struct({
  code: Schema.String,
  level: Schema.Literals(["Error", "Warning", "Info"]),
  message: Schema.String,
  origin: Schema.optionalKey(Schema.String),
  reference: Schema.optionalKey(Schema.String),
  documentationUrl: Schema.optionalKey(Schema.String)
})
const AnalyzeOutput = Schema.fromJsonString(Schema.Array(AnalyzeMessage))

/** Which object a finding is about, as `kind namespace/name` (cluster-scoped: no namespace). */
export interface ObjectRef {
  readonly kind: string
  readonly namespace?: string
  readonly name: string
}

export interface IstioFinding {
  /** Istio's message code, e.g. `IST0106` (schema validation error); see istio.io "Configuration Analysis Messages". */
  readonly code: string
  readonly level: "Error" | "Warning" | "Info"
  readonly message: string
  /** The object it is about, when Istio names one. */
  readonly object?: ObjectRef
  /** `file:line` of the object when it came from a file. */
  readonly reference?: string
}

export interface IstioReport {
  readonly findings: ReadonlyArray<IstioFinding>
  /** Objects handed in that istioctl does not analyze (unknown kind or version): no verdict on them. */
  readonly unchecked: ReadonlyArray<ObjectRef>
}

export class IstioCheckError extends Schema.TaggedError<IstioCheckError>()("IstioCheckError", {
  /** `NotBuilt`: no istioctl; `Failed`: it exited non-zero; `Rejected`: it refused the input; `BadOutput`: undecodable. */
  reason: Schema.Literals(["NotBuilt", "Failed", "Rejected", "BadOutput"]),
  args: Schema.Array(Schema.String),
  detail: Schema.String
}) {
  override get message(): string {
    return `istioctl ${this.args.join(" ")}: ${this.reason}: ${this.detail}`
  }
}

/** A Kubernetes object as far as the checker cares. */
export interface KubeObjectLike {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata: { readonly name: string; readonly namespace?: string }
}

/**
 * The kinds and versions istioctl analyze reads from files: Istio's CRD kinds at every version
 * their CRDs serve, and the Kubernetes kinds its analyzers use. Anything else is skipped by it.
 */
const ANALYZED: Readonly<Record<string, ReadonlyArray<string>>> = {
  "networking.istio.io/v1": ["VirtualService", "Gateway", "DestinationRule", "ServiceEntry", "Sidecar", "WorkloadEntry", "WorkloadGroup"],
  "networking.istio.io/v1beta1": ["VirtualService", "Gateway", "DestinationRule", "ServiceEntry", "Sidecar", "WorkloadEntry", "WorkloadGroup"],
  "networking.istio.io/v1alpha3": ["VirtualService", "Gateway", "DestinationRule", "ServiceEntry", "Sidecar", "WorkloadEntry", "WorkloadGroup", "EnvoyFilter"],
  "security.istio.io/v1": ["RequestAuthentication", "AuthorizationPolicy", "PeerAuthentication"],
  "security.istio.io/v1beta1": ["RequestAuthentication", "AuthorizationPolicy", "PeerAuthentication"],
  "v1": ["Namespace", "Service", "Pod", "ConfigMap", "Secret"],
  "apps/v1": ["Deployment"]
}

export const isAnalyzed = (o: KubeObjectLike): boolean => ANALYZED[o.apiVersion]?.includes(o.kind) ?? false

export const refOf = (o: KubeObjectLike): ObjectRef => ({
  kind: o.kind,
  name: o.metadata.name,
  ...(o.metadata.namespace !== undefined ? { namespace: o.metadata.namespace } : {})
})

/** `VirtualService shop/orders` or `Namespace default`. */
const parseOrigin = (origin: string): ObjectRef | undefined => {
  const m = /^(\S+) (?:([^/\s]+)\/)?(\S+)$/.exec(origin)
  if (m === null) return undefined
  return { kind: m[1]!, name: m[3]!, ...(m[2] !== undefined ? { namespace: m[2] } : {}) }
}

const sameObject = (a: ObjectRef, b: ObjectRef) =>
  a.kind === b.kind && a.name === b.name && (a.namespace ?? "") === (b.namespace ?? "")

/** The findings about one object. */
export const findingsFor = (report: IstioReport, object: ObjectRef | KubeObjectLike): ReadonlyArray<IstioFinding> => {
  const ref = "metadata" in object ? refOf(object) : object
  return report.findings.filter((f) => f.object !== undefined && sameObject(f.object, ref))
}

export const errorsIn = (findings: ReadonlyArray<IstioFinding>) => findings.filter((f) => f.level === "Error")
export const warningsIn = (findings: ReadonlyArray<IstioFinding>) => findings.filter((f) => f.level === "Warning")

/** One line per finding, for assertion messages. */
export const describeFindings = (findings: ReadonlyArray<IstioFinding>): string =>
  findings.length === 0
    ? "(no findings)"
    : findings
      .map((f) => {
        const o = f.object
        const where = o === undefined ? "" : ` ${o.kind} ${o.namespace !== undefined ? `${o.namespace}/` : ""}${o.name}`
        return `${f.level} ${f.code}${where}: ${f.message}`
      })
      .join("\n")

const execIstioctl = (args: ReadonlyArray<string>) =>
  Effect.callback<{ readonly stdout: string; readonly stderr: string }, IstioCheckError>((resume) => {
    execFile(istioctlBinary(), args, { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error !== null) {
        const code = (error as { code?: number | string }).code ?? "error"
        resume(Effect.fail(new IstioCheckError({ reason: "Failed", args, detail: `exit ${code}: ${stderr}${error.message}` })))
      } else resume(Effect.succeed({ stdout, stderr }))
    })
  })

/**
 * Runs `istioctl analyze -o json <args>`. With JSON output istioctl exits 0 whatever it found, and
 * only says on stderr that it dropped an input file or a namespace does not exist: both fail here.
 */
const analyze = Effect.fn("IstioCheck.analyze")(function*(args: ReadonlyArray<string>) {
  const binary = istioctlBinary()
  const full = ["analyze", "-o", "json", ...args]
  if (!existsSync(binary) && binary.includes("/")) {
    return yield* new IstioCheckError({ reason: "NotBuilt", args: full, detail: `${binary} is missing: run scripts/build-control-plane.sh` })
  }
  const { stdout, stderr } = yield* execIstioctl(full)
  const refused = stderr.split("\n").filter((l) =>
    /Error\(s\) adding files|could not be parsed|error processing|namespace ".*" not found/.test(l)
  )
  if (refused.length > 0) {
    return yield* new IstioCheckError({ reason: "Rejected", args: full, detail: stderr.trim() })
  }
  const messages = yield* Schema.decodeUnknownEffect(AnalyzeOutput)(stdout).pipe(
    Effect.mapError((e) => new IstioCheckError({ reason: "BadOutput", args: full, detail: `${e.message}\n${stdout}` }))
  )
  return messages.map((m): IstioFinding => {
    const object = m.origin !== undefined ? parseOrigin(m.origin) : undefined
    return {
      code: m.code,
      level: m.level,
      message: m.message,
      ...(object !== undefined ? { object } : {}),
      ...(m.reference !== undefined ? { reference: m.reference } : {})
    }
  })
})

export interface AnalyzeOptions {
  /** Analyze on top of this cluster's state (its Services, Pods, Gateways, other Istio objects). Default: the objects alone. */
  readonly kubeconfig?: string
  /** Report on this namespace only; default all namespaces. */
  readonly namespace?: string
}

const scopeArgs = (namespace: string | undefined) => (namespace !== undefined ? ["-n", namespace] : ["-A"])

/**
 * Istio's findings on `objects` (each with its namespace set). With `kubeconfig`, the objects are
 * laid over what the cluster holds (a file object replaces a stored one of the same name).
 */
export const analyzeObjects = Effect.fn("IstioCheck.analyzeObjects")(function*(
  objects: ReadonlyArray<KubeObjectLike>,
  options: AnalyzeOptions = {}
) {
  const unchecked = objects.filter((o) => !isAnalyzed(o)).map(refOf)
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "istio-check-"))),
    (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
  )
  const file = join(dir, "objects.yaml")
  writeFileSync(file, objects.map((o) => stringify(o)).join("---\n"))
  const cluster = options.kubeconfig !== undefined ? ["--kubeconfig", options.kubeconfig] : ["--use-kube=false"]
  const findings = yield* analyze([...cluster, ...scopeArgs(options.namespace), file])
  return { findings, unchecked } satisfies IstioReport
}, Effect.scoped)

/** Istio's findings on what a live cluster stores (one namespace, or all). */
export const analyzeCluster = Effect.fn("IstioCheck.analyzeCluster")(function*(options: {
  readonly kubeconfig: string
  readonly namespace?: string
}) {
  const findings = yield* analyze(["--kubeconfig", options.kubeconfig, ...scopeArgs(options.namespace)])
  return { findings, unchecked: [] } satisfies IstioReport
})

// ---------------------------------------------------------------------------------------------
// on the cluster tier's control plane

const Gateway: ResourceKind = { group: "networking.istio.io", version: "v1", kind: "Gateway", plural: "gateways", namespaced: true }
const Pod: ResourceKind = { group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true }

/** The ingress gateway GATEWAY_FQDN (kyma-gateway.kyma-system.svc.cluster.local) names, serving the domain. */
export const ensureGateway = Effect.gen(function*() {
  const kube = yield* KubeApi
  const ignoreExisting = <A>(created: Effect.Effect<A, KubeApiError>) =>
    Effect.asVoid(Effect.catchIf(created, (e) => e.reason === "AlreadyExists", () => Effect.void))
  yield* ignoreExisting(kube.create(Kinds.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name: "kyma-system" } }))
  yield* ignoreExisting(kube.create(Gateway, {
    apiVersion: "networking.istio.io/v1",
    kind: "Gateway",
    metadata: { name: "kyma-gateway", namespace: "kyma-system" },
    spec: {
      selector: { istio: "ingressgateway" },
      servers: [{ port: { number: 443, name: "https", protocol: "HTTPS" }, tls: { mode: "SIMPLE", credentialName: "kyma-gateway-certs" }, hosts: [`*.${testConfig.domainName}`] }]
    }
  }))
})

/**
 * Our children in `namespace` pass Istio's validation and analyzers without a finding, with the
 * surroundings a mesh would have: a Pod for every workload they select (the namespace labelled
 * for injection by its creator) and the ingress Gateway (`ensureGateway`).
 */
export const istioAcceptsWhatWeWrote = (namespace: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const ours: Array<KubeObject> = []
    for (const kind of [Kinds.VirtualServiceV1, ...ALL_AUTHENTICATION_KINDS.filter((k) => k.group === "security.istio.io")]) {
      const listed = yield* kube.list(kind, { namespace, labelSelector: `${LABELS.createdBy}=api-controller` })
      ours.push(...listed.items)
    }
    if (ours.length === 0) return
    // A mesh has a workload behind every selector: one Pod each, in this injection-labelled namespace.
    const selectors = new Map(ours.flatMap((o) => {
      const labels = (o["spec"] as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels
      return labels !== undefined ? [[JSON.stringify(labels), labels] as const] : []
    }))
    let n = 0
    for (const labels of selectors.values()) {
      yield* kube.create(Pod, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `workload-${n++}`, namespace, labels },
        spec: { containers: [{ name: "app", image: "app:1" }] }
      })
    }
    const report = yield* analyzeCluster({ kubeconfig: kubeconfigPath(), namespace })
    for (const o of ours) {
      const findings = findingsFor(report, o)
      assert.deepStrictEqual(findings, [], `${o.kind} ${namespace}/${o.metadata.name}:\n${describeFindings(findings)}`)
    }
  })
