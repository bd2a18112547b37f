/**
 * Gather (cert-manager's word): everything a pass reads around one Api, as it is now, from the
 * controller's view of the cluster. The reconciler gathers before it decides; `api-controller
 * plan` gathers the same way, from the API server, to predict the same decision.
 */
import { Effect } from "effect"
import { Kinds, type KubeObject } from "../domain/Kube.ts"
import type { KubeApiError } from "../k8s/KubeApi.ts"
import type { Observation, ObservedChild } from "../lifecycle/Observation.ts"
import { childName } from "../plan/AuthenticationBackend.ts"
import { claimsOf } from "../plan/Claims.ts"
import { type Neighbour, selectorOf } from "../plan/Workload.ts"
import type { ClusterView } from "./ClusterView.ts"
import { observedSlots, type SettingsShape } from "./Settings.ts"

/** Everything a pass reads around its Api. */
export type World = Omit<Observation, "api">

/** A gatherer for these settings: reads the world around an Api as cached (or as served), before the Api is decoded. */
export const gatherer = (view: ClusterView["Service"], settings: SettingsShape) => {
  const { config, backend } = settings
  // Every child name of every backend the cluster serves: a backend switch leaves the old one's behind.
  const slots = observedSlots(settings)
  return Effect.fnUntraced(function*(api: KubeObject): Effect.fn.Return<World, KubeApiError> {
    const namespace = api.metadata.namespace ?? ""
    const name = api.metadata.name
    const claims = claimsOf(api, config.domainName)
    const virtualService = yield* view.get(settings.virtualServiceKind, namespace, name)
    const authentication: Array<ObservedChild> = []
    for (const slot of slots) {
      const object = yield* view.get(slot.kind, namespace, childName(name, slot))
      if (object !== undefined) authentication.push({ kind: slot.kind, object })
    }
    const hostClaims = claims.fqdn !== undefined ? yield* view.virtualServicesForHost(claims.fqdn) : []
    const serviceClaims = claims.service !== undefined ? yield* view.apisForService(namespace, claims.service) : []
    const service = backend.selectsWorkload && claims.service !== undefined
      ? yield* view.get(Kinds.Service, namespace, claims.service)
      : undefined
    const selector = selectorOf(service)
    const neighbours: Array<Neighbour> = []
    // With each neighbour, who serves the hosts its Apis ask for: a host is an Api's to decide
    // only while it holds it (plan/Workload.ts).
    for (const n of selector !== undefined ? yield* view.neighbours(namespace, selector) : []) {
      const hosts = [...new Set(n.apis.flatMap((a) => claimsOf(a, config.domainName).fqdn ?? []))]
      const claims: Array<KubeObject> = []
      for (const host of hosts) claims.push(...yield* view.virtualServicesForHost(host))
      neighbours.push({ ...n, hostClaims: claims })
    }
    return { virtualService, authentication, hostClaims, serviceClaims, service, neighbours }
  })
}
