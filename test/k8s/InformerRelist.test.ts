/**
 * An informer whose watch history is gone (src/k8s/Informer.ts): the server ends the watch, the
 * object changes meanwhile, history is compacted, and resuming from the informer's version gets
 * 410 Gone. It must relist and report what changed, not keep asking for the lost version. (The
 * fault tier's expired-watch scenarios relist after the restarted server's connection error and
 * never reach this branch.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Kinds, type KubeObject } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { type Change, makeInformer } from "../../src/k8s/Informer.ts"
import { ServerOutage } from "../../src/k8s/ServerOutage.ts"
import { MemoryCluster } from "../support/MemoryCluster.ts"
import { eventually } from "../support/Eventually.ts"

const vs = (name: string, host: string): KubeObject => ({
  apiVersion: "networking.istio.io/v1alpha3",
  kind: "VirtualService",
  metadata: { name, namespace: "shop" },
  spec: { hosts: [host] }
})

const hostOf = (o: KubeObject | undefined) => (o?.["spec"] as { hosts: Array<string> } | undefined)?.hosts[0]

describe("informer after 410 Gone", () => {
  it.effect("relists, and reports what changed while it could not watch", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const cluster = yield* MemoryCluster
      const kept = yield* kube.create(Kinds.VirtualService, vs("kept", "kept.kyma.local"))
      yield* kube.create(Kinds.VirtualService, vs("removed", "removed.kyma.local"))
      const changes: Array<Change> = []
      const informer = yield* makeInformer(Kinds.VirtualService, { onChange: (c) => Effect.sync(() => void changes.push(c)) })
      yield* informer.synced
      changes.length = 0

      // No yield between these: the informer cannot watch again before history is gone.
      yield* cluster.endWatches
      yield* kube.replace(Kinds.VirtualService, { ...kept, spec: { hosts: ["moved.kyma.local"] } })
      yield* kube.delete(Kinds.VirtualService, "shop", "removed")
      yield* kube.create(Kinds.VirtualService, vs("added", "added.kyma.local"))
      yield* cluster.compact

      yield* eventually(Effect.sync(() => assert.isDefined(informer.get("shop", "added"), "the relist found the new one")))
      assert.strictEqual(hostOf(informer.get("shop", "kept")), "moved.kyma.local")
      assert.isUndefined(informer.get("shop", "removed"))
      assert.deepStrictEqual(
        changes.map((c) => `${c.type} ${c.object.metadata.name}`).sort(),
        ["ADDED added", "DELETED removed", "MODIFIED kept"]
      )
    }).pipe(Effect.scoped, Effect.provide(Layer.merge(Layer.fresh(MemoryCluster.layer()), ServerOutage.layer))))
})
