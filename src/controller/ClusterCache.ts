/**
 * The controller's view of the cluster: informers for Apis, VirtualServices, the authentication
 * children of every served backend and (when the backend selects workloads) Services, plus the
 * indexes the conflict checks need, so a pass reads memory, not the API server, whatever the
 * number of objects:
 *
 *   host (normalized)        -> VirtualServices serving it, all namespaces   (hostname check)
 *   namespace/service        -> Apis targeting it                            (target-service check)
 *   fqdn                     -> Apis asking for it                           (who to wake when a host frees)
 *
 * Every change is also published, after the store and indexes are updated, for the controller
 * (to enqueue keys) and for the web view.
 *
 * The stores keep one copy of each object, in the form `cachedForm` gives it: what the readers
 * (the reconciler, the conflict indexes, the web view) look at, not what the server sends.
 */
import { Context, Effect, Layer, PubSub, type Scope } from "effect"
import { Kinds, type KubeObject, objectKey, type ResourceKind, splitKey } from "../domain/Kube.ts"
import type { KubeApi } from "../k8s/KubeApi.ts"
import { claimsOf, hostsServed, servesHost } from "../plan/Claims.ts"
import { ClusterView } from "./ClusterView.ts"
import { type Change, type Informer, makeInformer } from "../k8s/Informer.ts"
import { Settings } from "./Settings.ts"

/** A multimap that remembers, per object, which index keys it was filed under. */
class Index {
  private readonly byKey = new Map<string, Set<string>>()
  private readonly byObject = new Map<string, ReadonlyArray<string>>()

  set(object: string, keys: ReadonlyArray<string>) {
    this.delete(object)
    if (keys.length === 0) return
    this.byObject.set(object, keys)
    for (const k of keys) {
      let s = this.byKey.get(k)
      if (s === undefined) this.byKey.set(k, (s = new Set()))
      s.add(object)
    }
  }

  delete(object: string) {
    for (const k of this.byObject.get(object) ?? []) {
      const s = this.byKey.get(k)
      s?.delete(object)
      if (s?.size === 0) this.byKey.delete(k)
    }
    this.byObject.delete(object)
  }

  get(key: string): ReadonlyArray<string> {
    return [...(this.byKey.get(key) ?? [])]
  }
}

/**
 * What the cache keeps of an object: all of it except what no reader looks at and most of its
 * size is, as client-go's cache transforms do (`TransformStripManagedFields`).
 *
 * - `metadata.managedFields`, on every kind: the server's field-ownership bookkeeping, larger than
 *   the rest of the object once a few managers have written it. Leaving it out of a PUT of a
 *   cached child (plan/ChildComparison.ts restores a drifted child that way) keeps the server's:
 *   an update without managedFields does not touch them.
 * - `metadata.annotations` on Apis: nothing reads them (`kubectl apply` keeps a second copy of the
 *   whole object there), and an Api is only ever merge-patched, never PUT, so leaving them out of
 *   the cache cannot erase them. Children keep theirs, because a PUT of the cached child would.
 *
 * - a Service's spec but its `selector`, and its status: the authentication children select the
 *   Service's workload by its selector, and a Service is never written.
 *
 * Everything else stays: spec (planning, ownership, comparison), status (the status patch is the
 * difference from it; the web view shows it), labels and ownerReferences (ownership),
 * creationTimestamp (the oldest claim wins a conflict), finalizers and deletionTimestamp.
 * Returns the object itself when there is nothing to leave out.
 */
export const cachedForm = (kind: ResourceKind): (object: KubeObject) => KubeObject => {
  if (kind === Kinds.Service) {
    const metadataOf = cachedForm(Kinds.Namespace)
    return (object) => {
      const selector = (object["spec"] as { selector?: unknown } | undefined)?.selector
      const { spec: _spec, status: _status, ...rest } = metadataOf(object)
      return { ...rest, ...(selector !== undefined ? { spec: { selector } } : {}) }
    }
  }
  const dropAnnotations = kind.group === Kinds.Api.group && kind.plural === Kinds.Api.plural
  const dropped = (key: string) => key === "managedFields" || (dropAnnotations && key === "annotations")
  return (object) => {
    const source = object.metadata as Record<string, unknown>
    let any = false
    for (const key in source) {
      if (dropped(key)) {
        any = true
        break
      }
    }
    if (!any) return object
    // Built key by key, in the server's order, so every cached object of a kind shares one shape.
    const metadata: Record<string, unknown> = {}
    for (const key in source) if (!dropped(key)) metadata[key] = source[key]
    return { ...object, metadata: metadata as KubeObject["metadata"] }
  }
}

const keyOf = (o: KubeObject) => objectKey(o.metadata.namespace, o.metadata.name)

export class ClusterCache extends Context.Service<ClusterCache, {
  readonly synced: Effect.Effect<void>
  readonly isSynced: Effect.Effect<boolean>
  /** Changes published after the store and indexes moved; subscribe before awaiting `synced`. */
  readonly subscribe: Effect.Effect<PubSub.Subscription<Change>, never, Scope.Scope>
  readonly apis: () => ReadonlyArray<KubeObject>
  readonly api: (namespace: string, name: string) => KubeObject | undefined
  /** Apis whose spec asks for `fqdn`. */
  readonly apisForHost: (fqdn: string) => ReadonlyArray<string>
  /** Apis in `namespace` targeting `service`. */
  readonly apisForService: (namespace: string, service: string) => ReadonlyArray<string>
  readonly informers: ReadonlyArray<Informer>
}>()("api-controller/controller/ClusterCache") {
  /** The cache, and a `ClusterView` that reads from it. */
  static readonly layer: Layer.Layer<ClusterCache | ClusterView, never, KubeApi | Settings> = Layer.effectContext(
    Effect.gen(function*() {
      const settings = yield* Settings
      const { config, backend } = settings
      const changes = yield* PubSub.unbounded<Change>()
      yield* Effect.addFinalizer(() => PubSub.shutdown(changes))

      const vsByHost = new Index()
      const apisByService = new Index()
      const apisByHost = new Index()

      const indexChange = (c: Change) =>
        Effect.suspend(() => {
          const key = keyOf(c.object)
          const gone = c.type === "DELETED"
          if (c.kind === Kinds.Api) {
            const claims = gone ? { fqdn: undefined, service: undefined } : claimsOf(c.object, config.domainName)
            apisByService.set(key, claims.service !== undefined ? [objectKey(c.object.metadata.namespace, claims.service)] : [])
            apisByHost.set(key, claims.fqdn !== undefined ? [claims.fqdn] : [])
          } else if (c.kind === settings.virtualServiceKind) {
            vsByHost.set(key, gone ? [] : hostsServed(c.object))
          }
          return PubSub.publish(changes, c)
        })

      const kinds: ReadonlyArray<ResourceKind> = [
        Kinds.Api,
        settings.virtualServiceKind,
        ...settings.authenticationKinds,
        ...(backend.selectsWorkload ? [Kinds.Service] : [])
      ]
      const informers: Array<Informer> = []
      for (const kind of kinds) {
        informers.push(yield* makeInformer(kind, { onChange: indexChange, transform: cachedForm(kind) }))
      }
      const [apiInformer, vsInformer] = informers as [Informer, Informer, ...Array<Informer>]
      const byKind = new Map(informers.map((i) => [i.kind, i]))

      const synced = Effect.forEach(informers, (i) => i.synced, { discard: true })

      const cache = ClusterCache.of({
        synced,
        isSynced: Effect.sync(() => informers.every((i) => i.isSynced())),
        subscribe: PubSub.subscribe(changes),
        apis: () => apiInformer.list(),
        api: (namespace, name) => apiInformer.get(namespace, name),
        apisForHost: (fqdn) => apisByHost.get(fqdn.toLowerCase()),
        apisForService: (namespace, service) => apisByService.get(objectKey(namespace, service)),
        informers
      })

      const objectsOf = (informer: Informer, keys: ReadonlyArray<string>) =>
        keys.flatMap((k) => {
          const { namespace, name } = splitKey(k as never)
          const o = informer.get(namespace, name)
          return o !== undefined ? [o] : []
        })

      const view = ClusterView.of({
        // A kind without an informer is one the cluster does not serve: nothing of it exists.
        get: (kind, namespace, name) => Effect.sync(() => byKind.get(kind)?.get(namespace, name)),
        virtualServicesForHost: (fqdn) =>
          Effect.sync(() => objectsOf(vsInformer, vsByHost.get(fqdn.toLowerCase())).filter((vs) => servesHost(vs, fqdn))),
        apisForService: (namespace, service) =>
          Effect.sync(() => objectsOf(apiInformer, apisByService.get(objectKey(namespace, service))))
      })

      return Context.make(ClusterCache, cache).pipe(Context.add(ClusterView, view))
    })
  )
}
