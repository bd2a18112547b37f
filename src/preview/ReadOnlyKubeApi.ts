/**
 * `KubeApi` that can only read: discovery (`serves`), `get` and `list` pass through; every write
 * (and `watch`, which `plan` has no use for) dies with `ReadOnlyViolation`. `api-controller plan`
 * reads the cluster through it, so that "plan never writes" holds by construction, not by care: a
 * write that slipped into its code path would end the command with the violation named, and no
 * `catch` of a `KubeApiError` (a 404 read as "absent", say) can swallow a defect.
 */
import { Data, Effect, Layer, Stream } from "effect"
import type { ResourceKind } from "../domain/Kube.ts"
import { KubeApi } from "../k8s/KubeApi.ts"

/** A write was attempted through the read-only `KubeApi`: a bug in the caller. */
export class ReadOnlyViolation extends Data.TaggedError("ReadOnlyViolation")<{
  readonly verb: string
  readonly target: string
}> {
  override get message(): string {
    return `read-only: refused ${this.verb} ${this.target} (api-controller plan only gets and lists)`
  }
}

const target = (kind: ResourceKind, namespace: string, name: string) =>
  `${kind.plural}${kind.group === "" ? "" : `.${kind.group}`} ${namespace === "" ? name : `${namespace}/${name}`}`

const refuse = (verb: string, where: string) => Effect.die(new ReadOnlyViolation({ verb, target: where }))

export const readOnlyKubeApi = (kube: KubeApi["Service"]): KubeApi["Service"] =>
  KubeApi.of({
    serves: (kind) => kube.serves(kind),
    get: (kind, namespace, name) => kube.get(kind, namespace, name),
    list: (kind, options) => kube.list(kind, options),
    watch: (kind, options) => Stream.fromEffect(refuse("watch", target(kind, options.namespace ?? "", "*"))),
    create: (kind, object) => refuse("create", target(kind, object.metadata.namespace ?? "", object.metadata.name)),
    replace: (kind, object) => refuse("replace", target(kind, object.metadata.namespace ?? "", object.metadata.name)),
    patch: (kind, namespace, name) => refuse("patch", target(kind, namespace, name)),
    patchStatus: (kind, namespace, name) => refuse("patch status of", target(kind, namespace, name)),
    delete: (kind, namespace, name) => refuse("delete", target(kind, namespace, name))
  })

/** Wraps the `KubeApi` below it. */
export const readOnly: Layer.Layer<KubeApi, never, KubeApi> = Layer.effect(
  KubeApi,
  Effect.map(Effect.service(KubeApi), readOnlyKubeApi)
)
