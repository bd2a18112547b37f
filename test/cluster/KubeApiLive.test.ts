/**
 * The KubeApi contract against a real kube-apiserver (cluster tier), plus what only a real
 * server shows: schema validation with field causes, core and built-in kinds through the same
 * client, transport errors, kubeconfig loading.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node"
import { Effect } from "effect"
import { createServer } from "node:net"
import { Kinds } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { FIELD_MANAGER, KubeApiLive, loadKubeConfig } from "../../src/k8s/KubeApiLive.ts"
import { kubeconfigPath, liveKubeApi, testNamespace } from "../support/ClusterTest.ts"
import { apiObject, kubeApiContract } from "../support/KubeApiContract.ts"
import { writeFailureReasonOf } from "../../machines/WriteFailure.ts"

kubeApiContract({
  name: "kube-apiserver",
  layer: liveKubeApi,
  fixture: Effect.gen(function*() {
    const namespace = yield* testNamespace("contract")
    const otherNamespace = yield* testNamespace("contract-other")
    // Every resource's watch cache starts long after resourceVersion "1" (at CRD install or later).
    return { namespace, otherNamespace, expiredResourceVersion: Effect.succeed("1") }
  })
})

// excludeTestServices: the real clock, as the server has one
layer(liveKubeApi(), { excludeTestServices: true })("KubeApiLive on a real API server", (it) => {
  it.effect("a spec the CRD schema rejects is Invalid, with one cause per bad field", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const ns = yield* testNamespace("invalid")
      const err = yield* Effect.flip(kube.create(Kinds.Api, {
        ...apiObject(ns, "bad"),
        spec: { service: { name: "httpbin", port: 0 } }
      }))
      assert.strictEqual(err.reason, "Invalid")
      assert.include(err.detail, "is invalid")
      const fields = (err.causes ?? []).map((c) => c.field)
      assert.include(fields, "spec.service.port")
      assert.include(fields, "spec.hostname")
      assert.include(err.message, "spec.service.port")
    }))

  it.effect("core kinds go to /api/v1: Events round-trip with apiVersion and kind, Namespaces are cluster-scoped", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const ns = yield* testNamespace("core")
      const created = yield* kube.create(Kinds.Event, {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: "api.1", namespace: ns },
        involvedObject: { apiVersion: "gateway.kyma-project.io/v1alpha2", kind: "Api", name: "a", namespace: ns },
        reason: "Created",
        message: "VirtualService created",
        type: "Normal"
      })
      assert.strictEqual(created["reason"], "Created")
      const listed = yield* kube.list(Kinds.Event, { namespace: ns })
      assert.deepStrictEqual(listed.items.map((o) => [o.apiVersion, o.kind, o.metadata.name]), [["v1", "Event", "api.1"]])

      const namespace = yield* kube.get(Kinds.Namespace, "", ns)
      assert.strictEqual(namespace.metadata.name, ns)
      assert.strictEqual(namespace.kind, "Namespace")
      const all = yield* kube.list(Kinds.Namespace, { labelSelector: `kubernetes.io/metadata.name=${ns}` })
      assert.deepStrictEqual(all.items.map((o) => o.metadata.name), [ns])
    }))

  it.effect("Leases (a built-in group) reject a replace from a stale resourceVersion", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const ns = yield* testNamespace("lease")
      const now = new Date().toISOString().replace("Z", "000Z").replace(/\.(\d{3})000Z$/, ".$1000Z")
      const lease = yield* kube.create(Kinds.Lease, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: "api-controller", namespace: ns },
        spec: { holderIdentity: "a", leaseDurationSeconds: 15, acquireTime: now, renewTime: now }
      })
      const renewed = yield* kube.replace(Kinds.Lease, { ...lease, spec: { ...(lease["spec"] as object), holderIdentity: "a" } })
      const taken = yield* kube.replace(Kinds.Lease, { ...renewed, spec: { ...(renewed["spec"] as object), holderIdentity: "b" } })
      assert.strictEqual((taken["spec"] as { holderIdentity: string }).holderIdentity, "b")
      const err = yield* Effect.flip(kube.replace(Kinds.Lease, { ...renewed, spec: { ...(renewed["spec"] as object), holderIdentity: "c" } }))
      assert.strictEqual(err.reason, "Conflict")
    }))

  it.effect("writes are recorded under the api-controller field manager", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const ns = yield* testNamespace("manager")
      yield* kube.create(Kinds.Api, apiObject(ns, "m"))
      const patched = yield* kube.patchStatus(Kinds.Api, ns, "m", { status: { validationStatus: 1 } })
      const managers = ((patched.metadata["managedFields"] ?? []) as Array<{ manager: string; subresource?: string }>)
        .map((m) => `${m.manager}${m.subresource !== undefined ? `/${m.subresource}` : ""}`)
      assert.deepStrictEqual(managers.sort(), [FIELD_MANAGER, `${FIELD_MANAGER}/status`])
    }))

  it.effect("a replace that leaves managedFields out keeps the server's, other managers included (the cache drops them)", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const ns = yield* testNamespace("managed")
      // Created by another tool, so its entry can only survive if the server keeps what it has.
      const other = new KubeConfig()
      other.loadFromFile(kubeconfigPath())
      yield* Effect.promise(() =>
        other.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
          group: Kinds.VirtualService.group,
          version: Kinds.VirtualService.version,
          plural: Kinds.VirtualService.plural,
          namespace: ns,
          fieldManager: "another-tool",
          body: {
            apiVersion: "networking.istio.io/v1alpha3",
            kind: "VirtualService",
            metadata: { name: "vs", namespace: ns, labels: { team: "a" } },
            spec: { hosts: ["a.kyma.local"], gateways: ["g"] }
          }
        })
      )
      const read = yield* kube.get(Kinds.VirtualService, ns, "vs")
      const { managedFields: _dropped, ...metadata } = read.metadata
      const replaced = yield* kube.replace(Kinds.VirtualService, { ...read, metadata, spec: { hosts: ["b.kyma.local"], gateways: ["g"] } })
      const managers = ((replaced.metadata["managedFields"] ?? []) as Array<{ manager: string }>).map((m) => m.manager).sort()
      assert.deepStrictEqual(managers, ["another-tool", FIELD_MANAGER])
      assert.deepStrictEqual(replaced.metadata.labels, { team: "a" })
    }))
})

describe("KubeApiLive credentials on a real API server", () => {
  it.live("a token the server does not know is Unauthorized, with the server's message, not worth retrying", () =>
    Effect.gen(function*() {
      const admin = new KubeConfig()
      admin.loadFromFile(kubeconfigPath())
      const kc = new KubeConfig()
      kc.loadFromOptions({
        clusters: admin.getClusters(),
        users: [{ name: "stranger", token: "not-a-token" }],
        contexts: [{ name: "stranger", cluster: admin.getCurrentCluster()!.name, user: "stranger" }],
        currentContext: "stranger"
      })
      const err = yield* Effect.flip(
        Effect.gen(function*() {
          const kube = yield* KubeApi
          return yield* kube.get(Kinds.Api, "default", "x")
        }).pipe(Effect.provide(KubeApiLive.layerFromKubeConfig(kc)))
      )
      assert.strictEqual(err.reason, "Unauthorized")
      assert.strictEqual(writeFailureReasonOf("patch", err.reason), "permanent")
      assert.strictEqual(err.detail, "Unauthorized")
    }))
})

const closedPort = (): Promise<number> =>
  new Promise((resolve) => {
    const srv = createServer()
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address()
      srv.close(() => resolve(typeof addr === "object" && addr !== null ? addr.port : 1))
    })
  })

describe("KubeApiLive without a server", () => {
  it.live("a server that does not answer is a Transport error, worth retrying", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(closedPort)
      const kc = new KubeConfig()
      kc.loadFromOptions({
        clusters: [{ name: "gone", server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
        users: [{ name: "nobody" }],
        contexts: [{ name: "gone", cluster: "gone", user: "nobody" }],
        currentContext: "gone"
      })
      const err = yield* Effect.flip(
        Effect.gen(function*() {
          const kube = yield* KubeApi
          return yield* kube.get(Kinds.Api, "default", "x")
        }).pipe(Effect.provide(KubeApiLive.layerFromKubeConfig(kc)))
      )
      assert.strictEqual(err.reason, "Transport")
      assert.strictEqual(writeFailureReasonOf("patch", err.reason), "transient")
      assert.isFalse(err.answered)
      assert.strictEqual(err.operation, "get apis default/x")
    }))

  it.live("loadKubeConfig takes an explicit path first, and a missing file is an error naming it", () =>
    Effect.gen(function*() {
      const loaded = yield* loadKubeConfig({ kubeconfigPath: kubeconfigPath() })
      assert.strictEqual(loaded.source, "path")
      assert.strictEqual(loaded.kubeConfig.getCurrentContext(), "envtest")
      assert.match(loaded.kubeConfig.getCurrentCluster()?.server ?? "", /^https:\/\/127\.0\.0\.1:\d+$/)

      const err = yield* Effect.flip(loadKubeConfig({ kubeconfigPath: "/nonexistent/kubeconfig" }))
      assert.strictEqual(err.operation, "load kubeconfig")
      assert.include(err.detail, "/nonexistent/kubeconfig")
    }))
})
