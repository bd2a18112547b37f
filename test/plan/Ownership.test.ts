import { assert, describe, it } from "@effect/vitest"
import type { KubeObject, ObjectMeta } from "../../src/domain/Kube.ts"
import { childLabels, isOwnedBy, ownerKeyOf, ownerReference } from "../../src/plan/Ownership.ts"
import { testOwner } from "../support/Fixtures.ts"

const child = (metadata: Partial<ObjectMeta>): KubeObject => ({
  apiVersion: "networking.istio.io/v1alpha3",
  kind: "VirtualService",
  metadata: { name: "sample", namespace: "default", ...metadata }
})

describe("childLabels / ownerReference", () => {
  it("labels a child with createdBy, apiName, apiNamespace, apiUid", () => {
    assert.deepStrictEqual(childLabels(testOwner), {
      createdBy: "api-controller",
      apiName: "sample",
      apiNamespace: "default",
      apiUid: "0b0e7a9c-uid-sample"
    })
  })

  it("owns a child as controller, blocking owner deletion until it is gone", () => {
    assert.deepStrictEqual(ownerReference(testOwner), {
      apiVersion: "gateway.kyma-project.io/v1alpha2",
      kind: "Api",
      name: "sample",
      uid: "0b0e7a9c-uid-sample",
      controller: true,
      blockOwnerDeletion: true
    })
  })
})

describe("isOwnedBy", () => {
  it("by our controller ownerReference", () => {
    assert.isTrue(isOwnedBy({ name: "x", ownerReferences: [ownerReference(testOwner)] }, testOwner))
  })

  it("by our labels alone (the ownerReference was lost)", () => {
    assert.isTrue(isOwnedBy({ name: "x", labels: childLabels(testOwner) }, testOwner))
  })

  it("not by a non-controller ownerReference", () => {
    assert.isFalse(isOwnedBy({ name: "x", ownerReferences: [{ ...ownerReference(testOwner), controller: false }] }, testOwner))
  })

  it("not by another Api's reference or labels, even with the same name", () => {
    const other = { ...testOwner, uid: "other" }
    assert.isFalse(isOwnedBy({ name: "sample", ownerReferences: [ownerReference(other)], labels: childLabels(other) }, testOwner))
  })

  it("not by an apiUid label without createdBy", () => {
    assert.isFalse(isOwnedBy({ name: "x", labels: { apiUid: testOwner.uid } }, testOwner))
  })

  it("not when there is nothing to go by", () => {
    assert.isFalse(isOwnedBy({ name: "x" }, testOwner))
  })
})

describe("ownerKeyOf", () => {
  it("reads namespace/name from our labels", () => {
    assert.strictEqual(ownerKeyOf(child({ labels: childLabels(testOwner) })), "default/sample")
  })

  it("falls back to the controller ownerReference, in the child's namespace", () => {
    assert.strictEqual(ownerKeyOf(child({ namespace: "shop", ownerReferences: [{ ...ownerReference(testOwner), name: "orders" }] })), "shop/orders")
  })

  it("is undefined for a child nobody claims", () => {
    assert.isUndefined(ownerKeyOf(child({})))
    assert.isUndefined(ownerKeyOf(child({ ownerReferences: [{ ...ownerReference(testOwner), controller: false }] })))
  })
})
