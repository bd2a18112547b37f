import { assert, describe, it } from "@effect/vitest"
import type { ApiSpec, AuthenticationRule } from "../../src/domain/Api.ts"
import { authenticationPlan } from "../../src/plan/AuthenticationPlan.ts"
import { configWith, googleJwt, testConfig } from "../support/Fixtures.ts"

const base: ApiSpec = { service: { name: "httpbin", port: 8000 }, hostname: "httpbin" }

const dexJwt: AuthenticationRule = {
  type: "JWT",
  jwt: { issuer: "https://dex.example.org", jwksUri: "https://dex.example.org/keys" }
}

const google = { issuer: "https://accounts.google.com", jwksUri: "https://www.googleapis.com/oauth2/v3/certs", excludedPaths: [] }
const dex = { issuer: "https://dex.example.org", jwksUri: "https://dex.example.org/keys", excludedPaths: [] }
const defaults = { issuer: "https://dex.kyma.local", jwksUri: "http://dex-service.kyma-system.svc.cluster.local:5556/keys", excludedPaths: [] }

describe("authenticationPlan: SPEC 4, row by row", () => {
  it("authenticationEnabled false with rules -> no Policy, whatever the rules say", () => {
    assert.isUndefined(authenticationPlan({ ...base, authenticationEnabled: false, authentication: [googleJwt, dexJwt] }, testConfig))
  })

  it("authenticationEnabled false without rules -> no Policy", () => {
    assert.isUndefined(authenticationPlan({ ...base, authenticationEnabled: false }, testConfig))
  })

  it("absent, no rules -> no Policy", () => {
    assert.isUndefined(authenticationPlan(base, testConfig))
  })

  it("absent, empty rule list -> no Policy", () => {
    assert.isUndefined(authenticationPlan({ ...base, authentication: [] }, testConfig))
  })

  it("absent, with rules -> one origin per JWT rule, in spec order", () => {
    assert.deepStrictEqual(authenticationPlan({ ...base, authentication: [dexJwt, googleJwt] }, testConfig), {
      service: "httpbin",
      origins: [dex, google],
      mtls: true
    })
  })

  it("true, with rules -> one origin per JWT rule, in spec order (no defaults added)", () => {
    assert.deepStrictEqual(authenticationPlan({ ...base, authenticationEnabled: true, authentication: [googleJwt, dexJwt] }, testConfig), {
      service: "httpbin",
      origins: [google, dex],
      mtls: true
    })
  })

  it("true, no rules -> one origin from DEFAULT_ISSUER / DEFAULT_JWKS_URI", () => {
    assert.deepStrictEqual(authenticationPlan({ ...base, authenticationEnabled: true }, testConfig), {
      service: "httpbin",
      origins: [defaults],
      mtls: true
    })
  })

  it("true, empty rule list -> the controller defaults too", () => {
    assert.deepStrictEqual(authenticationPlan({ ...base, authenticationEnabled: true, authentication: [] }, testConfig)?.origins, [defaults])
  })

  it("the defaults follow the configuration", () => {
    const config = configWith({ DEFAULT_ISSUER: "https://issuer.example", DEFAULT_JWKS_URI: "https://issuer.example/jwks" })
    assert.deepStrictEqual(authenticationPlan({ ...base, authenticationEnabled: true }, config)?.origins, [
      { issuer: "https://issuer.example", jwksUri: "https://issuer.example/jwks", excludedPaths: [] }
    ])
  })
})

describe("authenticationPlan: mTLS", () => {
  const secured: ApiSpec = { ...base, authentication: [googleJwt] }
  const mtlsOn = configWith({ ENABLE_MTLS: "true" })
  const mtlsOff = configWith({ ENABLE_MTLS: "false" })

  const rows: ReadonlyArray<readonly [string, typeof testConfig, boolean | undefined, boolean]> = [
    ["on in config, not disabled by the Api", mtlsOn, undefined, true],
    ["on in config, disableIstioAuthPolicyMTLS false", mtlsOn, false, true],
    ["on in config, disableIstioAuthPolicyMTLS true", mtlsOn, true, false],
    ["off in config, not disabled by the Api", mtlsOff, undefined, false],
    ["off in config, disableIstioAuthPolicyMTLS false", mtlsOff, false, false],
    ["off in config, disableIstioAuthPolicyMTLS true", mtlsOff, true, false]
  ]
  for (const [name, config, disable, mtls] of rows) {
    it(`${name} -> mtls ${mtls}`, () => {
      const spec: ApiSpec = disable === undefined ? secured : { ...secured, disableIstioAuthPolicyMTLS: disable }
      assert.strictEqual(authenticationPlan(spec, config)?.mtls, mtls)
    })
  }

  it("applies to the default origin as well", () => {
    assert.isFalse(authenticationPlan({ ...base, authenticationEnabled: true, disableIstioAuthPolicyMTLS: true }, mtlsOn)?.mtls)
  })

  it("disableIstioAuthPolicyMTLS alone does not create a Policy", () => {
    assert.isUndefined(authenticationPlan({ ...base, disableIstioAuthPolicyMTLS: false }, mtlsOn))
  })
})

describe("authenticationPlan: origins", () => {
  it("carries each rule's excluded paths, in order, by kind", () => {
    const spec: ApiSpec = {
      ...base,
      authentication: [{
        type: "JWT",
        jwt: {
          ...googleJwt.jwt,
          triggerRule: {
            excludedPaths: [{ exact: "/status" }, { prefix: "/web" }, { suffix: "/favicon.ico" }, { regex: "^/api/orders/(.*?)?" }]
          }
        }
      }, dexJwt]
    }
    assert.deepStrictEqual(authenticationPlan(spec, testConfig)?.origins, [
      {
        ...google,
        excludedPaths: [
          { kind: "exact", value: "/status" },
          { kind: "prefix", value: "/web" },
          { kind: "suffix", value: "/favicon.ico" },
          { kind: "regex", value: "^/api/orders/(.*?)?" }
        ]
      },
      dex
    ])
  })

  it("a trigger rule without excluded paths excludes nothing", () => {
    const spec: ApiSpec = { ...base, authentication: [{ type: "JWT", jwt: { ...googleJwt.jwt, triggerRule: {} } }] }
    assert.deepStrictEqual(authenticationPlan(spec, testConfig)?.origins, [google])
  })

  it("keeps an issuer given twice with the same jwksUri as two origins (one per rule)", () => {
    assert.deepStrictEqual(authenticationPlan({ ...base, authentication: [googleJwt, googleJwt] }, testConfig)?.origins, [google, google])
  })

  it("secures the whole target Service", () => {
    assert.strictEqual(authenticationPlan({ ...base, service: { name: "orders", port: 80 }, authentication: [googleJwt] }, testConfig)?.service, "orders")
  })

  it("gives deep-equal output for the same input (determinism)", () => {
    const spec: ApiSpec = { ...base, authentication: [googleJwt, dexJwt] }
    assert.deepStrictEqual(authenticationPlan(spec, testConfig), authenticationPlan(spec, testConfig))
  })
})
