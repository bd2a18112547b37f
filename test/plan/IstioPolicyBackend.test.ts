import { assert, describe, it } from "@effect/vitest"
import type { ApiSpec } from "../../src/domain/Api.ts"
import { Kinds } from "../../src/domain/Kube.ts"
import type { AuthenticationPlan } from "../../src/plan/AuthenticationPlan.ts"
import { authenticationPlan } from "../../src/plan/AuthenticationPlan.ts"
import { desiredPolicy, IstioPolicyBackend } from "../../src/plan/IstioPolicyBackend.ts"
import { configWith, googleJwt, testConfig, testOwner } from "../support/Fixtures.ts"

const metadata = {
  name: "sample",
  namespace: "default",
  labels: {
    createdBy: "api-controller",
    apiName: "sample",
    apiNamespace: "default",
    apiUid: "0b0e7a9c-uid-sample"
  },
  ownerReferences: [{
    apiVersion: "gateway.kyma-project.io/v1alpha2",
    kind: "Api",
    name: "sample",
    uid: "0b0e7a9c-uid-sample",
    controller: true,
    blockOwnerDeletion: true
  }]
}

const base: ApiSpec = { service: { name: "httpbin", port: 8000 }, hostname: "httpbin" }

const planOf = (spec: ApiSpec, config = testConfig): AuthenticationPlan => {
  const plan = authenticationPlan(spec, config)
  if (plan === undefined) throw new Error("expected authentication to be on")
  return plan
}

describe("desiredPolicy", () => {
  it("is the SPEC 2 Policy for one JWT rule with mTLS, field for field", () => {
    assert.deepStrictEqual(desiredPolicy(testOwner, planOf({ ...base, authentication: [googleJwt] })), {
      apiVersion: "authentication.istio.io/v1alpha1",
      kind: "Policy",
      metadata,
      spec: {
        targets: [{ name: "httpbin" }],
        principalBinding: "USE_ORIGIN",
        origins: [{ jwt: { issuer: "https://accounts.google.com", jwksUri: "https://www.googleapis.com/oauth2/v3/certs" } }],
        peers: [{ mtls: {} }]
      }
    })
  })

  it("has one origin per JWT rule in spec order, each with its own trigger rules", () => {
    const spec: ApiSpec = {
      ...base,
      authentication: [
        {
          type: "JWT",
          jwt: {
            issuer: "https://dex.example.org",
            jwksUri: "https://dex.example.org/keys",
            triggerRule: {
              excludedPaths: [{ exact: "/status" }, { prefix: "/web" }, { suffix: "/favicon.ico" }, { regex: "^/api/orders/(.*?)?" }]
            }
          }
        },
        googleJwt
      ]
    }
    assert.deepStrictEqual(desiredPolicy(testOwner, planOf(spec)).spec, {
      targets: [{ name: "httpbin" }],
      principalBinding: "USE_ORIGIN",
      origins: [
        {
          jwt: {
            issuer: "https://dex.example.org",
            jwksUri: "https://dex.example.org/keys",
            trigger_rules: [{
              excluded_paths: [
                { exact: "/status" },
                { prefix: "/web" },
                { suffix: "/favicon.ico" },
                { regex: "^/api/orders/(.*?)?" }
              ]
            }]
          }
        },
        { jwt: { issuer: "https://accounts.google.com", jwksUri: "https://www.googleapis.com/oauth2/v3/certs" } }
      ],
      peers: [{ mtls: {} }]
    })
  })

  for (const kind of ["exact", "prefix", "suffix", "regex"] as const) {
    it(`renders an excluded ${kind} path as {${kind}: ...} under trigger_rules[0].excluded_paths`, () => {
      const spec: ApiSpec = {
        ...base,
        authentication: [{ type: "JWT", jwt: { ...googleJwt.jwt, triggerRule: { excludedPaths: [{ [kind]: "/p" }] } } }]
      }
      assert.deepStrictEqual(desiredPolicy(testOwner, planOf(spec)).spec.origins, [{
        jwt: { ...googleJwt.jwt, trigger_rules: [{ excluded_paths: [{ [kind]: "/p" }] }] }
      }] as unknown)
    })
  }

  it("has no trigger_rules key when there are no excluded paths", () => {
    const spec: ApiSpec = { ...base, authentication: [{ type: "JWT", jwt: { ...googleJwt.jwt, triggerRule: { excludedPaths: [] } } }] }
    const [origin] = desiredPolicy(testOwner, planOf(spec)).spec.origins
    assert.isFalse("trigger_rules" in origin!.jwt)
  })

  it("has no peers key when mTLS is off in the configuration", () => {
    const policy = desiredPolicy(testOwner, planOf({ ...base, authentication: [googleJwt] }, configWith({ ENABLE_MTLS: "false" })))
    assert.isFalse("peers" in policy.spec)
  })

  it("has no peers key when the Api sets disableIstioAuthPolicyMTLS", () => {
    const policy = desiredPolicy(testOwner, planOf({ ...base, authentication: [googleJwt], disableIstioAuthPolicyMTLS: true }))
    assert.isFalse("peers" in policy.spec)
  })

  it("renders the controller defaults when authentication is on without rules", () => {
    assert.deepStrictEqual(desiredPolicy(testOwner, planOf({ ...base, authenticationEnabled: true })).spec.origins, [
      { jwt: { issuer: "https://dex.kyma.local", jwksUri: "http://dex-service.kyma-system.svc.cluster.local:5556/keys" } }
    ])
  })

  it("targets the Api's Service, not the Api", () => {
    const policy = desiredPolicy(testOwner, planOf({ ...base, service: { name: "orders", port: 80 }, authentication: [googleJwt] }))
    assert.deepStrictEqual(policy.spec.targets, [{ name: "orders" }])
    assert.strictEqual(policy.metadata.name, "sample")
  })

  it("gives deep-equal output for the same input (determinism)", () => {
    const plan = planOf({ ...base, authentication: [googleJwt] })
    assert.deepStrictEqual(desiredPolicy(testOwner, plan), desiredPolicy(testOwner, plan))
  })
})

describe("IstioPolicyBackend", () => {
  it("writes Policies only", () => {
    assert.deepStrictEqual(IstioPolicyBackend.kinds, [Kinds.Policy])
  })

  it("renders exactly the one desired Policy", () => {
    const plan = planOf({ ...base, authentication: [googleJwt] })
    assert.deepStrictEqual(IstioPolicyBackend.render(testOwner, plan, { selector: {}, delegatedHosts: [] }), [desiredPolicy(testOwner, plan)])
  })
})
