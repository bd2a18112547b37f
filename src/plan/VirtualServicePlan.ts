/**
 * The VirtualService an Api asks for (SPEC 2): one host, the configured gateway, a single
 * catch-all route to the Service, and a corsPolicy only when CORS is configured. Pure.
 */
import type { ApiSpec } from "../domain/Api.ts"
import type { ControllerConfig, Cors } from "../domain/ControllerConfig.ts"
import type { CorsPolicy, VirtualService } from "../domain/Istio.ts"
import { apiVersionOf, Kinds, type ResourceKind } from "../domain/Kube.ts"
import { fqdnOf } from "./Hostname.ts"
import { childLabels, type Owner, ownerReference } from "./Ownership.ts"

export const serviceHost = (service: string, namespace: string): string => `${service}.${namespace}.svc.cluster.local`

/**
 * How the VirtualService names the gateway. The seed writes GATEWAY_FQDN as given
 * (`kyma-gateway.kyma-system.svc.cluster.local`); today's Istio prefers `<namespace>/<name>`
 * (istioctl analyze warns on the FQDN form, and its gateway checks cannot resolve it), so the
 * `networking.istio.io/v1` rendering writes that, derived from the FQDN as istiod reads it.
 */
export const gatewayRef = (gatewayFqdn: string, kind: ResourceKind): string => {
  if (kind.version !== "v1") return gatewayFqdn
  const m = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc(\..+)?$/.exec(gatewayFqdn)
  return m === null ? gatewayFqdn : `${m[2]}/${m[1]}`
}

/** Only the lists that are configured: an unset variable means "no such header", not "allow nothing". */
const corsPolicyOf = (cors: Cors): CorsPolicy => ({
  ...(cors.allowOrigin.length > 0 ? { allowOrigin: cors.allowOrigin } : {}),
  ...(cors.allowMethods.length > 0 ? { allowMethods: cors.allowMethods } : {}),
  ...(cors.allowHeaders.length > 0 ? { allowHeaders: cors.allowHeaders } : {})
})

/** Same shape in every served version; `kind` says which one the cluster gets (SPEC 10). */
export const desiredVirtualService = (
  owner: Owner,
  spec: ApiSpec,
  config: ControllerConfig,
  kind: ResourceKind = Kinds.VirtualService
): VirtualService => ({
  apiVersion: apiVersionOf(kind) as VirtualService["apiVersion"],
  kind: "VirtualService",
  metadata: {
    name: owner.name,
    namespace: owner.namespace,
    labels: childLabels(owner),
    ownerReferences: [ownerReference(owner)]
  },
  spec: {
    hosts: [fqdnOf(spec.hostname, config.domainName)],
    gateways: [gatewayRef(config.gatewayFqdn, kind)],
    http: [{
      match: [{ uri: { regex: "/.*" } }],
      route: [{
        destination: {
          host: serviceHost(spec.service.name, owner.namespace),
          port: { number: spec.service.port }
        }
      }],
      ...(config.cors !== undefined ? { corsPolicy: corsPolicyOf(config.cors) } : {})
    }]
  }
})
