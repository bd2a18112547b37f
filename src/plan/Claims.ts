/**
 * What an object claims in the conflict rules (SPEC 6): the host an Api asks for and the Service
 * it targets, and the hosts a VirtualService serves. Read leniently from raw objects, so a
 * half-broken Api still counts as a claim. One definition for the cache's indexes, the work
 * queue's mapping from changes to Apis, and the pass.
 */
import type { KubeObject } from "../domain/Kube.ts"
import { fqdnOf, normalizeHost } from "./Hostname.ts"

export interface Claims {
  /** The fully qualified host the Api asks for, normalized. */
  readonly fqdn: string | undefined
  /** The Service (in the Api's namespace) the Api targets. */
  readonly service: string | undefined
}

export const claimsOf = (api: KubeObject, domainName: string): Claims => {
  const hostname = (api["spec"] as { hostname?: unknown } | undefined)?.hostname
  return {
    fqdn: typeof hostname === "string" && hostname !== "" ? fqdnOf(hostname, domainName) : undefined,
    service: targetServiceOf(api)
  }
}

/** The service an Api targets. */
export const targetServiceOf = (api: KubeObject): string | undefined => {
  const name = (api["spec"] as { service?: { name?: unknown } } | undefined)?.service?.name
  return typeof name === "string" ? name : undefined
}

/** The hosts a VirtualService serves, normalized (lower-case, no trailing dot). */
export const hostsServed = (vs: KubeObject | undefined): ReadonlyArray<string> => {
  const hosts = (vs?.["spec"] as { hosts?: unknown } | undefined)?.hosts
  return Array.isArray(hosts) ? hosts.filter((h): h is string => typeof h === "string").map(normalizeHost) : []
}

export const servesHost = (vs: KubeObject, fqdn: string): boolean => hostsServed(vs).includes(normalizeHost(fqdn))
