/**
 * Renders an authentication plan for today's Istio (SPEC 10): `security.istio.io/v1`
 * RequestAuthentication, two AuthorizationPolicies (ALLOW and DENY) and, when mTLS applies,
 * PeerAuthentication, all selecting the target Service's workload by the Service's
 * `spec.selector`.
 *
 * The legacy Policy (USE_ORIGIN, one origin per issuer, excluded paths as trigger rules) lets a
 * request through when no origin is triggered for its path (every origin excludes it), or when
 * it carries a valid token of an origin that is triggered for its path. The ALLOW policy says
 * exactly that:
 *
 *   for each origin j: a token of issuer j  (requestPrincipals "<issuer>/*", claim iss = issuer)  on notPaths = excluded_j
 *   one more rule:      no token needed      on paths    = excluded_1 ∩ ... ∩ excluded_n
 *
 * The DENY policy (`<api>-deny`) denies its complement, so that no other ALLOW on the same pods
 * (another Api's, a platform team's) can widen the decision: Istio evaluates DENY first. Its
 * rules apply on the ports the Service leads to and leave out the hosts plan/Workload.ts
 * delegates to other Apis (`notHosts`):
 *
 *   no token                                   on notPaths = ∩ excluded
 *   a token of an issuer not among ours        on notPaths = ∩ excluded
 *   a token of issuer k, on a path k excludes  but not every origin does
 *
 * Issuers are matched exactly, by the token's `iss` claim: `"<issuer>/*"` alone would also match
 * the tokens of an issuer nested under it (`https://a/*` matches `https://a/b`'s principals).
 *
 * Istio paths are exact, `prefix*` or `*suffix`. The intersection of several origins' excluded
 * paths is computed pattern by pattern; where it is not one such pattern (a prefix meeting a
 * suffix), it is left out, so the rendering asks for a token where the legacy Policy did not,
 * never the reverse. Regular expressions cannot be expressed at all: validation refuses them
 * under this backend.
 */
import type { AuthorizationRule, PeerAuthentication, RequestAuthentication, AuthorizationPolicy } from "../domain/Istio.ts"
import { Kinds } from "../domain/Kube.ts"
import type { AuthenticationBackend, RenderTarget } from "./AuthenticationBackend.ts"
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

const metadataOf = (owner: Owner, suffix = "") => ({
  name: `${owner.name}${suffix}`,
  namespace: owner.namespace,
  labels: childLabels(owner),
  ownerReferences: [ownerReference(owner)]
})

/** The DENY policy's name: the Api's, with this suffix. */
export const DENY_SUFFIX = "-deny"

/** The condition key Istio fills with a validated token's `iss` claim. */
export const ISSUER_CLAIM = "request.auth.claims[iss]"

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

const excludedOf = (plan: AuthenticationPlan): ReadonlyArray<ReadonlyArray<Pattern>> =>
  plan.origins.map((o) => o.excludedPaths.flatMap((p) => patternOf(p) ?? []))

export const desiredAuthorizationPolicy = (
  owner: Owner,
  plan: AuthenticationPlan,
  selector: Readonly<Record<string, string>>
): AuthorizationPolicy => {
  const excluded = excludedOf(plan)
  const withToken: ReadonlyArray<AuthorizationRule> = plan.origins.map((o, j) => ({
    from: [{ source: { requestPrincipals: [`${o.issuer}/*`] } }],
    ...(excluded[j]!.length > 0 ? { to: [{ operation: { notPaths: excluded[j]!.map(istioPath) } }] } : {}),
    when: [{ key: ISSUER_CLAIM, values: [o.issuer] }]
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

/**
 * The complement of the ALLOW policy, for every request but those addressed to `delegatedHosts`.
 * An issuer given by several origins keeps the excluded paths of its first: where they differ,
 * the DENY asks for another token where the ALLOW would not need one (stricter, never wider).
 */
export const desiredDenyPolicy = (
  owner: Owner,
  plan: AuthenticationPlan,
  target: RenderTarget
): AuthorizationPolicy => {
  const excluded = excludedOf(plan)
  const open = pathsEveryOriginExcludes(excluded)
  const issuers = [...new Set(plan.origins.map((o) => o.issuer))]
  // Scoped to the Service's ports where they are known: a DENY rule made of HTTP attributes
  // also refuses every TCP connection in its scope (Istio's analyzer says so, IST0133); the ALLOW
  // policy refuses those already, so the scope says where the decision applies, not more.
  const ports = target.ports !== undefined && target.ports.length > 0 ? target.ports.map(String) : undefined
  const operation = (paths: ReadonlyArray<Pattern>) => {
    const op = {
      ...(ports !== undefined ? { ports } : {}),
      ...(paths.length > 0 ? { paths: paths.map(istioPath) } : {}),
      ...(open.length > 0 ? { notPaths: open.map(istioPath) } : {}),
      ...(target.delegatedHosts.length > 0 ? { notHosts: [...target.delegatedHosts] } : {})
    }
    return Object.keys(op).length > 0 ? { to: [{ operation: op }] } : {}
  }
  const perIssuer: ReadonlyArray<AuthorizationRule> = issuers.flatMap((issuer) => {
    const own = excluded[plan.origins.findIndex((o) => o.issuer === issuer)]!
    // Paths every origin excludes need no token at all: nothing left to deny for this issuer.
    const denied = own.filter((p) => !open.some((q) => coveredBy(p, q)))
    return denied.length > 0 ? [{ ...operation(denied), when: [{ key: ISSUER_CLAIM, values: [issuer] }] }] : []
  })
  return {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: metadataOf(owner, DENY_SUFFIX),
    spec: {
      selector: { matchLabels: { ...target.selector } },
      action: "DENY",
      rules: [
        { from: [{ source: { notRequestPrincipals: ["*"] } }], ...operation([]) },
        {
          from: [{ source: { requestPrincipals: ["*"] } }],
          ...operation([]),
          when: [{ key: ISSUER_CLAIM, notValues: issuers }]
        },
        ...perIssuer
      ]
    }
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
  slots: [
    { kind: Kinds.RequestAuthentication, suffix: "" },
    { kind: Kinds.AuthorizationPolicy, suffix: DENY_SUFFIX },
    { kind: Kinds.AuthorizationPolicy, suffix: "" },
    { kind: Kinds.PeerAuthentication, suffix: "" }
  ],
  selectsWorkload: true,
  excludedPathProblem: (kind, value) =>
    kind === "regex"
      ? "use exact, prefix or suffix: Istio authorization paths have no regular expressions (AUTH_BACKEND=istio-security)"
      : value.includes("*")
      ? "leave the * out: Istio authorization paths read it as a wildcard (AUTH_BACKEND=istio-security)"
      : undefined,
  issuerProblem: (issuer) =>
    issuer.includes("*")
      ? "leave the * out: Istio authorization reads it as a wildcard, so the issuer would match others (AUTH_BACKEND=istio-security)"
      : undefined,
  // The DENY goes in before the ALLOW: no moment where the ALLOW stands without its complement.
  render: (owner, plan, target) => [
    desiredRequestAuthentication(owner, plan, target.selector),
    desiredDenyPolicy(owner, plan, target),
    desiredAuthorizationPolicy(owner, plan, target.selector),
    ...(plan.mtls ? [desiredPeerAuthentication(owner, target.selector)] : [])
  ]
}
