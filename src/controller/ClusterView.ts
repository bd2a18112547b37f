/**
 * How a reconcile pass reads the world: the Api, its children, the target Service, the two
 * conflict indexes (which VirtualServices serve a host; which Apis target a Service), and the
 * Services that may share the target's pods.
 * `layerDirect` reads straight from the API (a list per conflict check); the controller runtime
 * provides a cached implementation backed by informers, with the same interface.
 */
import { Context, Effect, Layer } from "effect"
import type { KubeObject, ResourceKind } from "../domain/Kube.ts"
import { Kinds } from "../domain/Kube.ts"
import { KubeApi, type KubeApiError, orAbsent } from "../k8s/KubeApi.ts"
import { servesHost, targetServiceOf } from "../plan/Claims.ts"
import { type Neighbour, type Selector, selectorOf, sharesLabel } from "../plan/Workload.ts"

export class ClusterView extends Context.Service<ClusterView, {
  /** The object, or undefined when it does not exist (or its kind is not watched). */
  readonly get: (kind: ResourceKind, namespace: string, name: string) => Effect.Effect<KubeObject | undefined, KubeApiError>
  /** VirtualServices in any namespace whose hosts include `fqdn` (case-insensitive). */
  readonly virtualServicesForHost: (fqdn: string) => Effect.Effect<ReadonlyArray<KubeObject>, KubeApiError>
  /** Apis in `namespace` whose spec targets `service`. */
  readonly apisForService: (namespace: string, service: string) => Effect.Effect<ReadonlyArray<KubeObject>, KubeApiError>
  /**
   * Services in `namespace` whose selector shares a label with `selector`, each with the Apis
   * targeting it: the Services that may select the same pods (plan/Workload.ts).
   */
  readonly neighbours: (namespace: string, selector: Selector) => Effect.Effect<ReadonlyArray<Neighbour>, KubeApiError>
  /**
   * What a pass just wrote, as the server answered: a cached view shows it from now on (the next
   * pass must not read an older version of its own write). A view that reads the server needs nothing.
   */
  readonly wrote: (kind: ResourceKind, object: KubeObject) => Effect.Effect<void>
}>()("api-controller/controller/ClusterView") {
  static readonly layerDirect = Layer.effect(
    ClusterView,
    Effect.gen(function*() {
      const kube = yield* KubeApi
      return ClusterView.of({
        get: (kind, namespace, name) => orAbsent(kube.get(kind, namespace, name)),
        virtualServicesForHost: (fqdn) =>
          Effect.map(kube.list(Kinds.VirtualService), (l) => l.items.filter((vs) => servesHost(vs, fqdn))),
        apisForService: (namespace, service) =>
          Effect.map(kube.list(Kinds.Api, { namespace }), (l) => l.items.filter((a) => targetServiceOf(a) === service)),
        neighbours: (namespace, selector) =>
          Effect.gen(function*() {
            const services = (yield* kube.list(Kinds.Service, { namespace })).items
            const apis = (yield* kube.list(Kinds.Api, { namespace })).items
            return services
              .filter((svc) => sharesLabel(selectorOf(svc), selector))
              .map((service) => ({ service, apis: apis.filter((a) => targetServiceOf(a) === service.metadata.name) }))
          }),
        wrote: () => Effect.void
      })
    })
  )
}
