/**
 * The cluster as `plan` sees it: one list per kind the controller's cache watches (Apis, the
 * VirtualService version written, the authentication kinds of both backends that the cluster
 * serves, Services when the backend selects workloads), read once, held in memory with the
 * indexes the cache keeps (ClusterCache's `Index`, filed by the same claims), and offered as a
 * `ClusterView`: a simulated pass gathers its world exactly as a real one does (Gather.ts), and
 * nothing asks the server per Api.
 *
 * The simulated passes write into it (creates get placeholder uids and resourceVersions), and
 * garbage collection of a deleted Api's children is done here, as kube-controller-manager would.
 */
import { Effect } from "effect"
import { Kinds, type KubeObject, objectKey, type ResourceKind, splitKey } from "../domain/Kube.ts"
import { Index } from "../controller/ClusterCache.ts"
import type { ClusterView } from "../controller/ClusterView.ts"
import type { SettingsShape } from "../controller/Settings.ts"
import { KubeApi, type KubeApiError } from "../k8s/KubeApi.ts"
import { claimsOf, hostsServed, servesHost } from "../plan/Claims.ts"
import { labelKeysOf, type Selector, selectorOf } from "../plan/Workload.ts"

/** A kind's identity whatever its version: a VirtualService read as v1 is the one written as v1alpha3. */
export const kindKeyOf = (kind: Pick<ResourceKind, "plural" | "group">): string => `${kind.plural}.${kind.group}`

const keyOf = (o: KubeObject) => objectKey(o.metadata.namespace, o.metadata.name)

/** The kinds the controller's cache watches under these settings, in its order. */
export const watchedKinds = (settings: Pick<SettingsShape, "backend" | "virtualServiceKind" | "authenticationKinds">): ReadonlyArray<ResourceKind> => [
  Kinds.Api,
  settings.virtualServiceKind,
  ...settings.authenticationKinds,
  ...(settings.backend.selectsWorkload ? [Kinds.Service] : [])
]

export class Snapshot {
  /** kind -> namespace -> name -> object: a namespace's objects are read without a scan (the decision table reads them per Api). */
  private readonly tables = new Map<string, Map<string, Map<string, KubeObject>>>()
  private readonly vsByHost = new Index()
  private readonly apisByService = new Index()
  private readonly servicesByLabel = new Index()
  private placeholders = 0

  /** `kinds`: the kinds read (each has a table, empty or not); a kind not among them is not served. */
  constructor(
    private readonly domainName: string,
    readonly kinds: ReadonlyArray<ResourceKind>
  ) {
    for (const kind of kinds) this.tables.set(kindKeyOf(kind), new Map())
  }

  /** One list per watched kind, all namespaces. A kind the cluster does not serve (404) is left out. */
  static read = (
    settings: Pick<SettingsShape, "config" | "backend" | "virtualServiceKind" | "authenticationKinds">
  ): Effect.Effect<Snapshot, KubeApiError, KubeApi> =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const listed: Array<{ kind: ResourceKind; items: ReadonlyArray<KubeObject> }> = []
      for (const kind of watchedKinds(settings)) {
        const list = yield* kube.list(kind).pipe(
          Effect.map((l) => l.items),
          // Only the Api kind must be served: the others are what the backends write.
          Effect.catchIf((e) => e.reason === "NotFound" && kind !== Kinds.Api, () => Effect.succeed(undefined))
        )
        if (list !== undefined) listed.push({ kind, items: list })
      }
      const snapshot = new Snapshot(settings.config.domainName, listed.map((l) => l.kind))
      for (const { kind, items } of listed) for (const o of items) snapshot.put(kind, o)
      return snapshot
    })

  /** An independent copy (objects are never mutated in place, so they are shared). */
  clone(): Snapshot {
    const copy = new Snapshot(this.domainName, this.kinds)
    for (const kind of this.kinds) for (const o of this.list(kind)) copy.put(kind, o)
    copy.placeholders = this.placeholders
    return copy
  }

  serves(kind: ResourceKind): boolean {
    return this.tables.has(kindKeyOf(kind))
  }

  get(kind: ResourceKind, namespace: string, name: string): KubeObject | undefined {
    return this.tables.get(kindKeyOf(kind))?.get(namespace)?.get(name)
  }

  list(kind: ResourceKind, namespace?: string): ReadonlyArray<KubeObject> {
    const table = this.tables.get(kindKeyOf(kind))
    if (table === undefined) return []
    if (namespace !== undefined) return [...(table.get(namespace)?.values() ?? [])]
    return [...table.values()].flatMap((names) => [...names.values()])
  }

  /** A value no server would give, for a uid or resourceVersion the server would assign. */
  placeholder(): string {
    return `planned-${++this.placeholders}`
  }

  put(kind: ResourceKind, object: KubeObject): void {
    const table = this.tables.get(kindKeyOf(kind))
    if (table === undefined) throw new Error(`the snapshot holds no ${kind.kind}: the cluster does not serve it`)
    const namespace = object.metadata.namespace ?? ""
    let names = table.get(namespace)
    if (names === undefined) table.set(namespace, names = new Map())
    names.set(object.metadata.name, object)
    this.index(kind, object, false)
  }

  remove(kind: ResourceKind, namespace: string, name: string): KubeObject | undefined {
    const names = this.tables.get(kindKeyOf(kind))?.get(namespace)
    const gone = names?.get(name)
    if (gone === undefined) return undefined
    names!.delete(name)
    this.index(kind, gone, true)
    return gone
  }

  /**
   * What kube-controller-manager's garbage collector does once owners are gone: every object
   * whose ownerReferences all name one of `uids` goes. Returns what went, with its kind.
   */
  collectGarbage(uids: ReadonlySet<string>): ReadonlyArray<{ readonly kind: ResourceKind; readonly object: KubeObject }> {
    const gone: Array<{ kind: ResourceKind; object: KubeObject }> = []
    for (const kind of this.kinds) {
      for (const o of this.list(kind)) {
        const refs = o.metadata.ownerReferences ?? []
        if (refs.length > 0 && refs.every((r) => uids.has(r.uid))) {
          this.remove(kind, o.metadata.namespace ?? "", o.metadata.name)
          gone.push({ kind, object: o })
        }
      }
    }
    return gone
  }

  /** The same indexes as ClusterCache's, filed by the same claims. */
  private index(kind: ResourceKind, o: KubeObject, gone: boolean) {
    const key = keyOf(o)
    const k = kindKeyOf(kind)
    if (k === kindKeyOf(Kinds.Api)) {
      const service = gone ? undefined : claimsOf(o, this.domainName).service
      this.apisByService.set(key, service !== undefined ? [objectKey(o.metadata.namespace, service)] : [])
    } else if (k === kindKeyOf(Kinds.VirtualService)) {
      this.vsByHost.set(key, gone ? [] : hostsServed(o))
    } else if (k === kindKeyOf(Kinds.Service)) {
      const selector = gone ? undefined : selectorOf(o)
      this.servicesByLabel.set(key, selector !== undefined ? labelKeysOf(o.metadata.namespace ?? "", selector) : [])
    }
  }

  private objectsOf(kind: ResourceKind, keys: ReadonlyArray<string>): ReadonlyArray<KubeObject> {
    return keys.flatMap((k) => {
      const { namespace, name } = splitKey(k as never)
      const o = this.get(kind, namespace, name)
      return o !== undefined ? [o] : []
    })
  }

  /** The snapshot as a `ClusterView`, answering as the cache does. */
  view(): ClusterView["Service"] {
    const apisFor = (namespace: string, service: string) => this.objectsOf(Kinds.Api, this.apisByService.get(objectKey(namespace, service)))
    return {
      // A kind that was not read is one the cluster does not serve: nothing of it exists.
      get: (kind, namespace, name) => Effect.sync(() => this.get(kind, namespace, name)),
      virtualServicesForHost: (fqdn) =>
        Effect.sync(() => this.objectsOf(Kinds.VirtualService, this.vsByHost.get(fqdn.toLowerCase())).filter((vs) => servesHost(vs, fqdn))),
      apisForService: (namespace, service) => Effect.sync(() => apisFor(namespace, service)),
      neighbours: (namespace, selector: Selector) =>
        Effect.sync(() => {
          if (!this.serves(Kinds.Service)) return []
          const keys = new Set<string>()
          for (const label of labelKeysOf(namespace, selector)) for (const k of this.servicesByLabel.get(label)) keys.add(k)
          return [...keys].flatMap((k) => {
            const name = splitKey(k as never).name
            const service = this.get(Kinds.Service, namespace, name)
            return service === undefined ? [] : [{ service, apis: apisFor(namespace, name) }]
          })
        }),
      // The simulated writer puts its answers here itself.
      wrote: () => Effect.void
    }
  }
}
