/**
 * Isolation on shared workloads (SPEC 10, revised 2026-12). Istio's security objects select
 * pods, not Services, and Istio ORs every ALLOW AuthorizationPolicy on a pod; so two Services
 * over the same pods, or an ALLOW policy a platform team wrote, could widen what an Api's
 * decision denies. The rule this file decides with:
 *
 *   On every pod its Service selects, an Api's decision holds for every request, whatever its
 *   Host, except the requests addressed to another Api whose Service selects every one of those
 *   pods too: that Api decides for its own names there.
 *
 * The istio-security backend writes it as a DENY AuthorizationPolicy per Api (the requests the
 * Api's decision denies; Istio evaluates DENY before any ALLOW, so nothing allowed elsewhere
 * widens it) whose rules leave out (`notHosts`) the names of those other Apis: Istio's
 * DENY-with-negative-matching pattern, so a Host spelled in a way no list foresaw (a pod IP, an
 * unknown name, a trailing dot) falls under the Api's decision instead of escaping it.
 *
 * Selectors are compared without looking at pods: Service `b` selects every pod Service `a`
 * selects when b's selector is a sub-map of a's; two Services may share pods when their
 * selectors give no label two values. What Istio cannot keep apart between two Apis that may
 * share pods (mTLS is per pod; an Api without authentication next to one with it; selectors
 * that are not equal) is reported by the later of the two (validation state `Shared`).
 */
import { Result } from "effect"
import { decodeSpec } from "../domain/Api.ts"
import type { ControllerConfig } from "../domain/ControllerConfig.ts"
import type { KubeObject } from "../domain/Kube.ts"
import { authenticationPlan } from "./AuthenticationPlan.ts"
import { claimsOf, targetServiceOf } from "./Claims.ts"
import { byAge, hostnameHolder, keyOf } from "./Conflicts.ts"
import type { Owner } from "./Ownership.ts"

/** A Service's `spec.selector`: the labels its pods carry. */
export type Selector = Readonly<Record<string, string>>

/** The selector of a Service, when it has a usable one. */
export const selectorOf = (service: KubeObject | undefined): Selector | undefined => {
  const selector = (service?.["spec"] as { selector?: unknown } | undefined)?.selector
  if (typeof selector !== "object" || selector === null) return undefined
  const entries = Object.entries(selector).filter((e): e is [string, string] => typeof e[1] === "string")
  return entries.length > 0 ? Object.fromEntries(entries) : undefined
}

/**
 * The ports on the pods that a Service's ports lead to (`targetPort`, else `port`), as an
 * AuthorizationPolicy's `ports` name them; undefined when one is a name (only a Pod's container
 * ports resolve it) or the Service lists none.
 */
export const workloadPortsOf = (service: KubeObject | undefined): ReadonlyArray<number> | undefined => {
  const ports = (service?.["spec"] as { ports?: unknown } | undefined)?.ports
  if (!Array.isArray(ports) || ports.length === 0) return undefined
  const numbers: Array<number> = []
  for (const p of ports as ReadonlyArray<{ port?: unknown; targetPort?: unknown }>) {
    const target = p.targetPort ?? p.port
    const n = typeof target === "number" ? target : typeof target === "string" && /^\d+$/.test(target) ? Number(target) : undefined
    if (n === undefined || !Number.isInteger(n) || n < 1 || n > 65535) return undefined
    if (!numbers.includes(n)) numbers.push(n)
  }
  return numbers.sort((a, b) => a - b)
}

/** `outer` selects every pod `inner` selects: each of outer's labels is one of inner's. */
export const coversAll = (outer: Selector, inner: Selector): boolean =>
  Object.entries(outer).every(([k, v]) => inner[k] === v)

/** Some pod could carry both selectors: no label is given two values. */
export const mayShare = (a: Selector, b: Selector): boolean =>
  Object.entries(a).every(([k, v]) => b[k] === undefined || b[k] === v)

/** The selectors have a label in common (the cache finds neighbours this way, through an index of label pairs). */
export const sharesLabel = (a: Selector | undefined, b: Selector): boolean =>
  a !== undefined && Object.entries(a).some(([k, v]) => b[k] === v)

/** The label pairs a selector is filed under, as the cache's index keys them. */
export const labelKeysOf = (namespace: string, selector: Selector): ReadonlyArray<string> =>
  Object.entries(selector).map(([k, v]) => `${namespace}/${k}=${v}`)

const showSelector = (s: Selector) =>
  Object.entries(s).map(([k, v]) => `${k}=${v}`).sort().join(",")

/** The in-cluster DNS suffix the VirtualService's destination uses too. */
const CLUSTER_DOMAIN = "cluster.local"

/**
 * The Host values a request to an Api may carry: its host, and its Service's in-cluster names,
 * each bare and with any port (Istio matches `hosts` exactly and case-insensitively, and a Host
 * header may carry a port: its best practices say to list `example.com` and `example.com:*`).
 */
export const namesOf = (fqdn: string | undefined, service: string, namespace: string): ReadonlyArray<string> =>
  [
    ...(fqdn !== undefined ? [fqdn] : []),
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.${CLUSTER_DOMAIN}`
  ].flatMap((h) => [h.toLowerCase(), `${h.toLowerCase()}:*`])

/** Another Service in the Api's namespace that may select the same pods, and the Apis targeting it. */
export interface Neighbour {
  readonly service: KubeObject
  readonly apis: ReadonlyArray<KubeObject>
  /**
   * The VirtualServices serving the hosts those Apis ask for (src/controller/Gather.ts fills it):
   * a host is an Api's name only while no older VirtualService holds it.
   */
  readonly hostClaims?: ReadonlyArray<KubeObject>
}

/** How the Api's workload is shared, as the rendering and validation need it. */
export interface Workload {
  /** Names the Api's DENY policy leaves to other Apis: their Services select every pod its Service does. */
  readonly delegatedHosts: ReadonlyArray<string>
  /** What Istio cannot keep apart, for this Api to report (it is the later of each pair); null when nothing. */
  readonly sharing: string | null
}

/** What one Api asks of its pods, as far as sharing them matters. */
interface Side {
  readonly api: KubeObject
  readonly selector: Selector
  readonly authenticated: boolean
  readonly mtls: boolean
}

const sideOf = (api: KubeObject, selector: Selector, config: ControllerConfig): Side => {
  const spec = Result.getOrUndefined(decodeSpec(api["spec"]))
  const plan = spec !== undefined ? authenticationPlan(spec, config) : undefined
  return { api, selector, authenticated: plan !== undefined, mtls: plan?.mtls === true }
}

/** An Api as its children's ownerReferences name it. */
const ownerOfApi = (api: KubeObject): Owner => ({
  apiVersion: api.apiVersion,
  kind: api.kind,
  name: api.metadata.name,
  namespace: api.metadata.namespace ?? "",
  uid: api.metadata.uid ?? ""
})

/** The host an Api asks for, when it holds it: no older VirtualService serves it (SPEC 6). */
const heldHost = (api: KubeObject, hostClaims: ReadonlyArray<KubeObject>, domainName: string): string | undefined => {
  const fqdn = claimsOf(api, domainName).fqdn
  return fqdn !== undefined && hostnameHolder(ownerOfApi(api), fqdn, hostClaims) === undefined ? fqdn : undefined
}

/** The Api that holds a Service: the oldest live one targeting it (SPEC 6). */
const holderOf = (apis: ReadonlyArray<KubeObject>, service: string): KubeObject | undefined =>
  apis.filter((a) => a.metadata.deletionTimestamp === undefined && targetServiceOf(a) === service).sort(byAge)[0]

/** One sentence per thing Istio cannot keep apart between `self` (the later) and `other`. */
const sharingProblems = (self: Side, other: Side): ReadonlyArray<string> => {
  const them = `Api ${keyOf(other.api)}`
  const problems: Array<string> = []
  if (self.mtls !== other.mtls) {
    const [strict, loose] = self.mtls ? ["this Api", them] : [them, "this Api"]
    problems.push(`mTLS is per pod: the STRICT PeerAuthentication of ${strict} also applies to ${loose}'s requests there`)
  }
  if (self.authenticated !== other.authenticated) {
    const [secured, open] = self.authenticated ? ["this Api", them] : [them, "this Api"]
    problems.push(
      `${open} asks for no authentication, but ${secured}'s ALLOW AuthorizationPolicy applies to the shared pods, ` +
        `so requests to ${open === "this Api" ? "its" : `${open}'s`} hosts there need ${secured === "this Api" ? "its" : `${secured}'s`} token`
    )
  } else if (self.authenticated) {
    // Each leaves the other's names out of its DENY only where the other's Service selects all of its pods.
    if (!coversAll(other.selector, self.selector)) {
      problems.push(`requests to ${them}'s hosts on the shared pods must also pass this Api's authentication`)
    }
    if (!coversAll(self.selector, other.selector)) {
      problems.push(`requests to this Api's hosts on the shared pods must also pass ${them}'s authentication`)
    }
  }
  return problems
}

/**
 * The workload of Api `self` (targeting a Service with `selector`) among its neighbours: which
 * names its DENY policy leaves to other Apis, and what it reports as shared. An Api's names are
 * its Service's in-cluster names, and its host while it holds it (`hostClaims`: the
 * VirtualServices serving it): a host another Api's VirtualService holds is that Api's to decide.
 */
export const workloadOf = (
  self: KubeObject,
  selector: Selector,
  neighbours: ReadonlyArray<Neighbour>,
  config: ControllerConfig,
  hostClaims: ReadonlyArray<KubeObject> = []
): Workload => {
  const namespace = self.metadata.namespace ?? ""
  const selfService = targetServiceOf(self)
  const ownNames = new Set(namesOf(heldHost(self, hostClaims, config.domainName), selfService ?? "", namespace))
  const me = sideOf(self, selector, config)
  const delegated = new Set<string>()
  const shared: Array<string> = []
  for (const n of neighbours) {
    const name = n.service.metadata.name
    const theirs = selectorOf(n.service)
    if (name === selfService || theirs === undefined || !mayShare(selector, theirs)) continue
    const holder = holderOf(n.apis, name)
    if (holder === undefined || holder.metadata.uid === self.metadata.uid) continue
    if (coversAll(theirs, selector)) {
      for (const h of namesOf(heldHost(holder, n.hostClaims ?? [], config.domainName), name, namespace)) {
        if (!ownNames.has(h)) delegated.add(h)
      }
    }
    // The later of the two reports the pair.
    if (byAge(holder, self) < 0) {
      const problems = sharingProblems(me, sideOf(holder, theirs, config))
      if (problems.length > 0) {
        shared.push(
          `Istio cannot keep this Api apart from Api ${keyOf(holder)} on the pods both Services may select ` +
            `(${selfService ?? "?"}: ${showSelector(selector)}; ${name}: ${showSelector(theirs)}): ${problems.join("; ")}`
        )
      }
    }
  }
  return {
    delegatedHosts: [...delegated].sort(),
    sharing: shared.length > 0
      ? `${shared.join(". ")}. Give each Api pods of its own (Service selectors that cannot match the same pod) to keep them apart`
      : null
  }
}
