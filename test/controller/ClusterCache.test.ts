/**
 * What the informer caches keep of an object (ClusterCache's `cachedForm`), on the in-memory
 * cluster: the parts no reader looks at are left out, whether the object arrived in the first
 * list or through the watch afterwards, and everything a pass, the indexes or the web view read
 * is still there.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { cachedForm, ClusterCache, Index, StringPool } from "../../src/controller/ClusterCache.ts"
import { ClusterView } from "../../src/controller/ClusterView.ts"
import { Settings } from "../../src/controller/Settings.ts"
import { WorkQueue } from "../../src/controller/WorkQueue.ts"
import { Kinds, type KubeObject } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { ServerOutage } from "../../src/k8s/ServerOutage.ts"
import { MemoryCluster } from "../support/MemoryCluster.ts"
import { eventually } from "../support/Eventually.ts"
import { apiObject, googleJwt, testConfig } from "../support/Fixtures.ts"

const managedFields = [
  { manager: "kubectl", operation: "Update", apiVersion: "v1", fieldsType: "FieldsV1", fieldsV1: { "f:spec": { "f:hostname": {} } } }
]
const lastApplied = { "kubectl.kubernetes.io/last-applied-configuration": "{\"spec\":{}}" }

const api = (name: string): KubeObject => {
  const o = apiObject("shop", name, { service: { name, port: 8080 }, hostname: name, authentication: [googleJwt] })
  return { ...o, metadata: { ...o.metadata, labels: { team: "a" }, annotations: lastApplied, managedFields } }
}

const virtualService = (name: string): KubeObject => ({
  apiVersion: "networking.istio.io/v1alpha3",
  kind: "VirtualService",
  metadata: { name, namespace: "shop", labels: { team: "a" }, annotations: lastApplied, managedFields },
  spec: { hosts: [`${name}.kyma.local`], gateways: ["kyma-gateway"], http: [] }
})

/** Objects that exist before the caches start, so they arrive in the first list. */
const seeded = Layer.effectDiscard(Effect.gen(function*() {
  const kube = yield* KubeApi
  yield* kube.create(Kinds.Api, api("listed"))
  yield* kube.create(Kinds.VirtualService, virtualService("listed"))
}))

const withCache = ClusterCache.layer.pipe(
  Layer.provide(seeded),
  Layer.provideMerge(Layer.mergeAll(Settings.layer(testConfig), WorkQueue.layer(), ServerOutage.layer, MemoryCluster.layer()))
)

const assertCachedApi = (o: KubeObject | undefined, name: string) => {
  assert.isDefined(o, name)
  assert.notProperty(o!.metadata, "managedFields")
  assert.notProperty(o!.metadata, "annotations")
  assert.strictEqual(o!.metadata.labels?.["team"], "a")
  for (const key of ["uid", "resourceVersion", "generation", "creationTimestamp"]) assert.property(o!.metadata, key)
  assert.deepStrictEqual((o!["spec"] as { hostname: string }).hostname, name)
}

const assertCachedChild = (o: KubeObject | undefined, name: string) => {
  assert.isDefined(o, name)
  assert.notProperty(o!.metadata, "managedFields")
  assert.deepStrictEqual(o!.metadata.annotations, lastApplied, "a child keeps its annotations: a PUT of it must not erase them")
  assert.deepStrictEqual((o!["spec"] as { hosts: Array<string> }).hosts, [`${name}.kyma.local`])
}

describe("the informer caches", () => {
  it.effect("keep Apis without managedFields and annotations, children without managedFields, from the list and from the watch", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const cache = yield* ClusterCache
      const view = yield* ClusterView
      yield* cache.synced
      assertCachedApi(cache.api("shop", "listed"), "listed")
      assertCachedChild(yield* view.get(Kinds.VirtualService, "shop", "listed"), "listed")

      // After the first list, through the watch: new objects, and a change to a cached one.
      yield* kube.create(Kinds.Api, api("watched"))
      yield* kube.create(Kinds.VirtualService, virtualService("watched"))
      yield* kube.patch(Kinds.Api, "shop", "listed", { metadata: { labels: { team: "a", tier: "gold" } } })
      yield* eventually(Effect.gen(function*() {
        assertCachedApi(cache.api("shop", "watched"), "watched")
        assert.strictEqual(cache.api("shop", "listed")?.metadata.labels?.["tier"], "gold")
        assertCachedChild(yield* view.get(Kinds.VirtualService, "shop", "watched"), "watched")
      }))
      assertCachedApi(cache.api("shop", "listed"), "listed")

      // The indexes read the cached form: the host index still finds the VirtualService.
      assert.deepStrictEqual((yield* view.virtualServicesForHost("watched.kyma.local")).map((o) => o.metadata.name), ["watched"])
    }).pipe(Effect.provide(withCache)))

  it("leaves an object with nothing to drop as it is, without a copy", () => {
    const plain = apiObject("shop", "plain", { service: { name: "s", port: 80 }, hostname: "plain" })
    assert.strictEqual(cachedForm(Kinds.Api)(plain), plain)
    const child = virtualService("child")
    const { managedFields: _m, ...metadata } = child.metadata
    const bare = { ...child, metadata }
    assert.strictEqual(cachedForm(Kinds.VirtualService)(bare), bare)
  })

  it("keeps the server's key order in metadata, without the dropped keys", () => {
    const o = api("ordered")
    const cached = cachedForm(Kinds.Api)(o)
    assert.deepStrictEqual(Object.keys(cached.metadata), Object.keys(o.metadata).filter((k) => k !== "annotations" && k !== "managedFields"))
    assert.deepStrictEqual(Object.keys(cached), Object.keys(o), "the top-level keys are untouched")
    assert.strictEqual(cached["spec"], o["spec"], "spec is shared, not copied")
  })

  it("keeps of a Service only what the authentication children need: its metadata, spec.selector and its ports' numbers", () => {
    const service: KubeObject = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "orders", namespace: "shop", resourceVersion: "7", annotations: lastApplied, managedFields },
      spec: {
        selector: { app: "orders" },
        ports: [{ name: "http", port: 8080, targetPort: 9090, protocol: "TCP" }],
        clusterIP: "10.0.0.7",
        type: "ClusterIP"
      },
      status: { loadBalancer: {} }
    }
    assert.deepStrictEqual(cachedForm(Kinds.Service)(service), {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "orders", namespace: "shop", resourceVersion: "7", annotations: lastApplied },
      spec: { selector: { app: "orders" }, ports: [{ port: 8080, targetPort: 9090 }] }
    })
    const { selector: _, ports: __, ...neither } = service["spec"] as Record<string, unknown>
    assert.isUndefined(cachedForm(Kinds.Service)({ ...service, spec: neither })["spec"], "no selector, no ports: no spec")
  })
})

describe("the index behind the conflict lookups", () => {
  it("files objects under keys, several objects under one key, and forgets what is re-filed or deleted", () => {
    const index = new Index()
    index.set("ns/a", ["host-1"])
    index.set("ns/b", ["host-1"])
    index.set("ns/c", ["host-2", "host-3"])
    assert.deepStrictEqual([...index.get("host-1")].sort(), ["ns/a", "ns/b"])
    assert.deepStrictEqual(index.get("host-3"), ["ns/c"])

    index.set("ns/a", ["host-2"]) // re-filed: gone from host-1
    assert.deepStrictEqual(index.get("host-1"), ["ns/b"])
    assert.deepStrictEqual([...index.get("host-2")].sort(), ["ns/a", "ns/c"])

    index.delete("ns/c")
    assert.deepStrictEqual(index.get("host-2"), ["ns/a"])
    assert.deepStrictEqual(index.get("host-3"), [])
    index.set("ns/b", [])
    assert.deepStrictEqual(index.get("host-1"), [])
    index.delete("ns/unknown")
    assert.strictEqual(index.size(), 1)
  })
})

describe("the string pool", () => {
  it("changes no value of the objects it goes through, nested arrays and objects included", () => {
    const pool = new StringPool()
    const o = api("pooled")
    const before = structuredClone(o)
    pool.internAll(o)
    pool.internAll(structuredClone(o))
    assert.deepStrictEqual(o, before)
  })

  it("stays within its limit, starting over when full", () => {
    const pool = new StringPool(3)
    for (const s of ["a", "b", "c", "a", "d", "e"]) assert.strictEqual(pool.intern(s), s)
    assert.isAtMost(pool.size, 3)
  })
})
