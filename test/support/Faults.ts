/**
 * Faults injected into any `KubeApi` (the in-memory cluster or a real API server): matching
 * requests fail with the given reason before they are sent, as a flaky or refusing server would
 * answer. Model-based replay uses it so the same paths run in both worlds.
 */
import { Context, Effect, Layer } from "effect"
import { KubeApi, KubeApiError, type KubeApiErrorReason } from "../../src/k8s/KubeApi.ts"
import type { ResourceKind } from "../../src/domain/Kube.ts"

export interface Fault {
  readonly verb: "create" | "replace" | "delete"
  readonly plural: string
  readonly reason: KubeApiErrorReason
  /** How many matching requests fail; default: every one until cleared. */
  readonly times?: number
}

/** The error a fault produces, as the reconciler will report it. */
export const faultError = (verb: Fault["verb"], plural: string, namespace: string, name: string, reason: KubeApiErrorReason) =>
  new KubeApiError({ reason, operation: `${verb} ${plural} ${namespace}/${name}`, detail: `injected fault (${reason})` })

export class Faults extends Context.Service<Faults, {
  readonly inject: (fault: Fault) => Effect.Effect<void>
  readonly clear: Effect.Effect<void>
}>()("test/Faults") {
  /** Wraps the `KubeApi` below it; provides the wrapped `KubeApi` and the `Faults` handle. */
  static readonly layer: Layer.Layer<KubeApi | Faults, never, KubeApi> = Layer.effectContext(
    Effect.gen(function*() {
      const kube = yield* KubeApi
      let faults: Array<Fault & { remaining: number }> = []
      const guard = <A>(verb: Fault["verb"], kind: ResourceKind, namespace: string, name: string, call: Effect.Effect<A, KubeApiError>) =>
        Effect.suspend(() => {
          const f = faults.find((f) => f.verb === verb && f.plural === kind.plural && f.remaining > 0)
          if (f === undefined) return call
          f.remaining--
          return Effect.fail(faultError(verb, kind.plural, namespace, name, f.reason))
        })
      const wrapped = KubeApi.of({
        ...kube,
        create: (kind, o) => guard("create", kind, o.metadata.namespace ?? "", o.metadata.name, kube.create(kind, o)),
        replace: (kind, o) => guard("replace", kind, o.metadata.namespace ?? "", o.metadata.name, kube.replace(kind, o)),
        delete: (kind, ns, name, options) => guard("delete", kind, ns, name, kube.delete(kind, ns, name, options))
      })
      return Context.make(KubeApi, wrapped).pipe(Context.add(Faults, Faults.of({
        inject: (f) => Effect.sync(() => void faults.push({ ...f, remaining: f.times ?? Number.POSITIVE_INFINITY })),
        clear: Effect.sync(() => void (faults = []))
      })))
    })
  )
}
