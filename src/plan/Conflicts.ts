/**
 * Who holds a hostname or a target Service (SPEC 6). Deterministic, so that two controllers (or
 * two passes) reach the same answer, and self-healing: the answer depends only on what exists
 * now, so when a holder goes away the next claimant proceeds by itself.
 */
import type { KubeObject } from "../domain/Kube.ts"
import { servesHost, targetServiceOf } from "./Claims.ts"
import { isOwnedBy, type Owner } from "./Ownership.ts"

/** Oldest first: creationTimestamp, then namespace/name. */
export const byAge = (a: KubeObject, b: KubeObject): number => {
  const ta = a.metadata.creationTimestamp ?? ""
  const tb = b.metadata.creationTimestamp ?? ""
  if (ta !== tb) return ta < tb ? -1 : 1
  const ka = `${a.metadata.namespace ?? ""}/${a.metadata.name}`
  const kb = `${b.metadata.namespace ?? ""}/${b.metadata.name}`
  return ka < kb ? -1 : ka > kb ? 1 : 0
}

/** `namespace/name` of an object, as messages name holders. */
export { keyOf } from "../domain/Kube.ts"

/**
 * The VirtualService that holds `fqdn` against this Api, if any. A VirtualService this Api owns
 * never blocks it. Ours, if it already serves the host, keeps it against younger ones.
 */
export const hostnameHolder = (
  owner: Owner,
  fqdn: string,
  candidates: ReadonlyArray<KubeObject>
): KubeObject | undefined => {
  const serving = candidates.filter((vs) => vs.metadata.deletionTimestamp === undefined && servesHost(vs, fqdn))
  const ours = serving.filter((vs) => isOwnedBy(vs.metadata, owner))
  const foreign = serving.filter((vs) => !isOwnedBy(vs.metadata, owner)).sort(byAge)
  const oldestForeign = foreign[0]
  if (oldestForeign === undefined) return undefined
  const oldestOurs = [...ours].sort(byAge)[0]
  if (oldestOurs !== undefined && byAge(oldestOurs, oldestForeign) < 0) return undefined
  return oldestForeign
}

/**
 * The Api that holds this Api's target Service, if it is another one: the oldest live Api in the
 * namespace that targets the same Service.
 */
export const serviceHolder = (
  self: KubeObject,
  service: string,
  candidates: ReadonlyArray<KubeObject>
): KubeObject | undefined => {
  const claims = candidates.filter((a) =>
    a.metadata.deletionTimestamp === undefined &&
    a.metadata.namespace === self.metadata.namespace &&
    targetServiceOf(a) === service
  )
  if (!claims.some((a) => a.metadata.uid === self.metadata.uid)) claims.push(self)
  const holder = claims.sort(byAge)[0]
  return holder === undefined || holder.metadata.uid === self.metadata.uid ? undefined : holder
}
