/**
 * The Istio shapes the controller writes (SPEC 2, 10): a VirtualService
 * (`networking.istio.io/v1` or `v1alpha3`, same shape), the legacy
 * `authentication.istio.io/v1alpha1` Policy, and the `security.istio.io/v1` RequestAuthentication,
 * AuthorizationPolicy and PeerAuthentication. Only the fields we set are modelled; the server may
 * add others to a VirtualService, which comparison ignores (see `src/plan/ChildComparison.ts`).
 */
import { Schema } from "effect"
import { ObjectMeta } from "./Kube.ts"

export const CorsPolicy = Schema.Struct({
  allowOrigin: Schema.optionalKey(Schema.Array(Schema.String)),
  allowMethods: Schema.optionalKey(Schema.Array(Schema.String)),
  allowHeaders: Schema.optionalKey(Schema.Array(Schema.String))
})
export type CorsPolicy = typeof CorsPolicy.Type

export const HttpRoute = Schema.Struct({
  match: Schema.Array(Schema.Struct({ uri: Schema.Struct({ regex: Schema.String }) })),
  route: Schema.Array(Schema.Struct({
    destination: Schema.Struct({
      host: Schema.String,
      port: Schema.Struct({ number: Schema.Int })
    })
  })),
  corsPolicy: Schema.optionalKey(CorsPolicy)
})
export type HttpRoute = typeof HttpRoute.Type

export const VirtualServiceSpec = Schema.Struct({
  hosts: Schema.Array(Schema.String),
  gateways: Schema.Array(Schema.String),
  http: Schema.Array(HttpRoute)
})
export type VirtualServiceSpec = typeof VirtualServiceSpec.Type

export const VirtualService = Schema.Struct({
  apiVersion: Schema.Literals(["networking.istio.io/v1", "networking.istio.io/v1alpha3"]),
  kind: Schema.Literal("VirtualService"),
  metadata: ObjectMeta,
  spec: VirtualServiceSpec
})
export type VirtualService = typeof VirtualService.Type

/** Legacy Istio spells trigger rules in snake_case; we write them exactly so. */
export const StringMatch = Schema.Union([
  Schema.Struct({ exact: Schema.String }),
  Schema.Struct({ prefix: Schema.String }),
  Schema.Struct({ suffix: Schema.String }),
  Schema.Struct({ regex: Schema.String })
])
export type StringMatch = typeof StringMatch.Type

export const Jwt = Schema.Struct({
  issuer: Schema.String,
  jwksUri: Schema.String,
  trigger_rules: Schema.optionalKey(Schema.Array(Schema.Struct({
    excluded_paths: Schema.Array(StringMatch)
  })))
})
export type Jwt = typeof Jwt.Type

export const PolicySpec = Schema.Struct({
  targets: Schema.Array(Schema.Struct({ name: Schema.String })),
  principalBinding: Schema.Literal("USE_ORIGIN"),
  origins: Schema.Array(Schema.Struct({ jwt: Jwt })),
  peers: Schema.optionalKey(Schema.Array(Schema.Struct({ mtls: Schema.Struct({}) })))
})
export type PolicySpec = typeof PolicySpec.Type

export const Policy = Schema.Struct({
  apiVersion: Schema.Literal("authentication.istio.io/v1alpha1"),
  kind: Schema.Literal("Policy"),
  metadata: ObjectMeta,
  spec: PolicySpec
})
export type Policy = typeof Policy.Type

// ---------------------------------------------------------------------------------------------
// security.istio.io/v1 (SPEC 10)

/** Selects the target Service's workload: its pods carry the Service's `spec.selector` labels. */
export const WorkloadSelector = Schema.Struct({ matchLabels: Schema.Record(Schema.String, Schema.String) })
export type WorkloadSelector = typeof WorkloadSelector.Type

export const RequestAuthenticationSpec = Schema.Struct({
  selector: WorkloadSelector,
  jwtRules: Schema.Array(Schema.Struct({ issuer: Schema.String, jwksUri: Schema.String }))
})
export type RequestAuthenticationSpec = typeof RequestAuthenticationSpec.Type

export const RequestAuthentication = Schema.Struct({
  apiVersion: Schema.Literal("security.istio.io/v1"),
  kind: Schema.Literal("RequestAuthentication"),
  metadata: ObjectMeta,
  spec: RequestAuthenticationSpec
})
export type RequestAuthentication = typeof RequestAuthentication.Type

const Strings = Schema.optionalKey(Schema.Array(Schema.String))

export const AuthorizationRule = Schema.Struct({
  from: Schema.optionalKey(Schema.Array(Schema.Struct({
    source: Schema.Struct({ requestPrincipals: Strings, notRequestPrincipals: Strings })
  }))),
  to: Schema.optionalKey(Schema.Array(Schema.Struct({
    operation: Schema.Struct({ ports: Strings, paths: Strings, notPaths: Strings, hosts: Strings, notHosts: Strings })
  }))),
  /** Conditions; we use `request.auth.claims[iss]` to match a token's issuer exactly. */
  when: Schema.optionalKey(Schema.Array(Schema.Struct({ key: Schema.String, values: Strings, notValues: Strings })))
})
export type AuthorizationRule = typeof AuthorizationRule.Type

export const AuthorizationPolicySpec = Schema.Struct({
  selector: WorkloadSelector,
  action: Schema.Literals(["ALLOW", "DENY"]),
  rules: Schema.Array(AuthorizationRule)
})
export type AuthorizationPolicySpec = typeof AuthorizationPolicySpec.Type

export const AuthorizationPolicy = Schema.Struct({
  apiVersion: Schema.Literal("security.istio.io/v1"),
  kind: Schema.Literal("AuthorizationPolicy"),
  metadata: ObjectMeta,
  spec: AuthorizationPolicySpec
})
export type AuthorizationPolicy = typeof AuthorizationPolicy.Type

export const PeerAuthentication = Schema.Struct({
  apiVersion: Schema.Literal("security.istio.io/v1"),
  kind: Schema.Literal("PeerAuthentication"),
  metadata: ObjectMeta,
  spec: Schema.Struct({ selector: WorkloadSelector, mtls: Schema.Struct({ mode: Schema.Literal("STRICT") }) })
})
export type PeerAuthentication = typeof PeerAuthentication.Type

/** Read side: enough of any VirtualService to run the hostname check (SPEC 6). */
export const ObservedVirtualService = Schema.Struct({
  metadata: ObjectMeta,
  spec: Schema.optionalKey(Schema.Struct({
    hosts: Schema.optionalKey(Schema.Array(Schema.String))
  }))
})
export type ObservedVirtualService = typeof ObservedVirtualService.Type
