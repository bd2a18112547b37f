import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { type ApiSpec, decodeSpec, decodeStatus } from "../../src/domain/Api.ts"
import { formatProblem } from "../../src/domain/Problems.ts"
import { googleJwt } from "../support/Fixtures.ts"

const base = { service: { name: "httpbin", port: 8000 }, hostname: "httpbin" }

/** The problem lines for a spec, or [] when it decodes. */
const problemLines = (spec: unknown): ReadonlyArray<string> => {
  const r = decodeSpec(spec)
  return Result.isFailure(r) ? r.failure.map(formatProblem) : []
}

const decoded = (spec: unknown): ApiSpec => {
  const r = decodeSpec(spec)
  if (Result.isFailure(r)) throw new Error(r.failure.map(formatProblem).join("\n"))
  return r.success
}

const withPaths = (excludedPaths: ReadonlyArray<unknown>) => ({
  ...base,
  authentication: [{ type: "JWT", jwt: { ...googleJwt.jwt, triggerRule: { excludedPaths } } }]
})

const EXACTLY_ONE = "expected exactly one of exact, prefix, suffix or regex"
const at = (i: number) => `spec.authentication[0].jwt.triggerRule.excludedPaths[${i}]`

describe("decodeSpec: a valid spec", () => {
  it("decodes the SPEC 1 sample unchanged", () => {
    const sample = {
      service: { name: "kubernetes", port: 443 },
      hostname: "kubernetes.kyma.local",
      authenticationEnabled: true,
      disableIstioAuthPolicyMTLS: false,
      authentication: [{
        type: "JWT",
        jwt: {
          issuer: "https://accounts.google.com",
          jwksUri: "https://www.googleapis.com/oauth2/v3/certs",
          triggerRule: {
            excludedPaths: [{ exact: "/status" }, { prefix: "/web" }, { suffix: "/favicon.ico" }, {
              regex: "^/api/orders/(.*?)?"
            }]
          }
        }
      }]
    }
    assert.deepStrictEqual(decoded(sample), sample)
  })

  it("needs only service and hostname", () => {
    assert.deepStrictEqual(decoded(base), base)
  })

  it("accepts several issuers", () => {
    const spec = {
      ...base,
      authentication: [googleJwt, { type: "JWT", jwt: { issuer: "https://dex.kyma.local", jwksUri: "https://dex.kyma.local/keys" } }]
    }
    assert.deepStrictEqual(decoded(spec), spec)
  })

  it("keeps an unknown authentication type for validation to explain", () => {
    const spec = { ...base, authentication: [{ type: "OAuth" }] }
    assert.deepStrictEqual(decoded(spec), spec)
  })

  it("drops fields it does not know (the CRD prunes them anyway)", () => {
    assert.deepStrictEqual(decoded({ ...base, extra: true }), base)
  })

  it("accepts the port bounds 1 and 65535", () => {
    assert.deepStrictEqual(problemLines({ ...base, service: { name: "httpbin", port: 1 } }), [])
    assert.deepStrictEqual(problemLines({ ...base, service: { name: "httpbin", port: 65535 } }), [])
  })

  it("accepts a 63-character service name", () => {
    assert.deepStrictEqual(problemLines({ ...base, service: { name: "a".repeat(63), port: 80 } }), [])
  })

  it("accepts an upper-case hostname (hosts compare case-insensitively)", () => {
    assert.deepStrictEqual(problemLines({ ...base, hostname: "HttpBin.Kyma.Local" }), [])
  })

  it("gives the same result for the same input (determinism)", () => {
    assert.deepStrictEqual(decodeSpec(withPaths([{ exact: "/a" }, {}])), decodeSpec(withPaths([{ exact: "/a" }, {}])))
  })
})

describe("decodeSpec: missing required fields", () => {
  it("an absent spec is required", () => {
    assert.deepStrictEqual(problemLines(undefined), ["spec: is required"])
    assert.deepStrictEqual(problemLines(null), ["spec: is required"])
  })

  it("a spec that is not an object says so", () => {
    assert.deepStrictEqual(problemLines("httpbin"), ["spec: expected object, got \"httpbin\""])
  })

  it("an empty spec needs service and hostname, one line each", () => {
    assert.deepStrictEqual(problemLines({}), ["spec.service: is required", "spec.hostname: is required"])
  })

  it("service needs name and port", () => {
    assert.deepStrictEqual(problemLines({ ...base, service: {} }), [
      "spec.service.name: is required",
      "spec.service.port: is required"
    ])
  })

  it("a rule needs a type", () => {
    assert.deepStrictEqual(problemLines({ ...base, authentication: [{ jwt: googleJwt.jwt }] }), [
      "spec.authentication[0].type: is required"
    ])
  })

  it("a jwt needs issuer and jwksUri", () => {
    assert.deepStrictEqual(problemLines({ ...base, authentication: [{ type: "JWT", jwt: {} }] }), [
      "spec.authentication[0].jwt.issuer: is required",
      "spec.authentication[0].jwt.jwksUri: is required"
    ])
  })

  it("issuer and jwksUri may not be empty", () => {
    assert.deepStrictEqual(problemLines({ ...base, authentication: [{ type: "JWT", jwt: { issuer: "", jwksUri: "" } }] }), [
      "spec.authentication[0].jwt.issuer: expected a non-empty string, got \"\"",
      "spec.authentication[0].jwt.jwksUri: expected a non-empty string, got \"\""
    ])
  })
})

describe("decodeSpec: service.port", () => {
  it("a named port is rejected with the exact documented message", () => {
    assert.deepStrictEqual(problemLines({ ...base, service: { name: "httpbin", port: "http" } }), [
      "spec.service.port: expected an integer between 1 and 65535, got \"http\""
    ])
  })

  for (const port of [0, 65536, -1]) {
    it(`port ${port} is out of bounds`, () => {
      assert.deepStrictEqual(problemLines({ ...base, service: { name: "httpbin", port } }), [
        `spec.service.port: expected an integer between 1 and 65535, got ${port}`
      ])
    })
  }

  it("a fractional port is rejected", () => {
    assert.deepStrictEqual(problemLines({ ...base, service: { name: "httpbin", port: 80.5 } }), [
      "spec.service.port: expected an integer between 1 and 65535, got 80.5"
    ])
  })
})

describe("decodeSpec: service.name is a DNS label", () => {
  const LABEL = "expected a DNS label (lower-case letters, digits and '-', at most 63 characters)"
  for (const name of ["HttpBin", "http_bin", "-httpbin", "httpbin-", "http.bin", ""]) {
    it(`rejects ${JSON.stringify(name)}`, () => {
      assert.deepStrictEqual(problemLines({ ...base, service: { name, port: 80 } }), [
        `spec.service.name: ${LABEL}, got ${JSON.stringify(name)}`
      ])
    })
  }

  it("rejects a 64-character name", () => {
    const name = "a".repeat(64)
    assert.deepStrictEqual(problemLines({ ...base, service: { name, port: 80 } }), [
      `spec.service.name: ${LABEL}, got ${JSON.stringify(name)}`
    ])
  })

  it("rejects a name that is not a string", () => {
    assert.deepStrictEqual(problemLines({ ...base, service: { name: 42, port: 80 } }), [
      `spec.service.name: ${LABEL}, got 42`
    ])
  })
})

describe("decodeSpec: hostname", () => {
  const HOST = "expected a host name such as \"my-api\" or \"my-api.<domain>\""
  for (const hostname of ["", "my api", "my_api", "my-api.", ".my-api", "my..api"]) {
    it(`rejects ${JSON.stringify(hostname)}`, () => {
      assert.deepStrictEqual(problemLines({ ...base, hostname }), [`spec.hostname: ${HOST}, got ${JSON.stringify(hostname)}`])
    })
  }

  it("rejects a label longer than 63 characters", () => {
    const hostname = `${"a".repeat(64)}.kyma.local`
    assert.deepStrictEqual(problemLines({ ...base, hostname }), [`spec.hostname: ${HOST}, got ${JSON.stringify(hostname)}`])
    assert.deepStrictEqual(problemLines({ ...base, hostname: `${"a".repeat(63)}.kyma.local` }), [])
  })

  it("rejects a hostname that is not a string", () => {
    assert.deepStrictEqual(problemLines({ ...base, hostname: 7 }), [`spec.hostname: ${HOST}, got 7`])
  })
})

describe("decodeSpec: optional flags and lists", () => {
  it("authenticationEnabled must be a boolean", () => {
    assert.deepStrictEqual(problemLines({ ...base, authenticationEnabled: "yes" }), [
      "spec.authenticationEnabled: expected boolean, got \"yes\""
    ])
  })

  it("disableIstioAuthPolicyMTLS must be a boolean", () => {
    assert.deepStrictEqual(problemLines({ ...base, disableIstioAuthPolicyMTLS: 1 }), [
      "spec.disableIstioAuthPolicyMTLS: expected boolean, got 1"
    ])
  })

  it("authentication must be a list", () => {
    assert.deepStrictEqual(problemLines({ ...base, authentication: { type: "JWT" } }), [
      "spec.authentication: expected array, got {\"type\":\"JWT\"}"
    ])
  })
})

describe("decodeSpec: each excludedPaths item has exactly one of exact/prefix/suffix/regex", () => {
  for (const kind of ["exact", "prefix", "suffix", "regex"] as const) {
    it(`accepts an item with only ${kind}`, () => {
      assert.deepStrictEqual(problemLines(withPaths([{ [kind]: "/x" }])), [])
    })
  }

  it("rejects an item with none", () => {
    assert.deepStrictEqual(problemLines(withPaths([{}])), [`${at(0)}: ${EXACTLY_ONE}, got {}`])
  })

  it("rejects an item with two", () => {
    assert.deepStrictEqual(problemLines(withPaths([{ exact: "/a", prefix: "/b" }])), [
      `${at(0)}: ${EXACTLY_ONE}, got {"exact":"/a","prefix":"/b"}`
    ])
  })

  it("rejects an item with all four", () => {
    assert.deepStrictEqual(problemLines(withPaths([{ exact: "/a", prefix: "/b", suffix: "/c", regex: "/d" }])).length, 1)
  })

  it("rejects an item that is not an object", () => {
    assert.deepStrictEqual(problemLines(withPaths(["/status"])), [`${at(0)}: ${EXACTLY_ONE}, got "/status"`])
  })

  it("names the key, not the rule, when a path value is not a string", () => {
    assert.deepStrictEqual(problemLines(withPaths([{ exact: 5 }])), [`${at(0)}.exact: expected string, got 5`])
  })

  it("names each bad item by its index and leaves good ones alone", () => {
    assert.deepStrictEqual(problemLines(withPaths([{ exact: "/ok" }, {}, { prefix: "/ok" }, { suffix: "/a", regex: "b" }])), [
      `${at(1)}: ${EXACTLY_ONE}, got {}`,
      `${at(3)}: ${EXACTLY_ONE}, got {"suffix":"/a","regex":"b"}`
    ])
  })

  it("accepts a trigger rule without excluded paths", () => {
    assert.deepStrictEqual(problemLines({ ...base, authentication: [{ type: "JWT", jwt: { ...googleJwt.jwt, triggerRule: {} } }] }), [])
  })
})

describe("decodeSpec: every problem at once", () => {
  it("reports all structural problems in one pass, in field order", () => {
    assert.deepStrictEqual(
      problemLines({ service: { name: "Bad", port: "http" }, hostname: "a b", authentication: [{ type: "JWT", jwt: { issuer: "x" } }] }),
      [
        "spec.service.name: expected a DNS label (lower-case letters, digits and '-', at most 63 characters), got \"Bad\"",
        "spec.service.port: expected an integer between 1 and 65535, got \"http\"",
        "spec.hostname: expected a host name such as \"my-api\" or \"my-api.<domain>\", got \"a b\"",
        "spec.authentication[0].jwt.jwksUri: is required"
      ]
    )
  })
})

describe("decodeStatus", () => {
  it("an absent status reads as empty", () => {
    assert.deepStrictEqual(decodeStatus(undefined), {})
    assert.deepStrictEqual(decodeStatus(null), {})
  })

  it("an unreadable status reads as empty, so the next pass rebuilds it", () => {
    assert.deepStrictEqual(decodeStatus({ validationStatus: "two" }), {})
  })

  it("a status as written reads back unchanged", () => {
    const status = {
      validationStatus: 2,
      virtualService: { code: 2, resource: { name: "sample", uid: "u1", version: "7" } },
      authenticationStatus: { code: 3, lastError: "boom" },
      observedGeneration: 4
    }
    assert.deepStrictEqual(decodeStatus(status), status)
  })
})
