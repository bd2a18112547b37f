/**
 * Renders an authentication plan for today's Istio (SPEC 10): `security.istio.io/v1`
 * RequestAuthentication, AuthorizationPolicy and, when mTLS applies, PeerAuthentication, all
 * selecting the target Service's workload by the Service's `spec.selector`.
 *
 * The legacy Policy (USE_ORIGIN, one origin per issuer, excluded paths as trigger rules) lets a
 * request through when no origin is triggered for its path (every origin excludes it), or when
 * it carries a valid token of an origin that is triggered for its path. The AuthorizationPolicy
 * says exactly that with ALLOW rules:
 *
 *   for each origin j: a token of issuer j  (requestPrincipals "<issuer>/*")  on notPaths = excluded_j
 *   one more rule:      no token needed      on paths    = excluded_1 ∩ ... ∩ excluded_n
 *
 * Istio paths are exact, `prefix*` or `*suffix`. The intersection of several origins' excluded
 * paths is computed pattern by pattern; where it is not one such pattern (a prefix meeting a
 * suffix), it is left out, so the rendering asks for a token where the legacy Policy did not,
 * never the reverse. Regular expressions cannot be expressed at all: validation refuses them
 * under this backend.
 */
import type { AuthorizationRule, PeerAuthentication, RequestAuthentication, AuthorizationPolicy } from "../domain/Istio.ts"
import { Kinds } from "../domain/Kube.ts"
import type { AuthenticationBackend } from "./AuthenticationBackend.ts"
import type { AuthenticationPlan, PathMatch } from "./AuthenticationPlan.ts"
import { childLabels, type Owner, ownerReference } from "./Ownership.ts"

/** A path pattern Istio authorization can match. */
type Pattern = { readonly kind: "exact" | "prefix" | "suffix"; readonly value: string }

/** How a legacy excluded path reads as an Istio pattern (regex never gets here: validation refuses it). */
const patternOf = (p: PathMatch): Pattern | undefined =>
  p.kind === "regex" ? undefined : { kind: p.kind, value: p.value }

/** Istio spells prefix and suffix matches with a `*` at the end or the start. */
export const istioPath = (p: Pattern): string =>
  p.kind === "exact" ? p.value : p.kind === "prefix" ? `${p.value}*` : `*${p.value}`

const matches = (p: Pattern, path: string): boolean =>
  p.kind === "exact" ? path === p.value : p.kind === "prefix" ? path.startsWith(p.value) : path.endsWith(p.value)

/** The paths both patterns match, when that is itself one pattern; undefined when it is empty or not expressible. */
const intersect = (a: Pattern, b: Pattern): Pattern | undefined => {
  if (a.kind === "exact") return matches(b, a.value) ? a : undefined
  if (b.kind === "exact") return matches(a, b.value) ? b : undefined
  if (a.kind === b.kind) {
    const [short, long] = a.value.length <= b.value.length ? [a, b] : [b, a]
    const contains = a.kind === "prefix" ? long.value.startsWith(short.value) : long.value.endsWith(short.value)
    return contains ? long : undefined
  }
  // A prefix and a suffix: "starts with x and ends with y" has no single Istio pattern.
  return undefined
}

const key = (p: Pattern) => `${p.kind}:${p.value}`

/** The paths every origin excludes, as far as Istio patterns can say it (erring towards fewer). */
export const pathsEveryOriginExcludes = (origins: ReadonlyArray<ReadonlyArray<Pattern>>): ReadonlyArray<Pattern> => {
  const [first, ...rest] = origins
  if (first === undefined) return []
  let common: ReadonlyArray<Pattern> = first
  for (const next of rest) {
    const meet = new Map<string, Pattern>()
    for (const a of common) {
      for (const b of next) {
        const c = intersect(a, b)
        if (c !== undefined) meet.set(key(c), c)
      }
    }
    common = [...meet.values()]
  }
  // Drop patterns another one already covers (e.g. an exact path under a kept prefix).
  return common.filter((p) => !common.some((q) => q !== p && key(q) !== key(p) && coveredBy(p, q)))
}

const coveredBy = (p: Pattern, q: Pattern): boolean => intersect(p, q) !== undefined && key(intersect(p, q)!) === key(p)

const metadataOf = (owner: Owner) => ({
  name: owner.name,
  namespace: owner.namespace,
  labels: childLabels(owner),
  ownerReferences: [ownerReference(owner)]
})

export const desiredRequestAuthentication = (
  owner: Owner,
  plan: AuthenticationPlan,
  selector: Readonly<Record<string, string>>
): RequestAuthentication => ({
  apiVersion: "security.istio.io/v1",
  kind: "RequestAuthentication",
  metadata: metadataOf(owner),
  spec: {
    selector: { matchLabels: { ...selector } },
    jwtRules: plan.origins.map((o) => ({ issuer: o.issuer, jwksUri: o.jwksUri }))
  }
})

export const desiredAuthorizationPolicy = (
  owner: Owner,
  plan: AuthenticationPlan,
  selector: Readonly<Record<string, string>>
): AuthorizationPolicy => {
  const excluded = plan.origins.map((o) => o.excludedPaths.flatMap((p) => patternOf(p) ?? []))
  const withToken: ReadonlyArray<AuthorizationRule> = plan.origins.map((o, j) => ({
    from: [{ source: { requestPrincipals: [`${o.issuer}/*`] } }],
    ...(excluded[j]!.length > 0 ? { to: [{ operation: { notPaths: excluded[j]!.map(istioPath) } }] } : {})
  }))
  const open = pathsEveryOriginExcludes(excluded)
  const withoutToken: ReadonlyArray<AuthorizationRule> = open.length > 0
    ? [{ to: [{ operation: { paths: open.map(istioPath) } }] }]
    : []
  return {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: metadataOf(owner),
    spec: { selector: { matchLabels: { ...selector } }, action: "ALLOW", rules: [...withToken, ...withoutToken] }
  }
}

export const desiredPeerAuthentication = (
  owner: Owner,
  selector: Readonly<Record<string, string>>
): PeerAuthentication => ({
  apiVersion: "security.istio.io/v1",
  kind: "PeerAuthentication",
  metadata: metadataOf(owner),
  spec: { selector: { matchLabels: { ...selector } }, mtls: { mode: "STRICT" } }
})

export const IstioSecurityBackend: AuthenticationBackend = {
  name: "istio-security",
  kinds: [Kinds.RequestAuthentication, Kinds.AuthorizationPolicy, Kinds.PeerAuthentication],
  selectsWorkload: true,
  excludedPathProblem: (kind, value) =>
    kind === "regex"
      ? "use exact, prefix or suffix: Istio authorization paths have no regular expressions (AUTH_BACKEND=istio-security)"
      : value.includes("*")
      ? "leave the * out: Istio authorization paths read it as a wildcard (AUTH_BACKEND=istio-security)"
      : undefined,
  render: (owner, plan, selector) => [
    desiredRequestAuthentication(owner, plan, selector),
    desiredAuthorizationPolicy(owner, plan, selector),
    ...(plan.mtls ? [desiredPeerAuthentication(owner, selector)] : [])
  ]
}
