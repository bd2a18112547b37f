/**
 * What an authenticated Api's authentication would allow once the plan is applied: sample paths
 * (`/`, each excluded path, one under each excluded prefix, one with each excluded suffix) times
 * sample tokens (none, a valid one of each issuer, a valid one of an issuer the Api does not
 * name), each judged through the Api's host with IstioDecision.ts, next to what the legacy Policy
 * for the same spec decides.
 *
 * Under istio-security the request reaches a pod carrying the target Service's selector, and every
 * RequestAuthentication and AuthorizationPolicy in the namespace after convergence decides (what a
 * platform team wrote included); under istio-policy the Api's Policy itself decides. Regex excluded
 * paths are not sampled (no sample path follows from a regex without guessing).
 */
import type { ApiObject } from "../domain/Api.ts"
import type { Policy } from "../domain/Istio.ts"
import { Kinds, type KubeObject } from "../domain/Kube.ts"
import { ownerOf } from "../lifecycle/Observation.ts"
import type { AuthenticationBackend } from "../plan/AuthenticationBackend.ts"
import type { AuthenticationPlan } from "../plan/AuthenticationPlan.ts"
import { desiredPolicy } from "../plan/IstioPolicyBackend.ts"
import { isOwnedBy } from "../plan/Ownership.ts"
import { selectorOf } from "../plan/Workload.ts"
import { istioDecides, legacyDecides, type Request, type SecurityObjects, type Token, type Verdict } from "./IstioDecision.ts"
import type { DecisionRow, DecisionTable } from "./PlanReport.ts"
import type { Snapshot } from "./Snapshot.ts"

/** An issuer no Api names: `.invalid` is reserved for that (RFC 2606). */
export const FOREIGN_ISSUER = "https://foreign-issuer.invalid"

export const samplePaths = (plan: AuthenticationPlan): ReadonlyArray<string> => {
  const paths = ["/"]
  for (const origin of plan.origins) {
    for (const p of origin.excludedPaths) {
      if (p.kind === "exact") paths.push(p.value)
      else if (p.kind === "prefix") paths.push(`${p.value}${p.value.endsWith("/") ? "" : "/"}sample`)
      else if (p.kind === "suffix") paths.push(`/sample${p.value}`)
    }
  }
  return [...new Set(paths)]
}

export const sampleTokens = (plan: AuthenticationPlan): ReadonlyArray<{ readonly kind: DecisionRow["tokenKind"]; readonly token: Token | null }> => [
  { kind: "none", token: null },
  ...[...new Set(plan.origins.map((o) => o.issuer))].map((issuer) => ({ kind: "issuer" as const, token: { issuer, valid: true } })),
  { kind: "foreign", token: { issuer: FOREIGN_ISSUER, valid: true } }
]

/** The port on the pod that the Service's `port` leads to: its targetPort, else the port; undefined when named or absent. */
export const targetPortOf = (service: KubeObject | undefined, port: number): number | undefined => {
  const ports = (service?.["spec"] as { ports?: unknown } | undefined)?.ports
  if (!Array.isArray(ports)) return undefined
  const entry = (ports as ReadonlyArray<{ port?: unknown; targetPort?: unknown }>).find((p) => p.port === port)
  if (entry === undefined) return undefined
  const target = entry.targetPort ?? entry.port
  if (typeof target === "number") return target
  return typeof target === "string" && /^\d+$/.test(target) ? Number(target) : undefined
}

export interface DecisionInput {
  readonly api: ApiObject
  readonly plan: AuthenticationPlan
  /** The Api's host (fqdn). */
  readonly host: string
  /** The Service port the Api names. */
  readonly port: number
  readonly backend: AuthenticationBackend
  /** The cluster after convergence. */
  readonly snapshot: Snapshot
  readonly exposed: boolean
}

export const decisionTable = (input: DecisionInput): DecisionTable => {
  const { api, plan, host, backend, snapshot } = input
  const namespace = api.metadata.namespace ?? ""
  const owner = ownerOf(api)
  const legacy = desiredPolicy(owner, plan)
  const base = { host, exposed: input.exposed }
  const paths = samplePaths(plan)
  const tokens = sampleTokens(plan)

  let decide: (r: Request) => Verdict
  let extra: Partial<Pick<DecisionTable, "podLabels" | "port">> = {}
  if (backend.selectsWorkload) {
    const service = snapshot.get(Kinds.Service, namespace, plan.service)
    const labels = selectorOf(service)
    if (labels === undefined) {
      return {
        ...base,
        decidedBy: "istio-security",
        note: `no workload to judge: Service ${namespace}/${plan.service} ${service === undefined ? "does not exist" : "has no selector"}`,
        rows: []
      }
    }
    const port = targetPortOf(service, input.port)
    extra = { podLabels: labels, ...(port !== undefined ? { port } : {}) }
    const objects = {
      requestAuthentications: snapshot.list(Kinds.RequestAuthentication, namespace),
      authorizationPolicies: snapshot.list(Kinds.AuthorizationPolicy, namespace)
    } as unknown as SecurityObjects
    decide = (r) => istioDecides(objects, { namespace, labels }, port !== undefined ? { ...r, port } : r)
  } else {
    const policy = snapshot.list(Kinds.Policy, namespace).find((p) => p.metadata.name === api.metadata.name && isOwnedBy(p.metadata, owner))
    decide = (r) =>
      policy === undefined
        ? { allowed: true, why: "no Policy of the Api: nothing asks for a token" }
        : legacyDecides(policy as unknown as Policy, r)
          ? { allowed: true, why: `allowed by Policy ${policy.metadata.name}` }
          : { allowed: false, why: `401 from Policy ${policy.metadata.name}` }
  }

  const rows: Array<DecisionRow> = []
  try {
    for (const path of paths) {
      for (const t of tokens) {
        const r: Request = { host, path, method: "GET", token: t.token }
        const verdict = decide(r)
        rows.push({
          path,
          tokenKind: t.kind,
          token: t.token?.issuer ?? null,
          allowed: verdict.allowed,
          why: verdict.why,
          legacy: legacyDecides(legacy, r)
        })
      }
    }
  } catch (e) {
    // A policy someone else wrote uses what the judge does not model (a condition key, say).
    return { ...base, decidedBy: backend.name, ...extra, note: `not judged: ${e instanceof Error ? e.message : String(e)}`, rows: [] }
  }
  return { ...base, decidedBy: backend.name, ...extra, rows }
}
