/**
 * A judge of the whole pod: what Istio (1.6 and later) decides for a request reaching a pod's
 * sidecar, from every RequestAuthentication and AuthorizationPolicy that applies to the pod, not
 * only the ones one Api wrote; and what the legacy authentication Policy decided. Both written
 * here from the products' documented semantics, independently of the controller's renderers:
 *
 * - A policy applies to a pod in its namespace when it has no selector or its
 *   `selector.matchLabels` are among the pod's labels (workload policies in the root namespace
 *   are not modelled).
 * - RequestAuthentication: the `jwtRules` of every applying one are merged. A request with a
 *   token is rejected (401) when the token is invalid or its issuer is in no rule ("Jwt issuer is
 *   not configured"); a valid one gives the request principal `<iss>/<sub>` and its claims. A
 *   request without a token passes with no principal. With no RequestAuthentication on the pod a
 *   token is not looked at.
 * - AuthorizationPolicy, in Istio's order: CUSTOM (an external authorizer, here: it denies what
 *   it is asked about), then DENY (any matching rule denies), then ALLOW (with at least one ALLOW
 *   policy on the pod, the request needs a matching rule; with none, it is allowed). A policy
 *   with no rules matches nothing.
 * - A rule matches when one of its `from` sources, one of its `to` operations and all its `when`
 *   conditions match (an absent list matches anything). Within a source or operation every field
 *   given must match: a positive field when the request's value matches one of its values, a
 *   negative (`not…`) field when it matches none, a missing value (no principal) matching no
 *   positive field and every negative one.
 * - Values match exactly, as a prefix (`abc*`), a suffix (`*abc`) or by presence (`*`: any
 *   non-empty value). Hosts are compared case-insensitively and with the port as the request
 *   carries it (`example.com:*` matches `example.com:8080`, `example.com` does not). `ports` are
 *   the port on the pod the connection reaches.
 * - Conditions: `request.auth.claims[<name>]`, `request.auth.principal`, `request.headers[<name>]`.
 *
 * Legacy Policy (Istio ≤ 1.5, principalBinding USE_ORIGIN): an origin is triggered for a path
 * its trigger rule does not exclude; with no origin triggered the request passes (the token is
 * not looked at); otherwise it needs a valid token of a triggered origin.
 */
import type { AuthorizationPolicy, AuthorizationRule, Policy, RequestAuthentication } from "../domain/Istio.ts"

export interface Token {
  readonly issuer: string
  readonly valid: boolean
}

export interface Request {
  /** The Host (`:authority`) the request carries, possibly with a port. */
  readonly host: string
  /** The port on the pod the connection reaches (the Service's targetPort); any port when left out. */
  readonly port?: number
  readonly path: string
  readonly method: string
  readonly token: Token | null
  /** The peer's identity (mTLS), when it has one. */
  readonly sourcePrincipal?: string
  readonly sourceNamespace?: string
}

export interface Pod {
  readonly namespace: string
  readonly labels: Readonly<Record<string, string>>
}

/** Every security object in the cluster (or the part of it that matters), as the server holds them. */
export interface SecurityObjects {
  readonly requestAuthentications: ReadonlyArray<RequestAuthentication>
  readonly authorizationPolicies: ReadonlyArray<AuthorizationPolicy | CustomPolicy>
}

/** A CUSTOM policy (an external authorizer): only its shape matters here. */
export interface CustomPolicy {
  readonly kind: "AuthorizationPolicy"
  readonly metadata: { readonly name: string; readonly namespace?: string }
  readonly spec: {
    readonly selector?: { readonly matchLabels: Readonly<Record<string, string>> }
    readonly action: "CUSTOM"
    readonly rules: ReadonlyArray<AuthorizationRule>
  }
}

export interface Verdict {
  readonly allowed: boolean
  /** Which step decided and, for a policy, which one: for messages. */
  readonly why: string
}

export const SUBJECT = "subject"

const selects = (
  policy: { readonly metadata: { readonly namespace?: string }; readonly spec: { readonly selector?: { readonly matchLabels: Readonly<Record<string, string>> } } },
  pod: Pod
) =>
  (policy.metadata.namespace ?? "") === pod.namespace &&
  Object.entries(policy.spec.selector?.matchLabels ?? {}).every(([k, v]) => pod.labels[k] === v)

/** Istio's string match: exact, `prefix*`, `*suffix`, or `*` for any non-empty value. */
export const matchesValue = (pattern: string, value: string | undefined, caseInsensitive = false): boolean => {
  if (value === undefined || value === "") return false
  const p = caseInsensitive ? pattern.toLowerCase() : pattern
  const v = caseInsensitive ? value.toLowerCase() : value
  if (p === "*") return true
  if (p.endsWith("*")) return v.startsWith(p.slice(0, -1))
  if (p.startsWith("*")) return v.endsWith(p.slice(1))
  return v === p
}

const field = (
  positive: ReadonlyArray<string> | undefined,
  negative: ReadonlyArray<string> | undefined,
  value: string | undefined,
  caseInsensitive = false
): boolean =>
  (positive === undefined || positive.some((p) => matchesValue(p, value, caseInsensitive))) &&
  (negative === undefined || !negative.some((p) => matchesValue(p, value, caseInsensitive)))

interface Authenticated {
  readonly principal: string | undefined
  readonly claims: Readonly<Record<string, string>>
}

type Source = NonNullable<AuthorizationRule["from"]>[number]["source"] & {
  readonly principals?: ReadonlyArray<string>
  readonly notPrincipals?: ReadonlyArray<string>
  readonly namespaces?: ReadonlyArray<string>
  readonly notNamespaces?: ReadonlyArray<string>
}
type Operation = NonNullable<AuthorizationRule["to"]>[number]["operation"] & {
  readonly methods?: ReadonlyArray<string>
  readonly notMethods?: ReadonlyArray<string>
  readonly notPorts?: ReadonlyArray<string>
}

const sourceMatches = (s: Source, r: Request, auth: Authenticated) =>
  field(s.requestPrincipals, s.notRequestPrincipals, auth.principal) &&
  field(s.principals, s.notPrincipals, r.sourcePrincipal) &&
  field(s.namespaces, s.notNamespaces, r.sourceNamespace)

const operationMatches = (o: Operation, r: Request) =>
  field(o.ports, o.notPorts, r.port !== undefined ? String(r.port) : undefined) &&
  field(o.hosts, o.notHosts, r.host, true) &&
  field(o.methods, o.notMethods, r.method) &&
  field(o.paths, o.notPaths, r.path)

const attribute = (key: string, r: Request, auth: Authenticated): string | undefined => {
  const claim = /^request\.auth\.claims\[(.+)\]$/.exec(key)
  if (claim !== null) return auth.claims[claim[1]!]
  if (key === "request.auth.principal") return auth.principal
  const header = /^request\.headers\[(.+)\]$/.exec(key)
  if (header !== null) return header[1]!.toLowerCase() === "host" ? r.host : undefined
  throw new Error(`the judge does not model the condition key ${key}`)
}

export const ruleMatches = (rule: AuthorizationRule, r: Request, auth: Authenticated): boolean =>
  (rule.from === undefined || rule.from.some((f) => sourceMatches(f.source as Source, r, auth))) &&
  (rule.to === undefined || rule.to.some((t) => operationMatches(t.operation as Operation, r))) &&
  (rule.when ?? []).every((c) => field(c.values, c.notValues, attribute(c.key, r, auth)))

/** What Istio decides for `r` at `pod`, from everything that applies to the pod. */
export const istioDecides = (objects: SecurityObjects, pod: Pod, r: Request): Verdict => {
  // 1. Authentication: every applying RequestAuthentication's rules, merged.
  const jwtRules = objects.requestAuthentications.filter((ra) => selects(ra, pod)).flatMap((ra) => ra.spec.jwtRules)
  let auth: Authenticated = { principal: undefined, claims: {} }
  if (r.token !== null && jwtRules.length > 0) {
    if (!jwtRules.some((j) => j.issuer === r.token!.issuer)) return { allowed: false, why: "401: Jwt issuer is not configured" }
    if (!r.token.valid) return { allowed: false, why: "401: Jwt verification fails" }
    auth = { principal: `${r.token.issuer}/${SUBJECT}`, claims: { iss: r.token.issuer, sub: SUBJECT } }
  }
  // 2. Authorization: CUSTOM, DENY, ALLOW.
  const applying = objects.authorizationPolicies.filter((p) => selects(p, pod))
  const matching = (action: string) =>
    applying.filter((p) => p.spec.action === action).find((p) => p.spec.rules.some((rule) => ruleMatches(rule, r, auth)))
  const custom = matching("CUSTOM")
  if (custom !== undefined) return { allowed: false, why: `denied by CUSTOM ${custom.metadata.name}` }
  const deny = matching("DENY")
  if (deny !== undefined) return { allowed: false, why: `denied by DENY ${deny.metadata.name}` }
  const allows = applying.filter((p) => p.spec.action === "ALLOW")
  if (allows.length === 0) return { allowed: true, why: "no ALLOW policy on the pod" }
  const allow = matching("ALLOW")
  return allow !== undefined
    ? { allowed: true, why: `allowed by ALLOW ${allow.metadata.name}` }
    : { allowed: false, why: "no ALLOW policy matches" }
}

const legacyPathMatch = (p: Readonly<Record<string, string>>, path: string) =>
  p["exact"] !== undefined
    ? path === p["exact"]
    : p["prefix"] !== undefined
    ? path.startsWith(p["prefix"])
    : p["suffix"] !== undefined
    ? path.endsWith(p["suffix"])
    : new RegExp(p["regex"]!).test(path)

/** What the legacy Policy decided for a request that reached its Service. */
export const legacyDecides = (policy: Policy, r: Pick<Request, "path" | "token">): boolean => {
  const triggered = policy.spec.origins.filter((o) =>
    !(o.jwt.trigger_rules ?? []).some((t) => t.excluded_paths.some((p) => legacyPathMatch(p as Record<string, string>, r.path)))
  )
  if (triggered.length === 0) return true
  return r.token !== null && r.token.valid && triggered.some((o) => o.jwt.issuer === r.token!.issuer)
}
