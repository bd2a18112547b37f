import { assert, describe, it } from "@effect/vitest"
import type { ApiSpec } from "../../src/domain/Api.ts"
import { Kinds } from "../../src/domain/Kube.ts"
import { desiredVirtualService, gatewayRef, serviceHost } from "../../src/plan/VirtualServicePlan.ts"
import { configWith, testConfig, testOwner } from "../support/Fixtures.ts"

const spec: ApiSpec = { service: { name: "httpbin", port: 8000 }, hostname: "httpbin" }

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

describe("desiredVirtualService", () => {
  it("is the SPEC 2 VirtualService, field for field, without CORS", () => {
    assert.deepStrictEqual(desiredVirtualService(testOwner, spec, testConfig), {
      apiVersion: "networking.istio.io/v1alpha3",
      kind: "VirtualService",
      metadata,
      spec: {
        hosts: ["httpbin.kyma.local"],
        gateways: ["kyma-gateway.kyma-system.svc.cluster.local"],
        http: [{
          match: [{ uri: { regex: "/.*" } }],
          route: [{ destination: { host: "httpbin.default.svc.cluster.local", port: { number: 8000 } } }]
        }]
      }
    })
  })

  it("has no corsPolicy key at all when CORS is not configured", () => {
    assert.isFalse("cors" in testConfig)
    const vs = desiredVirtualService(testOwner, spec, testConfig)
    assert.isFalse("corsPolicy" in vs.spec.http[0]!)
  })

  it("carries the configured CORS lists when CORS is configured", () => {
    const config = configWith({
      CORS_ALLOW_ORIGIN: "*",
      CORS_ALLOW_METHODS: "GET,POST,PUT,DELETE",
      CORS_ALLOW_HEADERS: "Authorization,Content-Type,*"
    })
    assert.deepStrictEqual(desiredVirtualService(testOwner, spec, config).spec.http, [{
      match: [{ uri: { regex: "/.*" } }],
      route: [{ destination: { host: "httpbin.default.svc.cluster.local", port: { number: 8000 } } }],
      corsPolicy: {
        allowOrigin: ["*"],
        allowMethods: ["GET", "POST", "PUT", "DELETE"],
        allowHeaders: ["Authorization", "Content-Type", "*"]
      }
    }])
  })

  it("leaves out CORS lists that are not configured", () => {
    const config = configWith({ CORS_ALLOW_ORIGIN: "https://app.example" })
    assert.deepStrictEqual(desiredVirtualService(testOwner, spec, config).spec.http[0]!.corsPolicy, {
      allowOrigin: ["https://app.example"]
    })
  })

  it("keeps a hostname that already ends with the domain", () => {
    const vs = desiredVirtualService(testOwner, { ...spec, hostname: "httpbin.kyma.local" }, testConfig)
    assert.deepStrictEqual(vs.spec.hosts, ["httpbin.kyma.local"])
  })

  it("serves the lower-cased fqdn, leaving the Api's spec as written", () => {
    const written: ApiSpec = { ...spec, hostname: "HttpBin" }
    const vs = desiredVirtualService(testOwner, written, testConfig)
    assert.deepStrictEqual(vs.spec.hosts, ["httpbin.kyma.local"])
    assert.strictEqual(written.hostname, "HttpBin")
  })

  it("uses the configured domain and gateway", () => {
    const config = configWith({ DOMAIN_NAME: "example.org", GATEWAY_FQDN: "istio-system/public" })
    const vs = desiredVirtualService(testOwner, spec, config)
    assert.deepStrictEqual(vs.spec.hosts, ["httpbin.example.org"])
    assert.deepStrictEqual(vs.spec.gateways, ["istio-system/public"])
  })

  it("routes to the Service in the Api's own namespace on the given port", () => {
    const owner = { ...testOwner, namespace: "shop" }
    const vs = desiredVirtualService(owner, { ...spec, service: { name: "orders", port: 443 } }, testConfig)
    assert.deepStrictEqual(vs.spec.http[0]!.route, [{
      destination: { host: "orders.shop.svc.cluster.local", port: { number: 443 } }
    }])
    assert.strictEqual(vs.metadata.namespace, "shop")
    assert.strictEqual(vs.metadata.labels?.["apiNamespace"], "shop")
  })

  it("is named after the Api and owned by it as controller", () => {
    const vs = desiredVirtualService(testOwner, spec, testConfig)
    assert.strictEqual(vs.metadata.name, testOwner.name)
    assert.deepStrictEqual(vs.metadata.ownerReferences?.filter((r) => r.controller === true).map((r) => r.uid), [testOwner.uid])
  })

  it("does not depend on authentication settings", () => {
    const withAuth: ApiSpec = {
      ...spec,
      authenticationEnabled: true,
      disableIstioAuthPolicyMTLS: true,
      authentication: [{ type: "JWT", jwt: { issuer: "https://a", jwksUri: "https://a/keys" } }]
    }
    assert.deepStrictEqual(desiredVirtualService(testOwner, withAuth, testConfig), desiredVirtualService(testOwner, spec, testConfig))
  })

  it("gives deep-equal output for the same input (determinism)", () => {
    const config = configWith({ CORS_ALLOW_ORIGIN: "*" })
    assert.deepStrictEqual(desiredVirtualService(testOwner, spec, config), desiredVirtualService(testOwner, spec, config))
  })
})

describe("serviceHost", () => {
  it("is <service>.<namespace>.svc.cluster.local", () => {
    assert.strictEqual(serviceHost("httpbin", "default"), "httpbin.default.svc.cluster.local")
  })
})

describe("the gateway reference", () => {
  it("is GATEWAY_FQDN as given for networking.istio.io/v1alpha3 (the seed's shape)", () => {
    assert.strictEqual(gatewayRef("kyma-gateway.kyma-system.svc.cluster.local", Kinds.VirtualService), "kyma-gateway.kyma-system.svc.cluster.local")
  })

  it("is <namespace>/<name> for networking.istio.io/v1, as istiod reads the FQDN and istioctl analyze prefers", () => {
    assert.strictEqual(gatewayRef("kyma-gateway.kyma-system.svc.cluster.local", Kinds.VirtualServiceV1), "kyma-system/kyma-gateway")
    assert.strictEqual(gatewayRef("gw.edge.svc.corp.example", Kinds.VirtualServiceV1), "edge/gw")
  })

  it("is left as given when it is no in-cluster service name (a namespace/name already, or mesh)", () => {
    assert.strictEqual(gatewayRef("kyma-system/kyma-gateway", Kinds.VirtualServiceV1), "kyma-system/kyma-gateway")
    assert.strictEqual(gatewayRef("mesh", Kinds.VirtualServiceV1), "mesh")
  })
})
