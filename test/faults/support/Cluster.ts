/**
 * The fault tests' own client: the project's `KubeApi` on the real server (the same layer the
 * cluster tier uses), run from plain async code, with retries for the moments the tests
 * themselves cause (an API server that is down, an etcd that is paused).
 */
import { Effect, ManagedRuntime } from "effect"
import { Kinds, type KubeObject, type ResourceKind } from "../../../src/domain/Kube.ts"
import { KubeApi, type KubeApiError } from "../../../src/k8s/KubeApi.ts"
import { KubeApiLive } from "../../../src/k8s/KubeApiLive.ts"
import { writeFailureReasonOf } from "../../../machines/WriteFailure.ts"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export interface Client {
  readonly run: <A>(f: (kube: KubeApi["Service"]) => Effect.Effect<A, KubeApiError>) => Promise<A>
  /** Like `run`, retried (for up to `forMs`) while the failure is retryable or the server is down. */
  readonly retry: <A>(f: (kube: KubeApi["Service"]) => Effect.Effect<A, KubeApiError>, forMs?: number) => Promise<A>
  readonly list: (kind: ResourceKind, namespace?: string) => Promise<ReadonlyArray<KubeObject>>
  readonly ensureNamespace: (name: string) => Promise<void>
  /** Creates every object, `concurrency` at a time, retrying through outages; AlreadyExists counts as done. */
  readonly createAll: (kind: ResourceKind, objects: ReadonlyArray<KubeObject>, concurrency?: number) => Promise<void>
  /** Applies `change` to the spec of every named Api (read, change, replace; retried on conflicts). */
  readonly changeApis: (
    namespace: string,
    names: ReadonlyArray<string>,
    change: (spec: Record<string, unknown>) => Record<string, unknown>,
    concurrency?: number
  ) => Promise<void>
  /** Strips finalizers and deletes every Api and child in the namespace (no controller needed). */
  readonly wipe: (namespace: string) => Promise<void>
  readonly dispose: () => Promise<void>
}

export const makeClient = (kubeconfigPath: string): Client => {
  const runtime = ManagedRuntime.make(KubeApiLive.layer({ kubeconfigPath }))
  const run = <A>(f: (kube: KubeApi["Service"]) => Effect.Effect<A, KubeApiError>) =>
    runtime.runPromise(Effect.flatMap(Effect.service(KubeApi), f))

  const retry = async <A>(f: (kube: KubeApi["Service"]) => Effect.Effect<A, KubeApiError>, forMs = 120_000) => {
    const deadline = Date.now() + forMs
    for (let attempt = 0; ; attempt++) {
      const r = await runtime.runPromise(Effect.result(Effect.flatMap(Effect.service(KubeApi), f)))
      if (r._tag === "Success") return r.success
      if (writeFailureReasonOf("update", r.failure.reason) !== "transient" || Date.now() > deadline) throw r.failure
      await sleep(Math.min(2_000, 100 * 2 ** Math.min(attempt, 5)))
    }
  }

  const pool = async <T>(items: ReadonlyArray<T>, concurrency: number, f: (t: T) => Promise<void>) => {
    let next = 0
    await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await f(items[next++]!)
    }))
  }

  const list = (kind: ResourceKind, namespace?: string) =>
    retry((k) => k.list(kind, namespace !== undefined ? { namespace } : {})).then((l) => l.items)

  return {
    run,
    retry,
    list,
    ensureNamespace: async (name) => {
      await retry((k) =>
        k.create(Kinds.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name } }).pipe(
          Effect.catchIf((e) => e.reason === "AlreadyExists", () => Effect.void),
          Effect.asVoid
        )
      )
    },
    createAll: (kind, objects, concurrency = 16) =>
      pool(objects, concurrency, async (o) => {
        await retry((k) =>
          k.create(kind, o).pipe(Effect.catchIf((e) => e.reason === "AlreadyExists", () => Effect.void), Effect.asVoid)
        )
      }),
    changeApis: (namespace, names, change, concurrency = 16) =>
      pool(names, concurrency, async (name) => {
        await retry((k) =>
          Effect.gen(function*() {
            const api = yield* k.get(Kinds.Api, namespace, name)
            yield* k.replace(Kinds.Api, { ...api, spec: change(api["spec"] as Record<string, unknown>) })
          })
        )
      }),
    wipe: async (namespace) => {
      for (const kind of [Kinds.Api, Kinds.VirtualService, Kinds.Policy]) {
        const items = await list(kind, namespace)
        await pool(items, 16, async (o) => {
          if ((o.metadata.finalizers ?? []).length > 0) {
            await retry((k) =>
              k.patch(kind, namespace, o.metadata.name, { metadata: { finalizers: null } }).pipe(
                Effect.catchIf((e) => e.reason === "NotFound", () => Effect.void),
                Effect.asVoid
              )
            )
          }
          await retry((k) => k.delete(kind, namespace, o.metadata.name).pipe(Effect.catchIf((e) => e.reason === "NotFound", () => Effect.void)))
        })
      }
    },
    dispose: () => runtime.dispose()
  }
}
