/**
 * What authentication an Api asks for, independent of how it is rendered (SPEC 4). The Istio
 * `authentication.istio.io/v1alpha1` Policy is one rendering (`IstioPolicyBackend.ts`); a
 * RequestAuthentication + AuthorizationPolicy rendering can follow from the same plan.
 */
import type { ApiSpec, ExcludedPathKind } from "../domain/Api.ts"
import { EXCLUDED_PATH_KINDS } from "../domain/Api.ts"
import type { ControllerConfig } from "../domain/ControllerConfig.ts"

export interface PathMatch {
  readonly kind: ExcludedPathKind
  readonly value: string
}

export interface JwtOrigin {
  readonly issuer: string
  readonly jwksUri: string
  /** Paths that need no token. */
  readonly excludedPaths: ReadonlyArray<PathMatch>
}

export interface AuthenticationPlan {
  /** The Service the authentication applies to: the whole service, not per endpoint (seed). */
  readonly service: string
  readonly origins: ReadonlyArray<JwtOrigin>
  readonly mtls: boolean
}

const jwtRules = (spec: ApiSpec) => (spec.authentication ?? []).filter((r) => r.type === "JWT" && r.jwt !== undefined)

/**
 * SPEC 4, exactly:
 * - `authenticationEnabled: false` -> none, whatever the rules say;
 * - absent, no rules -> none;
 * - absent or true, with rules -> one origin per JWT rule, in spec order;
 * - true, no rules -> one origin from the controller defaults.
 */
export const authenticationPlan = (spec: ApiSpec, config: ControllerConfig): AuthenticationPlan | undefined => {
  if (spec.authenticationEnabled === false) return undefined
  const rules = jwtRules(spec)
  if (rules.length === 0 && spec.authenticationEnabled !== true) return undefined
  const origins: ReadonlyArray<JwtOrigin> = rules.length > 0
    ? rules.map((r) => ({
      issuer: r.jwt!.issuer,
      jwksUri: r.jwt!.jwksUri,
      excludedPaths: (r.jwt!.triggerRule?.excludedPaths ?? []).flatMap((p) =>
        EXCLUDED_PATH_KINDS.flatMap((kind) => (p[kind] !== undefined ? [{ kind, value: p[kind] }] : []))
      )
    }))
    : [{ issuer: config.defaultIssuer, jwksUri: config.defaultJwksUri, excludedPaths: [] }]
  return {
    service: spec.service.name,
    origins,
    mtls: config.enableMtls && spec.disableIstioAuthPolicyMTLS !== true
  }
}
