/**
 * The controller configuration (SPEC 9), read from the legacy environment names through one
 * Schema (`ControllerEnv`), so the same rules serve the CLI, the tests and the deploy manifests;
 * every problem becomes one clear line naming the variable.
 */
import { Result, Schema, SchemaTransformation } from "effect"
import { DNS_LABEL, DNS_SUBDOMAIN, GATEWAY_REF, isAbsoluteHttpUrl } from "./Names.ts"
import { type Problem, problemsOf } from "./Problems.ts"

export const BlacklistedService = Schema.Struct({ name: Schema.String, namespace: Schema.String })
export type BlacklistedService = typeof BlacklistedService.Type

export const Cors = Schema.Struct({
  allowOrigin: Schema.Array(Schema.String),
  allowMethods: Schema.Array(Schema.String),
  allowHeaders: Schema.Array(Schema.String)
})
export type Cors = typeof Cors.Type

export const LogLevel = Schema.Literals(["Trace", "Debug", "Info", "Warn", "Error"])
export type LogLevel = typeof LogLevel.Type

/** `AUTH_BACKEND` (SPEC 9, 10): which objects carry authentication; `auto` asks the cluster at start. */
export const AuthBackendChoice = Schema.Literals(["auto", "istio-security", "istio-policy"])
export type AuthBackendChoice = typeof AuthBackendChoice.Type

export const ControllerConfig = Schema.Struct({
  /** e.g. `kyma.local`; hostnames are completed with it and must end with it. */
  domainName: Schema.String,
  /** e.g. `kyma-gateway.kyma-system.svc.cluster.local`. */
  gatewayFqdn: Schema.String,
  defaultIssuer: Schema.String,
  defaultJwksUri: Schema.String,
  enableMtls: Schema.Boolean,
  /** Absent when no CORS variable is set: the VirtualService then carries no corsPolicy. */
  cors: Schema.optionalKey(Cors),
  blacklistedServices: Schema.Array(BlacklistedService),
  logLevel: LogLevel,
  authBackend: AuthBackendChoice
})
export type ControllerConfig = typeof ControllerConfig.Type

export const ENV = {
  domainName: "DOMAIN_NAME",
  gatewayFqdn: "GATEWAY_FQDN",
  defaultIssuer: "DEFAULT_ISSUER",
  defaultJwksUri: "DEFAULT_JWKS_URI",
  enableMtls: "ENABLE_MTLS",
  corsAllowOrigin: "CORS_ALLOW_ORIGIN",
  corsAllowMethods: "CORS_ALLOW_METHODS",
  corsAllowHeaders: "CORS_ALLOW_HEADERS",
  blacklistedServices: "BLACKLISTED_SERVICES",
  logLevel: "LOG_LEVEL",
  authBackend: "AUTH_BACKEND"
} as const

/** Comma-separated, trimmed, empty items dropped (SPEC 9). */
export const splitList = (raw: string | undefined): ReadonlyArray<string> =>
  raw === undefined ? [] : raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0)

const LOG_LEVELS: Readonly<Record<string, LogLevel>> = {
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  warning: "Warn",
  error: "Error"
}

const TRUE = ["true", "1", "yes"]
const FALSE = ["false", "0", "no"]

export type Env = Readonly<Record<string, string | undefined>>

// ---------------------------------------------------------------------------------------------
// The environment as one Schema: each variable's rule and message in one place, every problem
// reported at once, one line each, by the same formatter as the Api's spec (Problems.ts).

const required = <S extends Schema.Top>(schema: S, what: string) =>
  schema.pipe(Schema.annotateKey({ messageMissingKey: `is required (${what})` }))

const satisfying = (predicate: (s: string) => boolean, expected: string) =>
  Schema.String.pipe(Schema.check(Schema.makeFilter(predicate, { expected })))

const oneOf = (values: ReadonlyArray<string>, expected = `one of ${values.join(", ")}`) =>
  satisfying((s) => values.includes(s.toLowerCase()), expected)

/** A domain is compared lower-case, without a leading dot. */
const DomainName = Schema.String.pipe(
  Schema.decodeTo(
    satisfying((s) => DNS_SUBDOMAIN.test(s), "a DNS domain such as kyma.local"),
    SchemaTransformation.transform({ decode: (s: string) => s.toLowerCase().replace(/^\./, ""), encode: (s: string) => s })
  )
)

const HttpUrl = satisfying(isAbsoluteHttpUrl, "an absolute http(s) URL")

/** `<service>.<namespace>` entries; the message names every malformed one. */
const ServiceList = Schema.String.pipe(Schema.check(Schema.makeFilter((raw: string) => {
  const malformed = splitList(raw).filter((item) => {
    const parts = item.split(".")
    return !(parts.length === 2 && parts.every((p) => DNS_LABEL.test(p)))
  })
  return malformed.length === 0 ||
    `expected comma-separated <service>.<namespace> entries such as kubernetes.default, got ${malformed.map((m) => JSON.stringify(m)).join(", ")}`
})))

/** Comma-separated items that must each pass `valid`; the message names every item that does not. */
const ListOf = (valid: (item: string) => boolean, expected: string) =>
  Schema.String.pipe(Schema.check(Schema.makeFilter((raw: string) => {
    const bad = splitList(raw).filter((item) => !valid(item))
    return bad.length === 0 || `expected ${expected}, got ${bad.map((b) => JSON.stringify(b)).join(", ")}`
  })))

/** What Istio accepts in a corsPolicy (its validation refuses the VirtualService otherwise). */
const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

export const ControllerEnv = Schema.Struct({
  [ENV.domainName]: required(DomainName, "the cluster domain, e.g. kyma.local"),
  [ENV.gatewayFqdn]: required(
    satisfying((s) => GATEWAY_REF.test(s), "a gateway host such as kyma-gateway.kyma-system.svc.cluster.local"),
    "the Istio gateway, e.g. kyma-gateway.kyma-system.svc.cluster.local"
  ),
  [ENV.defaultIssuer]: required(HttpUrl, "the JWT issuer used when authentication is on without rules"),
  [ENV.defaultJwksUri]: required(HttpUrl, "the JWKS URL of the default issuer"),
  [ENV.enableMtls]: Schema.optionalKey(oneOf([...TRUE, ...FALSE], "true or false")),
  [ENV.corsAllowOrigin]: Schema.optionalKey(Schema.String),
  [ENV.corsAllowMethods]: Schema.optionalKey(
    ListOf((m) => HTTP_METHODS.includes(m), "comma-separated HTTP methods in capitals such as GET,POST,OPTIONS")
  ),
  [ENV.corsAllowHeaders]: Schema.optionalKey(
    ListOf((h) => HEADER_NAME.test(h), "comma-separated HTTP header names such as Authorization,Content-Type")
  ),
  [ENV.blacklistedServices]: Schema.optionalKey(ServiceList),
  [ENV.logLevel]: Schema.optionalKey(oneOf(Object.keys(LOG_LEVELS), "one of trace, debug, info, warn, error")),
  [ENV.authBackend]: Schema.optionalKey(oneOf(AuthBackendChoice.literals))
})
export type ControllerEnv = typeof ControllerEnv.Type

const decodeEnv = Schema.decodeUnknownResult(ControllerEnv)

/** The variables as the controller reads them: trimmed; a blank one counts as unset. */
export const presentEnv = (env: Env): Record<string, string> =>
  Object.fromEntries(Object.values(ENV).flatMap((name) => {
    const v = env[name]?.trim()
    return v === undefined || v === "" ? [] : [[name, v]]
  }))

/** The configuration the environment describes, with the defaults of SPEC 9. */
export const configOf = (e: ControllerEnv): ControllerConfig => {
  const allowOrigin = splitList(e[ENV.corsAllowOrigin])
  const allowMethods = splitList(e[ENV.corsAllowMethods])
  const allowHeaders = splitList(e[ENV.corsAllowHeaders])
  const mtls = e[ENV.enableMtls]?.toLowerCase()
  return {
    domainName: e[ENV.domainName],
    gatewayFqdn: e[ENV.gatewayFqdn],
    defaultIssuer: e[ENV.defaultIssuer],
    defaultJwksUri: e[ENV.defaultJwksUri],
    // Secure by default: only an explicit false turns peer mTLS off.
    enableMtls: mtls === undefined || !FALSE.includes(mtls),
    // An unset variable means "no such header", not "allow nothing": no corsPolicy at all.
    ...(allowOrigin.length + allowMethods.length + allowHeaders.length > 0 ? { cors: { allowOrigin, allowMethods, allowHeaders } } : {}),
    blacklistedServices: splitList(e[ENV.blacklistedServices]).map((item) => {
      const [name, namespace] = item.split(".") as [string, string]
      return { name, namespace }
    }),
    logLevel: LOG_LEVELS[e[ENV.logLevel]?.toLowerCase() ?? "info"] ?? "Info",
    authBackend: (e[ENV.authBackend]?.toLowerCase() as AuthBackendChoice | undefined) ?? "auto"
  }
}

/** Reads the environment; returns every problem, not just the first. */
export const parseControllerConfig = (env: Env): Result.Result<ControllerConfig, ReadonlyArray<Problem>> =>
  Result.map(
    Result.mapError(decodeEnv(presentEnv(env), { errors: "all", reportInput: true }), (e) => problemsOf(e.issue)),
    configOf
  )
