/**
 * Which Apis a change concerns, declared per kind as controller-runtime's `For`/`Owns`/`Watches`
 * do. A pass reads everything afresh, so a change only has to name the Apis whose answer it may
 * alter:
 *
 *   Api            itself, and the Apis competing for its old and new Service (target-service rule),
 *                  and the Apis of Services that may share its Service's pods (isolation, SPEC 10)
 *   child          its owner Api (drift correction; a switch of backends cleans up)
 *   VirtualService also every Api asking for a host it gave up or took (a freed hostname heals at once)
 *   Service        the Apis targeting it (their authentication children select its workload), and
 *                  the Apis of Services sharing a label with its old or new selector (isolation)
 */
import { Kinds, type ObjectKey, objectKey } from "../domain/Kube.ts"
import { hostsServed, targetServiceOf } from "../plan/Claims.ts"
import { ownerKeyOf } from "../plan/Ownership.ts"
import { type Selector, selectorOf } from "../plan/Workload.ts"
import type { ClusterCache } from "./ClusterCache.ts"
import type { Change } from "../k8s/Informer.ts"

export const keysFor = (change: Change, cache: ClusterCache["Service"]): ReadonlyArray<ObjectKey> => {
  const { object, old } = change
  const namespace = object.metadata.namespace ?? ""
  const keys = new Set<string>()
  const versions = [object, old].filter((o) => o !== undefined)
  /** The Apis of every Service that may share pods with a Service selecting `selector`. */
  const neighboursOf = (selector: Selector | undefined) => {
    if (selector === undefined) return
    for (const service of cache.servicesSharingLabels(namespace, selector)) {
      for (const k of cache.apisForService(namespace, service)) keys.add(k)
    }
  }
  switch (change.kind) {
    case Kinds.Api:
      keys.add(objectKey(namespace, object.metadata.name))
      for (const service of new Set(versions.map(targetServiceOf))) {
        if (service === undefined) continue
        for (const k of cache.apisForService(namespace, service)) keys.add(k)
        neighboursOf(selectorOf(cache.service(namespace, service)))
      }
      break
    case Kinds.Service:
      for (const k of cache.apisForService(namespace, object.metadata.name)) keys.add(k)
      for (const service of versions) neighboursOf(selectorOf(service))
      break
    default:
      for (const o of versions) {
        const owner = ownerKeyOf(o)
        if (owner !== undefined) keys.add(owner)
      }
      if (change.kind.kind === Kinds.VirtualService.kind) {
        for (const host of new Set(versions.flatMap(hostsServed))) for (const k of cache.apisForHost(host)) keys.add(k)
      }
  }
  return [...keys] as Array<ObjectKey>
}
