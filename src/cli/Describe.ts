/**
 * `api-controller describe <namespace>/<name>`: one Api's lifecycle in a terminal. Reads the Api,
 * the VirtualService and Policy named after it, and the Events on it, straight from the API server
 * (no controller needed), and prints src/visual/Describe.ts's `describeText`.
 */
import { Clock, Console, Data, Effect, Option } from "effect"
import { Argument, Flag } from "effect/cli"
import { Kinds, type KubeObject, type ResourceKind } from "../domain/Kube.ts"
import { KubeApi, type KubeApiError } from "../k8s/KubeApi.ts"
import { KubeApiLive } from "../k8s/KubeApiLive.ts"
import { describeText, terminalSafe } from "../visual/Describe.ts"

/** The children `describe` looks for, named after the Api in its namespace. */
export const DESCRIBED_CHILD_KINDS: ReadonlyArray<ResourceKind> = [Kinds.VirtualService, Kinds.Policy]

export class DescribeError extends Data.TaggedError("DescribeError")<{
  readonly message: string
  /** 1: the Api or the cluster could not be read; 2: the command line is wrong. */
  readonly exitCode: 1 | 2
}> {}

/** `shop/orders` -> namespace and name; anything else is a usage error. */
export const parseApiRef = (ref: string): { readonly namespace: string; readonly name: string } | DescribeError => {
  const parts = ref.split("/")
  const label = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/
  if (parts.length !== 2 || !label.test(parts[0] ?? "") || !label.test(parts[1] ?? "")) {
    return new DescribeError({ message: `expected <namespace>/<name>, e.g. shop/orders; got ${JSON.stringify(ref)}`, exitCode: 2 })
  }
  return { namespace: parts[0]!, name: parts[1]! }
}

const orUndefined = <A>(e: Effect.Effect<A, KubeApiError>): Effect.Effect<A | undefined, KubeApiError> =>
  Effect.catchIf(e, (err) => err.reason === "NotFound", () => Effect.succeed(undefined))

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
  for (const kind of DESCRIBED_CHILD_KINDS) {
    const child = yield* Effect.result(orUndefined(kube.get(kind, namespace, name)))
    if (child._tag === "Failure") notes.push(`(${kind.kind} ${namespace}/${name} could not be read: ${terminalSafe(child.failure.message)})`)
    else if (child.success !== undefined) children.push(child.success)
  }
  const events = yield* kube.list(Kinds.Event, { namespace }).pipe(
    Effect.map((l) => l.items),
    Effect.catch((e) => Effect.succeed({ error: e.message }))
  )
  const now = yield* Clock.currentTimeMillis
  const text = describeText({ api, children, events, childKinds: DESCRIBED_CHILD_KINDS.map((k) => k.kind), now })
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
  const result = yield* Effect.result(
    ref instanceof DescribeError ? Effect.fail(ref) : describeApi(ref.namespace, ref.name).pipe(
      Effect.provide(KubeApiLive.layer(kubeconfigPath !== undefined ? { kubeconfigPath } : {})),
      Effect.mapError((e) => (e instanceof DescribeError ? e : new DescribeError({ message: e.message, exitCode: 1 })))
    )
  )
  if (result._tag === "Success") return yield* Console.log(result.success.trimEnd())
  yield* Console.error(`api-controller describe: ${terminalSafe(result.failure.message)}`)
  process.exitCode = result.failure.exitCode
})
