import { assert, describe, it } from "@effect/vitest"
import type { ApiSpec } from "../../src/domain/Api.ts"
import type { KubeObject } from "../../src/domain/Kube.ts"
import { applyMergePatch } from "../../src/util/MergePatch.ts"
import { authenticationPlan } from "../../src/plan/AuthenticationPlan.ts"
import { inSync, updatedChild } from "../../src/plan/ChildComparison.ts"
import { desiredPolicy } from "../../src/plan/IstioPolicyBackend.ts"
import { desiredVirtualService } from "../../src/plan/VirtualServicePlan.ts"
import { configWith, googleJwt, testConfig, testOwner } from "../support/Fixtures.ts"

const spec: ApiSpec = {
  service: { name: "httpbin", port: 8000 },
  hostname: "httpbin",
  authentication: [{
    type: "JWT",
    jwt: { ...googleJwt.jwt, triggerRule: { excludedPaths: [{ exact: "/status" }] } }
  }]
}

const desiredVs: KubeObject = desiredVirtualService(testOwner, spec, testConfig)
const desiredPol: KubeObject = desiredPolicy(testOwner, authenticationPlan(spec, testConfig)!)

/** What the API server hands back for a child we wrote: our object plus server bookkeeping. */
const asStored = (o: KubeObject): KubeObject => ({
  ...structuredClone(o),
  metadata: {
    ...structuredClone(o.metadata),
    uid: "child-uid",
    resourceVersion: "12345",
    generation: 1,
    creationTimestamp: "2024-01-01T00:00:00Z",
    managedFields: [{ manager: "api-controller", operation: "Update" }]
  }
})

/** The stored child with a JSON merge patch applied, the way `kubectl patch --type merge` edits it. */
const edited = (o: KubeObject, patch: unknown): KubeObject => applyMergePatch(asStored(o), patch) as KubeObject

const firstRoute = (vs: KubeObject) => (vs["spec"] as { http: Array<Record<string, unknown>> }).http[0]!

describe("inSync: what does not count as drift", () => {
  it("the object exactly as written", () => {
    assert.isTrue(inSync(desiredVs, desiredVs))
    assert.isTrue(inSync(desiredPol, desiredPol))
  })

  it("server bookkeeping in metadata (uid, resourceVersion, managedFields, ...)", () => {
    assert.isTrue(inSync(desiredVs, asStored(desiredVs)))
    assert.isTrue(inSync(desiredPol, asStored(desiredPol)))
  })

  it("a status block", () => {
    assert.isTrue(inSync(desiredVs, { ...asStored(desiredVs), status: { validationMessages: [] } }))
  })

  it("labels and annotations added by others", () => {
    assert.isTrue(inSync(desiredVs, edited(desiredVs, {
      metadata: { labels: { team: "a" }, annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}" } }
    })))
  })

  it("other owners next to ours", () => {
    const observed = asStored(desiredVs)
    const withOther = {
      ...observed,
      metadata: {
        ...observed.metadata,
        ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "x", uid: "other" }, ...(observed.metadata.ownerReferences ?? [])]
      }
    }
    assert.isTrue(inSync(desiredVs, withOther))
  })

  it("server-added unknown fields in the VirtualService spec", () => {
    const observed = asStored(desiredVs)
    const route = firstRoute(observed)
    const withDefaults = {
      ...observed,
      spec: {
        ...(observed["spec"] as object),
        exportTo: ["*"],
        http: [{
          ...route,
          timeout: "15s",
          route: [{ ...(route["route"] as Array<object>)[0], weight: 100 }]
        }]
      }
    }
    assert.isTrue(inSync(desiredVs, withDefaults))
  })

  it("key order", () => {
    const s = desiredVs["spec"] as Record<string, unknown>
    const reordered = { ...asStored(desiredVs), spec: { http: s["http"], gateways: s["gateways"], hosts: s["hosts"] } }
    assert.isTrue(inSync(desiredVs, reordered))
  })
})

describe("inSync: what counts as drift", () => {
  const vsSpec = desiredVs["spec"] as { hosts: Array<string>; http: Array<Record<string, unknown>> }

  it("a changed port", () => {
    assert.isFalse(inSync(desiredVs, edited(desiredVs, {
      spec: { http: [{ ...vsSpec.http[0], route: [{ destination: { host: "httpbin.default.svc.cluster.local", port: { number: 9000 } } }] }] }
    })))
  })

  it("a changed destination host", () => {
    assert.isFalse(inSync(desiredVs, edited(desiredVs, {
      spec: { http: [{ ...vsSpec.http[0], route: [{ destination: { host: "evil.default.svc.cluster.local", port: { number: 8000 } } }] }] }
    })))
  })

  it("a changed or added host", () => {
    assert.isFalse(inSync(desiredVs, edited(desiredVs, { spec: { hosts: ["other.kyma.local"] } })))
    assert.isFalse(inSync(desiredVs, edited(desiredVs, { spec: { hosts: [...vsSpec.hosts, "other.kyma.local"] } })))
  })

  it("a changed gateway", () => {
    assert.isFalse(inSync(desiredVs, edited(desiredVs, { spec: { gateways: ["mesh"] } })))
  })

  it("an extra route", () => {
    assert.isFalse(inSync(desiredVs, edited(desiredVs, { spec: { http: [...vsSpec.http, vsSpec.http[0]] } })))
  })

  it("an extra destination in the route", () => {
    const route = vsSpec.http[0]!["route"] as Array<object>
    assert.isFalse(inSync(desiredVs, edited(desiredVs, { spec: { http: [{ ...vsSpec.http[0], route: [...route, ...route] }] } })))
  })

  it("a changed match", () => {
    assert.isFalse(inSync(desiredVs, edited(desiredVs, { spec: { http: [{ ...vsSpec.http[0], match: [{ uri: { regex: "/admin/.*" } }] }] } })))
  })

  it("a corsPolicy that should not be there, or one that is missing", () => {
    assert.isFalse(inSync(desiredVs, edited(desiredVs, { spec: { http: [{ ...vsSpec.http[0], corsPolicy: { allowOrigin: ["*"] } }] } })))
    const withCors = desiredVirtualService(testOwner, spec, configWith({ CORS_ALLOW_ORIGIN: "*" }))
    assert.isFalse(inSync(withCors, asStored(desiredVs)))
  })

  it("a missing spec, or one that is not a VirtualService spec", () => {
    const { spec: _, ...noSpec } = asStored(desiredVs)
    assert.isFalse(inSync(desiredVs, noSpec as KubeObject))
    assert.isFalse(inSync(desiredVs, { ...asStored(desiredVs), spec: { hosts: "httpbin.kyma.local" } }))
  })

  for (const label of ["createdBy", "apiName", "apiNamespace", "apiUid"]) {
    it(`a missing ${label} label`, () => {
      assert.isFalse(inSync(desiredVs, edited(desiredVs, { metadata: { labels: { [label]: null } } })))
    })
  }

  it("a changed label value", () => {
    assert.isFalse(inSync(desiredVs, edited(desiredVs, { metadata: { labels: { apiUid: "someone-else" } } })))
  })

  it("a missing ownerReference", () => {
    assert.isFalse(inSync(desiredVs, edited(desiredVs, { metadata: { ownerReferences: [] } })))
  })

  it("an ownerReference that is not the controller reference", () => {
    const ref = desiredVs.metadata.ownerReferences![0]!
    assert.isFalse(inSync(desiredVs, edited(desiredVs, { metadata: { ownerReferences: [{ ...ref, controller: false }] } })))
  })

  it("an ownerReference to another Api", () => {
    const ref = desiredVs.metadata.ownerReferences![0]!
    assert.isFalse(inSync(desiredVs, edited(desiredVs, { metadata: { ownerReferences: [{ ...ref, uid: "other" }] } })))
  })
})

describe("inSync: the Policy is compared exactly", () => {
  const polSpec = desiredPol["spec"] as { origins: Array<{ jwt: Record<string, unknown> }>; peers: unknown }

  it("mTLS peers removed", () => {
    assert.isFalse(inSync(desiredPol, edited(desiredPol, { spec: { peers: null } })))
  })

  it("mTLS relaxed to PERMISSIVE", () => {
    assert.isFalse(inSync(desiredPol, edited(desiredPol, { spec: { peers: [{ mtls: { mode: "PERMISSIVE" } }] } })))
  })

  it("origin made optional", () => {
    assert.isFalse(inSync(desiredPol, edited(desiredPol, { spec: { originIsOptional: true } })))
  })

  it("policy narrowed to some ports", () => {
    assert.isFalse(inSync(desiredPol, edited(desiredPol, { spec: { targets: [{ name: "httpbin", ports: [{ number: 1 }] }] } })))
  })

  it("an issuer changed", () => {
    assert.isFalse(inSync(desiredPol, edited(desiredPol, { spec: { origins: [{ jwt: { ...polSpec.origins[0]!.jwt, issuer: "https://evil.example" } }] } })))
  })

  it("an excluded path added or trigger rules dropped", () => {
    const jwt = polSpec.origins[0]!.jwt
    assert.isFalse(inSync(desiredPol, edited(desiredPol, {
      spec: { origins: [{ jwt: { ...jwt, trigger_rules: [{ excluded_paths: [{ exact: "/status" }, { prefix: "/" }] }] } }] }
    })))
    assert.isFalse(inSync(desiredPol, edited(desiredPol, { spec: { origins: [{ jwt: { ...jwt, trigger_rules: null } }] } })))
  })

  it("an extra origin", () => {
    assert.isFalse(inSync(desiredPol, edited(desiredPol, { spec: { origins: [...polSpec.origins, { jwt: { issuer: "https://x", jwksUri: "https://x/k" } }] } })))
  })

  it("a Policy without peers is in sync when mTLS is off", () => {
    const noMtls = desiredPolicy(testOwner, authenticationPlan(spec, configWith({ ENABLE_MTLS: "false" }))!)
    assert.isTrue(inSync(noMtls, asStored(noMtls)))
    assert.isFalse(inSync(noMtls, asStored(desiredPol)))
  })
})

describe("updatedChild", () => {
  it("puts our spec, labels and ownerReference on what is there, keeping the rest", () => {
    const observed = edited(desiredVs, {
      metadata: { labels: { team: "a", apiUid: "stale" }, annotations: { note: "kept" } },
      spec: { hosts: ["drifted.kyma.local"], exportTo: ["*"] },
      status: { anything: 1 }
    })
    const other = { apiVersion: "v1", kind: "ConfigMap", name: "x", uid: "other" }
    const withOther = { ...observed, metadata: { ...observed.metadata, ownerReferences: [other, ...(observed.metadata.ownerReferences ?? [])] } }
    const updated = updatedChild(desiredVs, withOther)
    assert.deepStrictEqual(updated.metadata.labels, { ...desiredVs.metadata.labels, team: "a" })
    assert.deepStrictEqual(updated.metadata.annotations, { note: "kept" })
    assert.deepStrictEqual(updated.metadata.ownerReferences, [other, ...(desiredVs.metadata.ownerReferences ?? [])])
    assert.strictEqual(updated.metadata.resourceVersion, "12345")
    assert.strictEqual(updated.metadata.uid, "child-uid")
    assert.deepStrictEqual(updated["spec"], desiredVs["spec"])
    assert.deepStrictEqual(updated["status"], { anything: 1 })
    assert.isTrue(inSync(desiredVs, updated))
  })

  it("does not duplicate our ownerReference", () => {
    const updated = updatedChild(desiredPol, asStored(desiredPol))
    assert.strictEqual(updated.metadata.ownerReferences?.length, 1)
  })

  it("gives deep-equal output for the same input (determinism)", () => {
    const observed = edited(desiredVs, { spec: { hosts: ["x.kyma.local"] } })
    assert.deepStrictEqual(updatedChild(desiredVs, observed), updatedChild(desiredVs, observed))
  })
})
