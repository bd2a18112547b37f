/**
 * Validation of an Api against the controller configuration (SPEC 7). Pure: the same spec and
 * configuration always give the same problems, each a sentence saying what is wrong and how to
 * fix it. Structural problems come from the schema (`decodeSpec`); these are the rest.
 */
import { Result } from "effect"
import { type ApiSpec, decodeSpec, EXCLUDED_PATH_KINDS } from "../domain/Api.ts"
import type { ControllerConfig } from "../domain/ControllerConfig.ts"
import { isAbsoluteHttpUrl } from "../domain/Names.ts"
import { formatProblems, type Problem } from "../domain/Problems.ts"
import type { AuthenticationBackend } from "./AuthenticationBackend.ts"
import { hostnameProblem } from "./Hostname.ts"


const regexProblem = (source: string): string | undefined => {
  try {
    new RegExp(source)
    return undefined
  } catch (e) {
    // "Invalid regular expression: /(/: Unterminated group" -> "unterminated group"
    const why = (e instanceof Error ? e.message : String(e))
      .replace(`Invalid regular expression: /${source}/: `, "")
      .replace(/^Invalid regular expression: /, "")
    return why.length === 0 ? why : why[0]!.toLowerCase() + why.slice(1)
  }
}

/** What validation needs to know about the authentication backend. */
export interface PathRules {
  readonly excludedPathProblem: AuthenticationBackend["excludedPathProblem"]
  readonly issuerProblem?: AuthenticationBackend["issuerProblem"]
}

const anyPath: PathRules = { excludedPathProblem: () => undefined }

export const validateSpec = (
  spec: ApiSpec,
  namespace: string,
  config: ControllerConfig,
  paths: PathRules = anyPath
): ReadonlyArray<Problem> => {
  const problems: Array<Problem> = []

  const host = hostnameProblem(spec.hostname, config.domainName)
  if (host !== undefined) problems.push({ path: "spec.hostname", message: host })

  if (config.blacklistedServices.some((b) => b.name === spec.service.name && b.namespace === namespace)) {
    problems.push({
      path: "spec.service.name",
      message: `service ${spec.service.name}.${namespace} may not be exposed (it is in BLACKLISTED_SERVICES); choose another service`
    })
  }

  const jwksByIssuer = new Map<string, string>()
  ;(spec.authentication ?? []).forEach((rule, i) => {
    const at = `spec.authentication[${i}]`
    if (rule.type !== "JWT") {
      problems.push({ path: `${at}.type`, message: `unknown authentication type ${JSON.stringify(rule.type)}: the only supported type is "JWT"` })
      return
    }
    const jwt = rule.jwt
    if (jwt === undefined) {
      problems.push({ path: `${at}.jwt`, message: "is required when type is \"JWT\": give jwt.issuer and jwt.jwksUri" })
      return
    }
    if (!isAbsoluteHttpUrl(jwt.issuer)) {
      problems.push({ path: `${at}.jwt.issuer`, message: `expected an absolute http(s) URL such as https://accounts.google.com, got ${JSON.stringify(jwt.issuer)}` })
    } else {
      const unsupported = paths.issuerProblem?.(jwt.issuer)
      if (unsupported !== undefined) problems.push({ path: `${at}.jwt.issuer`, message: `${unsupported}; got ${JSON.stringify(jwt.issuer)}` })
    }
    if (!isAbsoluteHttpUrl(jwt.jwksUri)) {
      problems.push({ path: `${at}.jwt.jwksUri`, message: `expected an absolute http(s) URL such as https://www.googleapis.com/oauth2/v3/certs, got ${JSON.stringify(jwt.jwksUri)}` })
    }
    const seen = jwksByIssuer.get(jwt.issuer)
    if (seen === undefined) jwksByIssuer.set(jwt.issuer, jwt.jwksUri)
    else if (seen !== jwt.jwksUri) {
      problems.push({
        path: `${at}.jwt.jwksUri`,
        message: `issuer ${jwt.issuer} is given twice with different jwksUris (${seen} and ${jwt.jwksUri}); an issuer has one key set, so keep one of them`
      })
    }
    ;(jwt.triggerRule?.excludedPaths ?? []).forEach((p, j) => {
      for (const kind of EXCLUDED_PATH_KINDS) {
        const value = p[kind]
        const unsupported = value !== undefined ? paths.excludedPathProblem(kind, value) : undefined
        if (unsupported !== undefined) {
          problems.push({ path: `${at}.jwt.triggerRule.excludedPaths[${j}].${kind}`, message: `${unsupported}; got ${JSON.stringify(value)}` })
          return
        }
      }
      if (p.regex === undefined) return
      const why = regexProblem(p.regex)
      if (why !== undefined) {
        problems.push({
          path: `${at}.jwt.triggerRule.excludedPaths[${j}].regex`,
          message: `${JSON.stringify(p.regex)} is not a valid regular expression (${why}): fix it, or use exact, prefix or suffix`
        })
      }
    })
  })
  return problems
}

/** Decode and validate: the spec ready to plan from, or a message listing every problem. */
export const checkSpec = (
  rawSpec: unknown,
  namespace: string,
  config: ControllerConfig,
  paths: PathRules = anyPath
): Result.Result<ApiSpec, string> =>
  Result.flatMap(
    Result.mapError(decodeSpec(rawSpec), (ps) => formatProblems(ps)),
    (spec) => {
      const problems = validateSpec(spec, namespace, config, paths)
      return problems.length === 0 ? Result.succeed(spec) : Result.fail(formatProblems(problems))
    }
  )
