/**
 * Helpers for tests in the cluster tier (test/cluster/**): the live `KubeApi` on the control
 * plane that test/cluster/globalSetup.ts started, and a fresh namespace per test.
 *
 * The test server runs kube-controller-manager's garbage collector and namespace controller, but
 * no controller of ours outlives its test to remove the finalizers it set. So cleanup is explicit:
 * strip finalizers, delete what the test left, then delete the namespace (its Terminating state
 * also blocks stray creates); the namespace controller removes the rest in the background.
 */
import { assert } from "@effect/vitest"
import { Effect, type Layer, Result, type Scope } from "effect"
import { ALL_AUTHENTICATION_KINDS } from "../../src/plan/Backends.ts"
import { inject } from "vitest"
import { Kinds, type KubeObject, objectKey, type ResourceKind } from "../../src/domain/Kube.ts"
import { KubeApi, type KubeApiError } from "../../src/k8s/KubeApi.ts"
import { KubeApiLive } from "../../src/k8s/KubeApiLive.ts"
import { eventually } from "./Eventually.ts"

/** The kubeconfig of the cluster tier's control plane. */
export const kubeconfigPath = (): string => inject("kubeconfigPath")

/** `KubeApi` on the cluster tier's control plane. */
export const liveKubeApi = (): Layer.Layer<KubeApi, KubeApiError> =>
  KubeApiLive.layer({ kubeconfigPath: kubeconfigPath() })

/** What a test may leave behind in its namespace, cleaned up in this order. */
export const CLEANUP_KINDS: ReadonlyArray<ResourceKind> = [
  Kinds.Api,
  Kinds.VirtualService,
  ...ALL_AUTHENTICATION_KINDS,
  Kinds.Service,
  Kinds.Lease,
  Kinds.Event
]

let counter = 0

/** A DNS-label namespace name: `<prefix>-<pid><counter><random>`, at most 63 characters. */
export const uniqueNamespaceName = (prefix = "t"): string => {
  const slug = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40) || "t"
  const suffix = `${process.pid.toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`
  return `${slug}-${suffix}`.slice(0, 63).replace(/-+$/, "")
}

const bestEffort = <A, E, R>(e: Effect.Effect<A, E, R>): Effect.Effect<void, never, R> =>
  Effect.ignore(e)

/** Strip finalizers from, then delete, every object of `kinds` in `namespace`. Never fails. */
export const emptyNamespace = (
  namespace: string,
  kinds: ReadonlyArray<ResourceKind> = CLEANUP_KINDS
): Effect.Effect<void, never, KubeApi> =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    for (const kind of kinds) {
      const listed = yield* Effect.option(kube.list(kind, { namespace }))
      if (listed._tag === "None") continue
      yield* Effect.forEach(listed.value.items, (o: KubeObject) =>
        Effect.gen(function*() {
          if ((o.metadata.finalizers ?? []).length > 0) {
            yield* bestEffort(kube.patch(kind, namespace, o.metadata.name, { metadata: { finalizers: null } }))
          }
          yield* bestEffort(kube.delete(kind, namespace, o.metadata.name))
        }), { discard: true, concurrency: 4 })
    }
  })

/**
 * A namespace for this test, created now and emptied + deleted when the scope closes.
 * `labels` go on the namespace (handy for selecting a test's namespaces).
 */
export const testNamespace = (
  prefix = "t",
  labels: Readonly<Record<string, string>> = {}
): Effect.Effect<string, KubeApiError, KubeApi | Scope.Scope> =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const name = uniqueNamespaceName(prefix)
    yield* Effect.acquireRelease(
      kube.create(Kinds.Namespace, {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name, labels: { "api-controller.test/tier": "cluster", ...labels } }
      }),
      () =>
        emptyNamespace(name).pipe(
          Effect.andThen(bestEffort(kube.delete(Kinds.Namespace, "", name))),
          Effect.provideService(KubeApi, kube)
        )
    )
    return name
  })

/**
 * Waits until `kind` `namespace/name` (namespace "" for a cluster-scoped object) is gone: what
 * kube-controller-manager's garbage collector (owner deleted) and namespace controller (namespace
 * deleted) do in the background. Polls every 200 ms; after `timeoutMs` (default 60 s) it fails with
 * what still holds the object (deletionTimestamp, finalizers, ownerReferences).
 */
export const awaitGone = (
  kind: ResourceKind,
  namespace: string,
  name: string,
  options: { readonly timeoutMs?: number } = {}
): Effect.Effect<void, never, KubeApi> =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    yield* eventually(
      Effect.gen(function*() {
        const r = yield* Effect.result(kube.get(kind, namespace, name))
        if (Result.isFailure(r) && r.failure.reason === "NotFound") return
        const meta = Result.isSuccess(r) ? r.success.metadata : undefined
        assert.fail(
          `${kind.kind} ${objectKey(namespace, name)} is still there: ` +
            (meta === undefined ? String(Result.isFailure(r) ? r.failure.message : "") : JSON.stringify({
              deletionTimestamp: meta.deletionTimestamp,
              finalizers: meta.finalizers,
              ownerReferences: meta.ownerReferences
            }))
        )
      }),
      { live: true, step: "200 millis", steps: Math.ceil((options.timeoutMs ?? 60_000) / 200) }
    ).pipe(Effect.orDie)
  })
