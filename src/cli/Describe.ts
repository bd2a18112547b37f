/**
 * `api-controller describe <namespace>/<name>`: one Api's lifecycle in a terminal. Reads the Api,
 * the VirtualService and the authentication children (of either backend) named after it, and the
 * Events on it, straight from the API server (no controller needed), and prints
 * `describeText` (DescribeText.ts), with the authentication backend the cluster serves.
 */
import { Clock, Console, Data, Effect, FileSystem, Option } from "effect"
import { Argument, Flag } from "effect/cli"
import { Kinds, type KubeObject, type ResourceKind } from "../domain/Kube.ts"
import { KubeApi, orAbsent } from "../k8s/KubeApi.ts"
import { KubeApiLive } from "../k8s/KubeApiLive.ts"
import { ALL_AUTHENTICATION_KINDS, BACKENDS } from "../plan/Backends.ts"
import { DNS_LABEL, DNS_SUBDOMAIN } from "../domain/Names.ts"
import { describeText, terminalSafe } from "./DescribeText.ts"

/** What AUTH_BACKEND=auto picks on this cluster, from the kinds it serves (SPEC 10). */
const discoveredBackend = (served: ReadonlyArray<ResourceKind>): string => {
  const [security, policy] = BACKENDS
  const servesAll = (kinds: ReadonlyArray<ResourceKind>) => kinds.every((k) => served.includes(k))
  if (servesAll(security!.kinds)) return `${security!.name} (the cluster serves security.istio.io/v1; AUTH_BACKEND=auto uses it)`
  if (servesAll(policy!.kinds)) return `${policy!.name} (the cluster serves only the legacy authentication.istio.io/v1alpha1)`
  return "none (the cluster serves neither security.istio.io/v1 nor authentication.istio.io/v1alpha1)"
}

/** The children `describe` looks for, named after the Api in its namespace: the ones the cluster serves. */
export const DESCRIBED_CHILD_KINDS: ReadonlyArray<ResourceKind> = [Kinds.VirtualServiceV1, Kinds.VirtualService, ...ALL_AUTHENTICATION_KINDS]

export class DescribeError extends Data.TaggedError("DescribeError")<{
  readonly message: string
  /** 1: the Api or the cluster could not be read; 2: the command line is wrong. */
  readonly exitCode: 1 | 2
}> {}

/** `shop/orders` -> namespace and name; anything else is a usage error. */
export const parseApiRef = (ref: string): { readonly namespace: string; readonly name: string } | DescribeError => {
  const parts = ref.split("/")
  if (parts.length !== 2 || !DNS_LABEL.test(parts[0] ?? "") || !DNS_SUBDOMAIN.test(parts[1] ?? "")) {
    return new DescribeError({ message: `expected <namespace>/<name>, e.g. shop/orders; got ${JSON.stringify(ref)}`, exitCode: 2 })
  }
  return { namespace: parts[0]!, name: parts[1]! }
}

/** The describe text of one Api, read from the cluster now. */
export const describeApi = Effect.fn("cli.describeApi")(function*(namespace: string, name: string) {
  const kube = yield* KubeApi
  const api = yield* kube.get(Kinds.Api, namespace, name).pipe(
    Effect.mapError((e) =>
      new DescribeError({
        message: e.reason === "NotFound" ? `Api ${namespace}/${name} not found` : e.message,
        exitCode: 1
      })
    )
  )
  const children: Array<KubeObject> = []
  const notes: Array<string> = []
  const served: Array<ResourceKind> = []
  for (const kind of DESCRIBED_CHILD_KINDS) {
    if (yield* Effect.orElseSucceed(kube.serves(kind), () => true)) served.push(kind)
  }
  // One VirtualService version is enough: the newest the cluster serves.
  const kinds = served.filter((k) => !(k === Kinds.VirtualService && served.includes(Kinds.VirtualServiceV1)))
  const backend = discoveredBackend(served)
  for (const kind of kinds) {
    const child = yield* Effect.result(orAbsent(kube.get(kind, namespace, name)))
    if (child._tag === "Failure") notes.push(`(${kind.kind} ${namespace}/${name} could not be read: ${terminalSafe(child.failure.message)})`)
    else if (child.success !== undefined) children.push(child.success)
  }
  const events = yield* kube.list(Kinds.Event, { namespace }).pipe(
    Effect.map((l) => l.items),
    Effect.catch((e) => Effect.succeed({ error: e.message }))
  )
  const now = yield* Clock.currentTimeMillis
  const text = describeText({ api, children, events, childKinds: kinds.map((k) => k.kind), now, backend })
  return notes.length > 0 ? `${text}\n${notes.join("\n")}\n` : text
})

export const describeFlags = {
  api: Argument.String("namespace/name").pipe(Argument.withDescription("The Api, e.g. shop/orders.")),
  kubeconfig: Flag.String("kubeconfig").pipe(
    Flag.withDescription("Path to a kubeconfig. Default: $KUBECONFIG, then ~/.kube/config, then the in-cluster service account."),
    Flag.optional
  )
} as const

export const runDescribe = Effect.fn("cli.describe")(function*(flags: {
  readonly api: string
  readonly kubeconfig: Option.Option<string>
}) {
  const ref = parseApiRef(flags.api)
  const kubeconfigPath = Option.getOrUndefined(flags.kubeconfig)
  const fs = yield* FileSystem.FileSystem
  const result = yield* Effect.result(Effect.gen(function*() {
    if (ref instanceof DescribeError) return yield* Effect.fail(ref)
    // A kubeconfig named on the command line that is not there: say so, not how the client failed to open it.
    if (kubeconfigPath !== undefined && !(yield* Effect.orElseSucceed(fs.exists(kubeconfigPath), () => false))) {
      return yield* Effect.fail(new DescribeError({ message: `no kubeconfig at ${kubeconfigPath}`, exitCode: 1 }))
    }
    return yield* describeApi(ref.namespace, ref.name).pipe(
      Effect.provide(KubeApiLive.layer(kubeconfigPath !== undefined ? { kubeconfigPath } : {})),
      Effect.mapError((e) => (e instanceof DescribeError ? e : new DescribeError({ message: e.message, exitCode: 1 })))
    )
  }))
  if (result._tag === "Success") return yield* Console.log(result.success.trimEnd())
  yield* Console.error(`api-controller describe: ${terminalSafe(result.failure.message)}`)
  process.exitCode = result.failure.exitCode
})
