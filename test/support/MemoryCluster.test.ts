/**
 * The KubeApi contract against the in-memory cluster (fast tier). The same table runs against a
 * real kube-apiserver in test/cluster/KubeApiLive.test.ts.
 */
import { Effect } from "effect"
import { MemoryCluster } from "./MemoryCluster.ts"
import { kubeApiContract } from "./KubeApiContract.ts"

kubeApiContract({
  name: "in-memory cluster",
  layer: () => MemoryCluster.layer(),
  fixture: Effect.gen(function*() {
    const cluster = yield* MemoryCluster
    return {
      namespace: "contract",
      otherNamespace: "contract-other",
      expiredResourceVersion: Effect.as(cluster.compact, "1")
    }
  })
})
