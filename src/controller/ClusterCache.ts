/**
 * The controller's view of the cluster: informers for Apis, VirtualServices, the authentication
 * children of every served backend and (when the backend selects workloads) Services, plus the
 * indexes the conflict checks need, so a pass reads memory, not the API server, whatever the
 * number of objects:
 *
 *   host (normalized)        -> VirtualServices serving it, all namespaces   (hostname check)
 *   namespace/service        -> Apis targeting it                            (target-service check)
 *   fqdn                     -> Apis asking for it                           (who to wake when a host frees)
 *   namespace/label=value    -> Services whose selector has it               (Services that may share pods)
 *
 * Every change, once the store and the indexes have it, queues the Apis it concerns (Watches.ts)
 * in the controller's work queue, at once, as controller-runtime's event handlers do: once the
 * caches are synced, every listed object's Apis are queued. It is also published, for the web view.
 *
 * The stores keep one copy of each object, in the form `cachedForm` gives it: what the readers
 * (the reconciler, the conflict indexes, the web view) look at, not what the server sends.
 */
import { Context, Effect, Layer, PubSub, type Scope } from "effect"
import { Kinds, type KubeObject, keyOf, objectKey, type ResourceKind, splitKey } from "../domain/Kube.ts"
import type { KubeApi } from "../k8s/KubeApi.ts"
import type { ServerOutage } from "../k8s/ServerOutage.ts"
import { claimsOf, hostsServed, servesHost } from "../plan/Claims.ts"
import { labelKeysOf, type Selector, selectorOf } from "../plan/Workload.ts"
import { type Change, type Informer, makeInformer } from "../k8s/Informer.ts"
import { ClusterView } from "./ClusterView.ts"
import { Settings } from "./Settings.ts"
import { keysFor } from "./Watches.ts"
import { WorkQueue } from "./WorkQueue.ts"

/**
 * A multimap that remembers, per object, which index keys it was filed under. Almost every key
 * has one object and almost every object one key (its host, its service, its owner), so a single
 * entry is held as the string itself: a Set or an array per entry would cost more than the cached
 * object's own metadata (about 1 KB per Api at 10,000 Apis, measured in a heap snapshot).
 */
export class Index {
  private readonly byKey = new Map<string, string | Set<string>>()
  private readonly byObject = new Map<string, string | ReadonlyArray<string>>()

  set(object: string, keys: ReadonlyArray<string>) {
    this.delete(object)
    if (keys.length === 0) return
    this.byObject.set(object, keys.length === 1 ? keys[0]! : keys)
    for (const k of keys) {
      const held = this.byKey.get(k)
      if (held === undefined) this.byKey.set(k, object)
      else if (typeof held === "string") {
        if (held !== object) this.byKey.set(k, new Set([held, object]))
      } else held.add(object)
    }
  }

  delete(object: string) {
    const filed = this.byObject.get(object)
    if (filed === undefined) return
    this.byObject.delete(object)
    for (const k of typeof filed === "string" ? [filed] : filed) {
      const held = this.byKey.get(k)
      if (held === undefined) continue
      if (typeof held === "string") {
        if (held === object) this.byKey.delete(k)
      } else {
        held.delete(object)
        if (held.size === 1) this.byKey.set(k, held.values().next().value!)
      }
    }
  }

  get(key: string): ReadonlyArray<string> {
    const held = this.byKey.get(key)
    return held === undefined ? [] : typeof held === "string" ? [held] : [...held]
  }

  /** Keys with at least one object (what the index holds, for tests of its bookkeeping). */
  size(): number {
    return this.byKey.size
  }
}

/**
 * One copy of each string value the cached objects repeat. JSON parsing gives every occurrence a
 * string of its own: across 10,000 Apis and their children the same apiVersions, issuers, state
 * names, messages and timestamps were 19 MB of a 105 MB heap (heap snapshot). Bounded: when full
 * it starts over, so values that stop recurring (uids, versions of deleted objects) do not pile
 * up, and the recurring ones are back after one more occurrence each.
 */
export class StringPool {
  private readonly pool = new Map<string, string>()

  constructor(private readonly limit = 20_000) {}

  intern(value: string): string {
    const held = this.pool.get(value)
    if (held !== undefined) return held
    if (this.pool.size >= this.limit) this.pool.clear()
    this.pool.set(value, value)
    return value
  }

  get size(): number {
    return this.pool.size
  }

  /** Replaces, in place, every string in a parsed JSON value with its pooled copy. Values do not change. */
  internAll(value: object): void {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const v: unknown = value[i]
        if (typeof v === "string") value[i] = this.intern(v)
        else if (typeof v === "object" && v !== null) this.internAll(v)
      }
      return
    }
    const record = value as Record<string, unknown>
    for (const key in record) {
      const v = record[key]
      if (typeof v === "string") record[key] = this.intern(v)
      else if (typeof v === "object" && v !== null) this.internAll(v)
    }
  }
}

/**
 * What the cache keeps of an object: all of it except what no reader looks at and most of its
 * size is, as client-go's cache transforms do (`TransformStripManagedFields`), with its strings
 * shared through `pool`.
 *
 * - `metadata.managedFields`, on every kind: the server's field-ownership bookkeeping, larger than
 *   the rest of the object once a few managers have written it. Leaving it out of a PUT of a
 *   cached child (plan/ChildComparison.ts restores a drifted child that way) keeps the server's:
 *   an update without managedFields does not touch them.
 * - `metadata.annotations` on Apis: nothing reads them (`kubectl apply` keeps a second copy of the
 *   whole object there), and an Api is only ever merge-patched, never PUT, so leaving them out of
 *   the cache cannot erase them. Children keep theirs, because a PUT of the cached child would.
 *
 * - a Service's spec but its `selector` and its ports' numbers, and its status: the authentication
 *   children select the Service's workload by its selector and scope their DENY to the ports it
 *   leads to, and a Service is never written.
 *
 * Everything else stays: spec (planning, ownership, comparison), status (the status patch is the
 * difference from it; the web view shows it), labels and ownerReferences (ownership),
 * creationTimestamp (the oldest claim wins a conflict), finalizers and deletionTimestamp.
 * The object is the client's fresh parse, used by nothing else: its strings are swapped for equal
 * pooled ones in place, and it is returned as it is when there is nothing to leave out.
 */
export const cachedForm = (kind: ResourceKind, pool?: StringPool): (object: KubeObject) => KubeObject => {
  if (kind === Kinds.Service) {
    const metadataOf = cachedForm(Kinds.Namespace, pool)
    return (object) => {
      const spec = object["spec"] as { selector?: unknown; ports?: unknown } | undefined
      const ports = Array.isArray(spec?.ports)
        ? (spec.ports as ReadonlyArray<{ port?: unknown; targetPort?: unknown }>).map((p) => ({ port: p.port, targetPort: p.targetPort }))
        : undefined
      const { spec: _spec, status: _status, ...rest } = metadataOf(object)
      const kept = { ...(spec?.selector !== undefined ? { selector: spec.selector } : {}), ...(ports !== undefined ? { ports } : {}) }
      return { ...rest, ...(Object.keys(kept).length > 0 ? { spec: kept } : {}) }
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
    let kept = object
    if (any) {
      // Built key by key, in the server's order, so every cached object of a kind shares one shape.
      const metadata: Record<string, unknown> = {}
      for (const key in source) if (!dropped(key)) metadata[key] = source[key]
      kept = { ...object, metadata: metadata as KubeObject["metadata"] }
    }
    pool?.internAll(kept)
    return kept
  }
}

export class ClusterCache extends Context.Service<ClusterCache, {
  readonly synced: Effect.Effect<void>
  readonly isSynced: Effect.Effect<boolean>
  /** Changes published after the store and indexes moved (the web view's); subscribe before awaiting `synced`. */
  readonly subscribe: Effect.Effect<PubSub.Subscription<Change>, never, Scope.Scope>
  readonly apis: () => ReadonlyArray<KubeObject>
  readonly api: (namespace: string, name: string) => KubeObject | undefined
  /** Apis whose spec asks for `fqdn`. */
  readonly apisForHost: (fqdn: string) => ReadonlyArray<string>
  /** Apis in `namespace` targeting `service`. */
  readonly apisForService: (namespace: string, service: string) => ReadonlyArray<string>
  /** The cached Service, when Services are watched. */
  readonly service: (namespace: string, name: string) => KubeObject | undefined
  /** Services (names) in `namespace` whose selector shares a label with `selector`. */
  readonly servicesSharingLabels: (namespace: string, selector: Selector) => ReadonlyArray<string>
  readonly informers: ReadonlyArray<Informer>
}>()("api-controller/controller/ClusterCache") {
  /** The cache, and a `ClusterView` that reads from it; it fills the `WorkQueue`. */
  static readonly layer: Layer.Layer<ClusterCache | ClusterView, never, KubeApi | ServerOutage | Settings | WorkQueue> = Layer.effectContext(
    Effect.gen(function*() {
      const settings = yield* Settings
      const queue = yield* WorkQueue
      const { config, backend } = settings
      const changes = yield* PubSub.unbounded<Change>()
      yield* Effect.addFinalizer(() => PubSub.shutdown(changes))

      const vsByHost = new Index()
      const apisByService = new Index()
      const apisByHost = new Index()
      const servicesByLabel = new Index()

      // Informers by kind, filled as they are made: a kind without one is one the cluster does
      // not serve, and nothing of it exists. The lookups below may run while the first lists
      // arrive, before every informer is made.
      const informers: Array<Informer> = []
      const byKind = new Map<ResourceKind, Informer>()
      const get = (kind: ResourceKind, namespace: string, name: string) => byKind.get(kind)?.get(namespace, name)

      const servicesSharingLabels = (namespace: string, selector: Selector): ReadonlyArray<string> => {
        const keys = new Set<string>()
        for (const label of labelKeysOf(namespace, selector)) for (const k of servicesByLabel.get(label)) keys.add(k)
        return [...keys].map((k) => splitKey(k as never).name)
      }

      const cache: ClusterCache["Service"] = ClusterCache.of({
        synced: Effect.suspend(() => Effect.forEach(informers, (i) => i.synced, { discard: true })),
        isSynced: Effect.sync(() => informers.every((i) => i.isSynced())),
        subscribe: PubSub.subscribe(changes),
        apis: () => byKind.get(Kinds.Api)?.list() ?? [],
        api: (namespace, name) => get(Kinds.Api, namespace, name),
        apisForHost: (fqdn) => apisByHost.get(fqdn.toLowerCase()),
        apisForService: (namespace, service) => apisByService.get(objectKey(namespace, service)),
        service: (namespace, name) => get(Kinds.Service, namespace, name),
        servicesSharingLabels,
        informers
      })

      /** Index the change, queue the Apis it concerns, then tell the web view. */
      const onChange = (c: Change) =>
        Effect.suspend(() => {
          const key = keyOf(c.object)
          const gone = c.type === "DELETED"
          if (c.kind === Kinds.Api) {
            const claims = gone ? { fqdn: undefined, service: undefined } : claimsOf(c.object, config.domainName)
            apisByService.set(key, claims.service !== undefined ? [objectKey(c.object.metadata.namespace, claims.service)] : [])
            apisByHost.set(key, claims.fqdn !== undefined ? [claims.fqdn] : [])
          } else if (c.kind === settings.virtualServiceKind) {
            vsByHost.set(key, gone ? [] : hostsServed(c.object))
          } else if (c.kind === Kinds.Service) {
            const selector = gone ? undefined : selectorOf(c.object)
            servicesByLabel.set(key, selector !== undefined ? labelKeysOf(c.object.metadata.namespace ?? "", selector) : [])
          }
          return Effect.andThen(Effect.forEach(keysFor(c, cache), queue.add, { discard: true }), PubSub.publish(changes, c))
        })

      const kinds: ReadonlyArray<ResourceKind> = [
        Kinds.Api,
        settings.virtualServiceKind,
        ...settings.authenticationKinds,
        ...(backend.selectsWorkload ? [Kinds.Service] : [])
      ]
      const strings = new StringPool()
      for (const kind of kinds) {
        const informer = yield* makeInformer(kind, { onChange, transform: cachedForm(kind, strings) })
        informers.push(informer)
        byKind.set(kind, informer)
      }
      const [apiInformer, vsInformer] = informers as [Informer, Informer, ...Array<Informer>]
      const serviceInformer = byKind.get(Kinds.Service)

      const objectsOf = (informer: Informer, keys: ReadonlyArray<string>) =>
        keys.flatMap((k) => {
          const { namespace, name } = splitKey(k as never)
          const o = informer.get(namespace, name)
          return o !== undefined ? [o] : []
        })

      const view = ClusterView.of({
        get: (kind, namespace, name) => Effect.sync(() => get(kind, namespace, name)),
        virtualServicesForHost: (fqdn) =>
          Effect.sync(() => objectsOf(vsInformer, vsByHost.get(fqdn.toLowerCase())).filter((vs) => servesHost(vs, fqdn))),
        apisForService: (namespace, service) =>
          Effect.sync(() => objectsOf(apiInformer, apisByService.get(objectKey(namespace, service)))),
        neighbours: (namespace, selector) =>
          Effect.sync(() =>
            serviceInformer === undefined ? [] : servicesSharingLabels(namespace, selector).flatMap((name) => {
              const service = serviceInformer.get(namespace, name)
              return service === undefined
                ? []
                : [{ service, apis: objectsOf(apiInformer, apisByService.get(objectKey(namespace, name))) }]
            })
          ),
        wrote: (kind, object) => byKind.get(kind)?.wrote(object) ?? Effect.void
      })

      return Context.make(ClusterCache, cache).pipe(Context.add(ClusterView, view))
    })
  )
}
