/**
 * `KubeApi` with every request reported: verb, resource and outcome (HTTP-ish reason or "ok").
 * Feeds the `api_controller_kube_requests_total` metric, and lets the real-server tests and the
 * benchmark count what a pass costs (e.g. zero writes on a no-op resync).
 */
import { Effect, Layer, Stream } from "effect"
import { KubeApi, type KubeApiError, type RequestVerb, WRITE_VERBS } from "./KubeApi.ts"

export interface RequestReport {
  readonly verb: RequestVerb
  readonly resource: string
  /** "ok", or the failure's reason (NotFound, Conflict, ...). */
  readonly outcome: string
}

export type RequestListener = (report: RequestReport) => Effect.Effect<void>

const reported = <A, R>(
  listener: RequestListener,
  verb: RequestVerb,
  resource: string,
  effect: Effect.Effect<A, KubeApiError, R>
): Effect.Effect<A, KubeApiError, R> =>
  effect.pipe(
    Effect.tap(() => listener({ verb, resource, outcome: "ok" })),
    Effect.tapError((e) => listener({ verb, resource, outcome: e.reason }))
  )

export const instrumentKubeApi = (kube: KubeApi["Service"], listener: RequestListener): KubeApi["Service"] =>
  KubeApi.of({
    serves: (kind) => kube.serves(kind),
    get: (kind, namespace, name) => reported(listener, "get", kind.plural, kube.get(kind, namespace, name)),
    list: (kind, options) => reported(listener, "list", kind.plural, kube.list(kind, options)),
    watch: (kind, options) =>
      Stream.unwrap(Effect.as(listener({ verb: "watch", resource: kind.plural, outcome: "ok" }), kube.watch(kind, options))),
    create: (kind, object) => reported(listener, "create", kind.plural, kube.create(kind, object)),
    replace: (kind, object) => reported(listener, "replace", kind.plural, kube.replace(kind, object)),
    patch: (kind, namespace, name, p) => reported(listener, "patch", kind.plural, kube.patch(kind, namespace, name, p)),
    patchStatus: (kind, namespace, name, p) =>
      reported(listener, "patchStatus", kind.plural, kube.patchStatus(kind, namespace, name, p)),
    delete: (kind, namespace, name, options) =>
      reported(listener, "delete", kind.plural, kube.delete(kind, namespace, name, options))
  })

/** Wraps the `KubeApi` below it. */
export const instrumented = (listener: RequestListener): Layer.Layer<KubeApi, never, KubeApi> =>
  Layer.effect(KubeApi, Effect.map(Effect.service(KubeApi), (kube) => instrumentKubeApi(kube, listener)))

/** A tally of requests, for tests and benchmarks. */
export const makeRequestTally = () => {
  const counts = new Map<string, number>()
  const listener: RequestListener = (r) =>
    Effect.sync(() => {
      const key = `${r.verb} ${r.resource}`
      counts.set(key, (counts.get(key) ?? 0) + 1)
    })
  return {
    listener,
    snapshot: (): ReadonlyMap<string, number> => new Map(counts),
    reset: () => counts.clear(),
    writes: (): number =>
      [...counts].filter(([k]) => WRITE_VERBS.has(k.split(" ")[0] as RequestVerb)).reduce((s, [, n]) => s + n, 0),
    total: (): number => [...counts.values()].reduce((s, n) => s + n, 0)
  }
}
