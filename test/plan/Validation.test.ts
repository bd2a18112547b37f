import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import type { ApiSpec, AuthenticationRule } from "../../src/domain/Api.ts"
import { formatProblem } from "../../src/domain/Problems.ts"
import { checkSpec, validateSpec } from "../../src/plan/Validation.ts"
import { configWith, googleJwt, testConfig } from "../support/Fixtures.ts"

const base: ApiSpec = { service: { name: "httpbin", port: 8000 }, hostname: "httpbin" }

/** The lines that end up in `lastError` for a decoded spec in namespace `default`. */
const problemLines = (spec: ApiSpec, namespace = "default", config = testConfig): ReadonlyArray<string> =>
  validateSpec(spec, namespace, config).map(formatProblem)

const jwt = (issuer: string, jwksUri: string, excludedPaths?: ReadonlyArray<Record<string, string>>): AuthenticationRule => ({
  type: "JWT",
  jwt: { issuer, jwksUri, ...(excludedPaths === undefined ? {} : { triggerRule: { excludedPaths } }) }
})

describe("validateSpec: a valid spec", () => {
  it("a minimal spec has no problems", () => {
    assert.deepStrictEqual(problemLines(base), [])
  })

  it("the SPEC 1 sample has no problems", () => {
    assert.deepStrictEqual(
      problemLines({
        service: { name: "kubernetes", port: 443 },
        hostname: "kubernetes.kyma.local",
        authenticationEnabled: true,
        disableIstioAuthPolicyMTLS: false,
        authentication: [jwt("https://accounts.google.com", "https://www.googleapis.com/oauth2/v3/certs", [
          { exact: "/status" },
          { prefix: "/web" },
          { suffix: "/favicon.ico" },
          { regex: "^/api/orders/(.*?)?" }
        ])]
      }, "sample-ns"),
      []
    )
  })

  it("several issuers are fine", () => {
    assert.deepStrictEqual(problemLines({ ...base, authentication: [googleJwt, jwt("https://dex.kyma.local", "https://dex.kyma.local/keys")] }), [])
  })

  it("the same issuer twice with the same jwksUri is fine", () => {
    assert.deepStrictEqual(problemLines({ ...base, authentication: [googleJwt, googleJwt] }), [])
  })

  it("http URLs and URLs with ports and paths are fine", () => {
    assert.deepStrictEqual(problemLines({ ...base, authentication: [jwt("http://dex:5556/dex", "http://dex-service.kyma-system.svc.cluster.local:5556/keys")] }), [])
  })

  it("a hostname in the domain, in any case, is fine", () => {
    assert.deepStrictEqual(problemLines({ ...base, hostname: "HttpBin.Kyma.Local" }), [])
  })
})

describe("validateSpec: SPEC 7, each case names the field and says how to fix it", () => {
  it("hostname outside the domain", () => {
    assert.deepStrictEqual(problemLines({ ...base, hostname: "api.example.com" }), [
      "spec.hostname: \"api.example.com\" is outside the cluster domain kyma.local: use a single label such as \"my-api\", or \"my-api.kyma.local\""
    ])
  })

  it("hostname with two labels before the domain", () => {
    const [line] = problemLines({ ...base, hostname: "a.b.kyma.local" })
    assert.isTrue(line?.startsWith("spec.hostname: \"a.b.kyma.local\" is outside the cluster domain"), line)
  })

  it("service in BLACKLISTED_SERVICES, named <svc>.<ns>", () => {
    assert.deepStrictEqual(problemLines({ ...base, service: { name: "kubernetes", port: 443 } }, "default"), [
      "spec.service.name: service kubernetes.default may not be exposed (it is in BLACKLISTED_SERVICES); choose another service"
    ])
  })

  it("a blacklisted name in another namespace is allowed", () => {
    assert.deepStrictEqual(problemLines({ ...base, service: { name: "kubernetes", port: 443 } }, "team-a"), [])
  })

  it("the blacklist comes from the configuration", () => {
    const config = configWith({ BLACKLISTED_SERVICES: "httpbin.default" })
    assert.deepStrictEqual(problemLines(base, "default", config), [
      "spec.service.name: service httpbin.default may not be exposed (it is in BLACKLISTED_SERVICES); choose another service"
    ])
    assert.deepStrictEqual(problemLines({ ...base, service: { name: "kubernetes", port: 443 } }, "default", config), [])
  })

  for (const issuer of ["accounts.google.com", "ftp://accounts.google.com", "https://", "https:accounts.google.com", "/relative", "not a url"]) {
    it(`issuer ${JSON.stringify(issuer)} is not an absolute http(s) URL`, () => {
      assert.deepStrictEqual(problemLines({ ...base, authentication: [jwt(issuer, googleJwt.jwt.jwksUri)] }), [
        `spec.authentication[0].jwt.issuer: expected an absolute http(s) URL such as https://accounts.google.com, got ${JSON.stringify(issuer)}`
      ])
    })
  }

  it("jwksUri that is not an absolute http(s) URL", () => {
    assert.deepStrictEqual(problemLines({ ...base, authentication: [jwt(googleJwt.jwt.issuer, "www.googleapis.com/oauth2/v3/certs")] }), [
      "spec.authentication[0].jwt.jwksUri: expected an absolute http(s) URL such as https://www.googleapis.com/oauth2/v3/certs, got \"www.googleapis.com/oauth2/v3/certs\""
    ])
  })

  it("the same issuer twice with different jwksUris, reported at the second rule", () => {
    assert.deepStrictEqual(
      problemLines({ ...base, authentication: [googleJwt, jwt("https://dex.kyma.local", "https://dex.kyma.local/keys"), jwt(googleJwt.jwt.issuer, "https://other.example/keys")] }),
      [
        "spec.authentication[2].jwt.jwksUri: issuer https://accounts.google.com is given twice with different jwksUris (https://www.googleapis.com/oauth2/v3/certs and https://other.example/keys); an issuer has one key set, so keep one of them"
      ]
    )
  })

  it("an excluded-path regex that does not compile", () => {
    assert.deepStrictEqual(problemLines({ ...base, authentication: [jwt(googleJwt.jwt.issuer, googleJwt.jwt.jwksUri, [{ exact: "/ok" }, { regex: "^/api/(orders" }])] }), [
      "spec.authentication[0].jwt.triggerRule.excludedPaths[1].regex: \"^/api/(orders\" is not a valid regular expression (unterminated group): fix it, or use exact, prefix or suffix"
    ])
  })

  for (const regex of ["*", "[a-", "a**", "\\"]) {
    it(`the regex ${JSON.stringify(regex)} is reported with its reason`, () => {
      const [line] = problemLines({ ...base, authentication: [jwt(googleJwt.jwt.issuer, googleJwt.jwt.jwksUri, [{ regex }])] })
      assert.isDefined(line)
      assert.isTrue(line!.startsWith(`spec.authentication[0].jwt.triggerRule.excludedPaths[0].regex: ${JSON.stringify(regex)} is not a valid regular expression (`), line)
      assert.notInclude(line!, "Invalid regular expression")
    })
  }

  it("exact, prefix and suffix paths are not regular expressions", () => {
    assert.deepStrictEqual(problemLines({ ...base, authentication: [jwt(googleJwt.jwt.issuer, googleJwt.jwt.jwksUri, [{ exact: "(" }, { prefix: "[" }, { suffix: "*" }])] }), [])
  })

  it("an unknown type", () => {
    assert.deepStrictEqual(problemLines({ ...base, authentication: [{ type: "OAuth" }] }), [
      "spec.authentication[0].type: unknown authentication type \"OAuth\": the only supported type is \"JWT\""
    ])
  })

  it("type is case-sensitive: \"jwt\" is unknown", () => {
    assert.deepStrictEqual(problemLines({ ...base, authentication: [{ type: "jwt", jwt: googleJwt.jwt }] }), [
      "spec.authentication[0].type: unknown authentication type \"jwt\": the only supported type is \"JWT\""
    ])
  })

  it("a JWT rule without jwt", () => {
    assert.deepStrictEqual(problemLines({ ...base, authentication: [{ type: "JWT" }] }), [
      "spec.authentication[0].jwt: is required when type is \"JWT\": give jwt.issuer and jwt.jwksUri"
    ])
  })

  it("every problem is reported, in field order", () => {
    assert.deepStrictEqual(
      problemLines({
        service: { name: "kubernetes", port: 443 },
        hostname: "k8s.example.com",
        authentication: [{ type: "Basic" }, jwt("issuer", "keys", [{ regex: "(" }])]
      }),
      [
        "spec.hostname: \"k8s.example.com\" is outside the cluster domain kyma.local: use a single label such as \"my-api\", or \"my-api.kyma.local\"",
        "spec.service.name: service kubernetes.default may not be exposed (it is in BLACKLISTED_SERVICES); choose another service",
        "spec.authentication[0].type: unknown authentication type \"Basic\": the only supported type is \"JWT\"",
        "spec.authentication[1].jwt.issuer: expected an absolute http(s) URL such as https://accounts.google.com, got \"issuer\"",
        "spec.authentication[1].jwt.jwksUri: expected an absolute http(s) URL such as https://www.googleapis.com/oauth2/v3/certs, got \"keys\"",
        "spec.authentication[1].jwt.triggerRule.excludedPaths[0].regex: \"(\" is not a valid regular expression (unterminated group): fix it, or use exact, prefix or suffix"
      ]
    )
  })

  it("gives the same problems for the same input (determinism)", () => {
    const spec: ApiSpec = { ...base, hostname: "x.example.com", authentication: [googleJwt, jwt(googleJwt.jwt.issuer, "https://x/keys")] }
    assert.deepStrictEqual(validateSpec(spec, "default", testConfig), validateSpec(spec, "default", testConfig))
  })
})

describe("checkSpec", () => {
  it("returns the decoded spec when it is valid", () => {
    assert.deepStrictEqual(checkSpec({ ...base, authentication: [googleJwt] }, "default", testConfig), Result.succeed({
      ...base,
      authentication: [googleJwt]
    }))
  })

  it("reports structural problems first, as one lastError line", () => {
    assert.deepStrictEqual(
      checkSpec({ service: { name: "httpbin", port: "http" }, hostname: "x.example.com" }, "default", testConfig),
      Result.fail("spec.service.port: expected an integer between 1 and 65535, got \"http\"")
    )
  })

  it("joins several validation problems with '; '", () => {
    assert.deepStrictEqual(
      checkSpec({ service: { name: "kubernetes", port: 443 }, hostname: "x.example.com" }, "default", testConfig),
      Result.fail(
        "spec.hostname: \"x.example.com\" is outside the cluster domain kyma.local: use a single label such as \"my-api\", or \"my-api.kyma.local\"; " +
          "spec.service.name: service kubernetes.default may not be exposed (it is in BLACKLISTED_SERVICES); choose another service"
      )
    )
  })

  it("does not throw on any input", () => {
    for (const raw of [undefined, null, 0, "spec", [], {}, { service: null }, { service: { name: "a", port: 1 }, hostname: "a", authentication: [null] }]) {
      assert.isTrue(Result.isFailure(checkSpec(raw, "default", testConfig)), JSON.stringify(raw))
    }
  })
})
