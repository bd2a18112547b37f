/**
 * The informer's write-through (src/k8s/Informer.ts `wrote`), on the in-memory cluster: what this
 * process wrote is read back at once, its watch echo is not reported a second time, and nothing
 * older than it replaces it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, type Scope } from "effect"
import { Kinds, type KubeObject } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { ServerOutage } from "../../src/k8s/ServerOutage.ts"
import { type Change, makeInformer, sameOrNewer } from "../../src/k8s/Informer.ts"
import { MemoryCluster } from "../support/MemoryCluster.ts"
import { eventually } from "../support/Eventually.ts"

const vs = (name: string, host: string): KubeObject => ({
  apiVersion: "networking.istio.io/v1alpha3",
  kind: "VirtualService",
  metadata: { name, namespace: "shop" },
  spec: { hosts: [host] }
})

const hostOf = (o: KubeObject | undefined) => (o?.["spec"] as { hosts: Array<string> } | undefined)?.hosts[0]

/** An informer of VirtualServices on a fresh in-memory cluster, and every change it reported. */
const started = Effect.gen(function*() {
  const changes: Array<Change> = []
  const informer = yield* makeInformer(Kinds.VirtualService, { onChange: (c) => Effect.sync(() => void changes.push(c)) })
  yield* informer.synced
  return { informer, changes, kube: yield* KubeApi }
})

const inMemory = (effect: Effect.Effect<void, unknown, KubeApi | ServerOutage | Scope.Scope>) =>
  effect.pipe(Effect.scoped, Effect.provide(Layer.merge(Layer.fresh(MemoryCluster.layer()), ServerOutage.layer)))

describe("informer write-through", () => {
  it.effect("a written object is read back at once, reported once, and its watch echo adds nothing", () =>
    inMemory(Effect.gen(function*() {
      const { informer, changes, kube } = yield* started
      const answer = yield* kube.create(Kinds.VirtualService, vs("orders", "orders.kyma.local"))
      yield* informer.wrote(answer)
      assert.strictEqual(informer.get("shop", "orders")?.metadata.resourceVersion, answer.metadata.resourceVersion)
      assert.deepStrictEqual(changes.map((c) => [c.type, c.object.metadata.name]), [["ADDED", "orders"]])
      // The watch delivers the same version later: nothing new.
      const other = yield* kube.create(Kinds.VirtualService, vs("later", "later.kyma.local"))
      yield* eventually(Effect.sync(() => assert.isDefined(informer.get("shop", "later"))))
      assert.deepStrictEqual(changes.map((c) => [c.type, c.object.metadata.name]), [
        ["ADDED", "orders"],
        ["ADDED", "later"]
      ])
      assert.strictEqual(informer.get("shop", "later")?.metadata.resourceVersion, other.metadata.resourceVersion)
    })))

  it.effect("watch events older than a written version neither replace it nor are reported", () =>
    inMemory(Effect.gen(function*() {
      const { informer, changes, kube } = yield* started
      const first = yield* kube.create(Kinds.VirtualService, vs("orders", "v1.kyma.local"))
      const second = yield* kube.replace(Kinds.VirtualService, { ...first, spec: { hosts: ["v2.kyma.local"] } })
      const third = yield* kube.replace(Kinds.VirtualService, { ...second, spec: { hosts: ["v3.kyma.local"] } })
      yield* informer.wrote(third)
      yield* kube.create(Kinds.VirtualService, vs("marker", "marker.kyma.local"))
      yield* eventually(Effect.sync(() => assert.isDefined(informer.get("shop", "marker"))))
      assert.strictEqual(hostOf(informer.get("shop", "orders")), "v3.kyma.local")
      assert.deepStrictEqual(changes.map((c) => [c.type, c.object.metadata.name, hostOf(c.object)]), [
        ["ADDED", "orders", "v3.kyma.local"],
        ["ADDED", "marker", "marker.kyma.local"]
      ])
    })))

  it.effect("a later change by anybody else is stored and reported as usual", () =>
    inMemory(Effect.gen(function*() {
      const { informer, changes, kube } = yield* started
      const ours = yield* kube.create(Kinds.VirtualService, vs("orders", "ours.kyma.local"))
      yield* informer.wrote(ours)
      yield* kube.replace(Kinds.VirtualService, { ...ours, spec: { hosts: ["theirs.kyma.local"] } })
      yield* eventually(Effect.sync(() => assert.strictEqual(hostOf(informer.get("shop", "orders")), "theirs.kyma.local")))
      assert.deepStrictEqual(changes.map((c) => [c.type, hostOf(c.object)]), [
        ["ADDED", "ours.kyma.local"],
        ["MODIFIED", "theirs.kyma.local"]
      ])
      yield* kube.delete(Kinds.VirtualService, "shop", "orders")
      yield* eventually(Effect.sync(() => assert.isUndefined(informer.get("shop", "orders"))))
      assert.strictEqual(changes.at(-1)?.type, "DELETED")
    })))

  it.effect("an answer whose version is not an integer is not written through", () =>
    inMemory(Effect.gen(function*() {
      const { informer, changes } = yield* started
      yield* informer.wrote({ ...vs("odd", "odd.kyma.local"), metadata: { name: "odd", namespace: "shop", resourceVersion: "a7" } })
      assert.isUndefined(informer.get("shop", "odd"))
      assert.deepStrictEqual(changes, [])
    })))

  it("compares versions as integers, and only integers", () => {
    assert.isTrue(sameOrNewer("10", "9"))
    assert.isTrue(sameOrNewer("10", "10"))
    assert.isFalse(sameOrNewer("9", "10"))
    assert.isFalse(sameOrNewer("123", "124"))
    assert.isTrue(sameOrNewer("x", "x"), "the very same version, whatever it looks like")
    assert.isFalse(sameOrNewer("b", "a"))
    assert.isFalse(sameOrNewer(undefined, "1"))
  })
})
