/**
 * The controller configuration (SPEC 9), read from the legacy environment names. Parsing is pure
 * so the same rules serve the CLI, the tests and the deploy manifests; every problem becomes one
 * clear line naming the variable.
 */
import { Result, Schema } from "effect"
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


const LOG_LEVELS: Record<string, LogLevel> = {
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  warning: "Warn",
  error: "Error"
}

export type Env = Readonly<Record<string, string | undefined>>

/** Parses the environment; returns every problem, not just the first. */
export const parseControllerConfig = (env: Env): Result.Result<ControllerConfig, ReadonlyArray<Problem>> => {
  const problems: Array<Problem> = []
  const get = (name: string): string | undefined => {
    const v = env[name]?.trim()
    return v === undefined || v === "" ? undefined : v
  }
  const required = (name: string, what: string): string => {
    const v = get(name)
    if (v === undefined) problems.push({ path: name, message: `is required (${what})` })
    return v ?? ""
  }

  const domainName = required(ENV.domainName, "the cluster domain, e.g. kyma.local").toLowerCase().replace(/^\./, "")
  if (domainName !== "" && !DNS_SUBDOMAIN.test(domainName)) {
    problems.push({ path: ENV.domainName, message: `expected a DNS domain such as kyma.local, got ${JSON.stringify(domainName)}` })
  }
  const gatewayFqdn = required(ENV.gatewayFqdn, "the Istio gateway, e.g. kyma-gateway.kyma-system.svc.cluster.local")
  if (gatewayFqdn !== "" && !GATEWAY_REF.test(gatewayFqdn)) {
    problems.push({
      path: ENV.gatewayFqdn,
      message: `expected a gateway host such as kyma-gateway.kyma-system.svc.cluster.local, got ${JSON.stringify(gatewayFqdn)}`
    })
  }
  const defaultIssuer = required(ENV.defaultIssuer, "the JWT issuer used when authentication is on without rules")
  if (defaultIssuer !== "" && !isAbsoluteHttpUrl(defaultIssuer)) {
    problems.push({ path: ENV.defaultIssuer, message: `expected an absolute http(s) URL, got ${JSON.stringify(defaultIssuer)}` })
  }
  const defaultJwksUri = required(ENV.defaultJwksUri, "the JWKS URL of the default issuer")
  if (defaultJwksUri !== "" && !isAbsoluteHttpUrl(defaultJwksUri)) {
    problems.push({ path: ENV.defaultJwksUri, message: `expected an absolute http(s) URL, got ${JSON.stringify(defaultJwksUri)}` })
  }

  let enableMtls = true
  const mtls = get(ENV.enableMtls)?.toLowerCase()
  if (mtls !== undefined) {
    if (mtls === "true" || mtls === "1" || mtls === "yes") enableMtls = true
    else if (mtls === "false" || mtls === "0" || mtls === "no") enableMtls = false
    else problems.push({ path: ENV.enableMtls, message: `expected true or false, got ${JSON.stringify(get(ENV.enableMtls))}` })
  }

  const allowOrigin = splitList(env[ENV.corsAllowOrigin])
  const allowMethods = splitList(env[ENV.corsAllowMethods])
  const allowHeaders = splitList(env[ENV.corsAllowHeaders])
  const corsConfigured = allowOrigin.length + allowMethods.length + allowHeaders.length > 0

  // Service and namespace names are DNS labels, so an entry has exactly one dot. All malformed
  // entries go on one line: one line per bad variable.
  const blacklistedServices: Array<BlacklistedService> = []
  const malformed: Array<string> = []
  for (const item of splitList(env[ENV.blacklistedServices])) {
    const parts = item.split(".")
    const [name, namespace] = parts
    if (parts.length === 2 && name !== undefined && namespace !== undefined && DNS_LABEL.test(name) && DNS_LABEL.test(namespace)) {
      blacklistedServices.push({ name, namespace })
    } else malformed.push(JSON.stringify(item))
  }
  if (malformed.length > 0) {
    problems.push({
      path: ENV.blacklistedServices,
      message: `expected comma-separated <service>.<namespace> entries such as kubernetes.default, got ${malformed.join(", ")}`
    })
  }

  let logLevel: LogLevel = "Info"
  const rawLevel = get(ENV.logLevel)
  if (rawLevel !== undefined) {
    const level = LOG_LEVELS[rawLevel.toLowerCase()]
    if (level === undefined) {
      problems.push({ path: ENV.logLevel, message: `expected one of trace, debug, info, warn, error, got ${JSON.stringify(rawLevel)}` })
    } else logLevel = level
  }

  let authBackend: AuthBackendChoice = "auto"
  const rawBackend = get(ENV.authBackend)
  if (rawBackend !== undefined) {
    const choice = AuthBackendChoice.literals.find((l) => l === rawBackend.toLowerCase())
    if (choice === undefined) {
      problems.push({
        path: ENV.authBackend,
        message: `expected one of ${AuthBackendChoice.literals.join(", ")}, got ${JSON.stringify(rawBackend)}`
      })
    } else authBackend = choice
  }

  if (problems.length > 0) return Result.fail(problems)
  const config: ControllerConfig = {
    domainName,
    gatewayFqdn,
    defaultIssuer,
    defaultJwksUri,
    enableMtls,
    ...(corsConfigured ? { cors: { allowOrigin, allowMethods, allowHeaders } } : {}),
    blacklistedServices,
    logLevel,
    authBackend
  }
  // Belt and braces: the parsed value must satisfy its own schema.
  return Result.mapError(
    Schema.decodeUnknownResult(ControllerConfig)(config),
    (e) => problemsOf(e.issue, "config")
  )
}
