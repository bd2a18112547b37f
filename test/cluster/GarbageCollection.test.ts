/**
 * kube-controller-manager on the test control plane does what a real cluster does with the
 * objects this project owns, independent of our controller (none runs here):
 *
 * - children that carry a controller ownerReference to an Api (the shape src/plan/Ownership.ts
 *   gives them) are garbage-collected once the Api is deleted; an unowned neighbour stays;
 * - a deleted namespace empties, Apis and children included, and disappears;
 * - every namespace gets its default ServiceAccount.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Kinds, type KubeObject, type ResourceKind } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { childLabels, type Owner, ownerReference } from "../../src/plan/Ownership.ts"
import { awaitGone, liveKubeApi, testNamespace } from "../support/ClusterTest.ts"
import { eventually } from "../support/Eventually.ts"
import { apiObject } from "../support/Fixtures.ts"

const ServiceAccount: ResourceKind = { group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true }

/** An Api as created by a user, and its identity as children refer to it. */
const createApi = (namespace: string, name: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const api = yield* kube.create(Kinds.Api, apiObject(namespace, name, { service: { name, port: 8080 }, hostname: `${namespace}-${name}` }))
    assert.isString(api.metadata.uid)
    const owner: Owner = { apiVersion: api.apiVersion, kind: api.kind, name, namespace, uid: api.metadata.uid! }
    return owner
  })

/** A VirtualService and a Policy as the controller would create them for `owner` (labels + controller ownerReference). */
const createChildren = (owner: Owner) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const metadata = { name: owner.name, namespace: owner.namespace, labels: childLabels(owner), ownerReferences: [ownerReference(owner)] }
    const vs = yield* kube.create(Kinds.VirtualService, {
      apiVersion: "networking.istio.io/v1alpha3",
      kind: "VirtualService",
      metadata,
      spec: { hosts: [`${owner.namespace}-${owner.name}.kyma.local`], gateways: ["kyma-gateway"] }
    })
    const policy = yield* kube.create(Kinds.Policy, {
      apiVersion: "authentication.istio.io/v1alpha1",
      kind: "Policy",
      metadata,
      spec: { targets: [{ name: owner.name }] }
    })
    return [vs, policy] as const
  })

const names = (objects: ReadonlyArray<KubeObject>) => objects.map((o) => o.metadata.name).sort()

describe("kube-controller-manager on the test control plane", () => {
  it.live("deleting an Api garbage-collects the children that name it as their controller owner, and only those", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const namespace = yield* testNamespace("gc-owner")
      const orders = yield* createApi(namespace, "orders")
      const billing = yield* createApi(namespace, "billing")
      yield* createChildren(orders)
      yield* createChildren(billing)
      // A VirtualService nobody owns, with the same host shape.
      yield* kube.create(Kinds.VirtualService, {
        apiVersion: "networking.istio.io/v1alpha3",
        kind: "VirtualService",
        metadata: { name: "unowned", namespace },
        spec: { hosts: [`${namespace}-unowned.kyma.local`], gateways: ["kyma-gateway"] }
      })

      yield* kube.delete(Kinds.Api, namespace, "orders")
      yield* awaitGone(Kinds.VirtualService, namespace, "orders")
      yield* awaitGone(Kinds.Policy, namespace, "orders")

      // billing's children and the unowned one are untouched.
      assert.deepStrictEqual(names((yield* kube.list(Kinds.VirtualService, { namespace })).items), ["billing", "unowned"])
      assert.deepStrictEqual(names((yield* kube.list(Kinds.Policy, { namespace })).items), ["billing"])
      assert.deepStrictEqual(names((yield* kube.list(Kinds.Api, { namespace })).items), ["billing"])
    }).pipe(Effect.scoped, Effect.provide(liveKubeApi())), { timeout: 90_000 })

  it.live("deleting a namespace removes its Apis and their children, then the namespace itself", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const namespace = yield* testNamespace("gc-namespace")
      for (const name of ["orders", "billing"]) yield* createChildren(yield* createApi(namespace, name))
      assert.lengthOf((yield* kube.list(Kinds.Api, { namespace })).items, 2)

      yield* kube.delete(Kinds.Namespace, "", namespace)
      yield* awaitGone(Kinds.Namespace, "", namespace, { timeoutMs: 80_000 })

      for (const kind of [Kinds.Api, Kinds.VirtualService, Kinds.Policy]) {
        assert.deepStrictEqual(names((yield* kube.list(kind, { namespace })).items), [], `${kind.kind} left in ${namespace}`)
      }
    }).pipe(Effect.scoped, Effect.provide(liveKubeApi())), { timeout: 90_000 })

  it.live("a new namespace gets its default ServiceAccount", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const namespace = yield* testNamespace("gc-sa")
      const sa = yield* eventually(kube.get(ServiceAccount, namespace, "default"), { live: true, step: "200 millis", steps: 150 })
      assert.strictEqual(sa.metadata.namespace, namespace)
    }).pipe(Effect.scoped, Effect.provide(liveKubeApi())), { timeout: 60_000 })
})
