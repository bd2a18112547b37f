/**
 * The `Api` resource (`gateway.kyma-project.io/v1alpha2`) as users write it (SPEC 1) and as the
 * controller reports on it (SPEC 3). Structural rules live here; rules that need the controller
 * configuration (domain, blacklist, ...) live in `src/plan/Validation.ts`.
 */
import { Option, Result, Schema } from "effect"
import { ObjectMeta } from "./Kube.ts"
import { DNS_LABEL, HOST_NAME } from "./Names.ts"
import { type Problem, problemsOf } from "./Problems.ts"

// ---------------------------------------------------------------------------------------------
// spec


const ServiceName = Schema.String.pipe(
  Schema.check(Schema.isMaxLength(63), Schema.isPattern(DNS_LABEL))
).annotate({ expected: "a DNS label (lower-case letters, digits and '-', at most 63 characters)" })

const Port = Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 65535 }))).annotate({
  expected: "an integer between 1 and 65535"
})

const Hostname = Schema.String.pipe(Schema.check(
  Schema.isMaxLength(253),
  Schema.isPattern(HOST_NAME),
  // DNS caps each label at 63 characters; a longer one would only fail later, at Istio.
  Schema.makeFilter((h: string) => h.split(".").every((label) => label.length <= 63))
)).annotate({
  expected: "a host name such as \"my-api\" or \"my-api.<domain>\""
})

const NonEmpty = Schema.String.pipe(Schema.check(Schema.isMinLength(1))).annotate({ expected: "a non-empty string" })

export const EXCLUDED_PATH_KINDS = ["exact", "prefix", "suffix", "regex"] as const
export type ExcludedPathKind = typeof EXCLUDED_PATH_KINDS[number]

export const ExcludedPath = Schema.Struct({
  exact: Schema.optionalKey(Schema.String),
  prefix: Schema.optionalKey(Schema.String),
  suffix: Schema.optionalKey(Schema.String),
  regex: Schema.optionalKey(Schema.String)
}).pipe(
  Schema.check(
    Schema.makeFilter(
      (p: { readonly [K in ExcludedPathKind]?: string }) =>
        EXCLUDED_PATH_KINDS.filter((k) => p[k] !== undefined).length === 1,
      { expected: "exactly one of exact, prefix, suffix or regex" }
    )
  )
)
export type ExcludedPath = typeof ExcludedPath.Type

export const JwtRule = Schema.Struct({
  issuer: NonEmpty,
  jwksUri: NonEmpty,
  triggerRule: Schema.optionalKey(Schema.Struct({
    excludedPaths: Schema.optionalKey(Schema.Array(ExcludedPath))
  }))
})
export type JwtRule = typeof JwtRule.Type

/** `type` is checked by validation, so an unknown type gets a message, not a decode error. */
export const AuthenticationRule = Schema.Struct({
  type: Schema.String,
  jwt: Schema.optionalKey(JwtRule)
})
export type AuthenticationRule = typeof AuthenticationRule.Type

export const ApiSpec = Schema.Struct({
  service: Schema.Struct({ name: ServiceName, port: Port }),
  hostname: Hostname,
  authenticationEnabled: Schema.optionalKey(Schema.Boolean),
  disableIstioAuthPolicyMTLS: Schema.optionalKey(Schema.Boolean),
  authentication: Schema.optionalKey(Schema.Array(AuthenticationRule))
})
export type ApiSpec = typeof ApiSpec.Type

// ---------------------------------------------------------------------------------------------
// status

export const ResourceRef = Schema.Struct({
  name: Schema.String,
  uid: Schema.String,
  version: Schema.String
})
export type ResourceRef = typeof ResourceRef.Type

export const GatewayResourceStatus = Schema.Struct({
  code: Schema.Int,
  lastError: Schema.optionalKey(Schema.String),
  resource: Schema.optionalKey(ResourceRef)
})
export type GatewayResourceStatus = typeof GatewayResourceStatus.Type

export const Condition = Schema.Struct({
  type: Schema.String,
  status: Schema.Literals(["True", "False", "Unknown"]),
  reason: Schema.String,
  message: Schema.String,
  lastTransitionTime: Schema.String,
  observedGeneration: Schema.optionalKey(Schema.Number)
})
export type Condition = typeof Condition.Type

/**
 * One step of a machine, kept (bounded) so `describe` and the web view can show a timeline.
 * `machine` is a name from machines/Catalog.ts; older versions wrote "policy" for authentication.
 */
export const Transition = Schema.Struct({
  machine: Schema.String,
  from: Schema.String,
  to: Schema.String,
  at: Schema.String,
  message: Schema.optionalKey(Schema.String)
})
export type Transition = typeof Transition.Type

export const ApiStatus = Schema.Struct({
  validationStatus: Schema.optionalKey(Schema.Int),
  lastError: Schema.optionalKey(Schema.String),
  virtualService: Schema.optionalKey(GatewayResourceStatus),
  authenticationStatus: Schema.optionalKey(GatewayResourceStatus),
  observedGeneration: Schema.optionalKey(Schema.Number),
  conditions: Schema.optionalKey(Schema.Array(Condition)),
  transitions: Schema.optionalKey(Schema.Array(Transition))
})
export type ApiStatus = typeof ApiStatus.Type

// ---------------------------------------------------------------------------------------------
// the object

/**
 * An Api as read from the cluster. `spec` and `status` stay raw here: a bad spec must still be
 * reported on (status code 3), and a status written by someone else must not stop the controller.
 */
export const ApiObject = Schema.Struct({
  apiVersion: Schema.String,
  kind: Schema.String,
  metadata: ObjectMeta.pipe(Schema.check(Schema.makeFilter(
    (m: ObjectMeta) => m.namespace !== undefined && m.uid !== undefined,
    { expected: "metadata with a namespace and a uid" }
  ))),
  spec: Schema.optionalKey(Schema.Unknown),
  status: Schema.optionalKey(Schema.Unknown)
})
export type ApiObject = typeof ApiObject.Type

const decodeSpecResult = Schema.decodeUnknownResult(ApiSpec)

/** The spec, or every structural problem with it, each naming its field under `spec.`. */
export const decodeSpec = (u: unknown): Result.Result<ApiSpec, ReadonlyArray<Problem>> =>
  u === undefined || u === null
    ? Result.fail([{ path: "spec", message: "is required" }])
    : Result.mapError(decodeSpecResult(u, { errors: "all", reportInput: true }), (e) => problemsOf(e.issue, "spec"))

const decodeStatusOption = Schema.decodeUnknownOption(ApiStatus)

/** The status as last written. An unreadable status counts as none: the next pass rebuilds it. */
export const decodeStatus = (u: unknown): ApiStatus =>
  u === undefined || u === null ? {} : Option.getOrElse(decodeStatusOption(u), () => ({}))

/**
 * The finalizer earlier versions put on every Api. Children are garbage-collected now (SPEC 2,
 * 8), so the controller removes it wherever it finds it.
 */
export const LEGACY_FINALIZER = "gateway.kyma-project.io/api-controller"
