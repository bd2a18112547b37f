/**
 * The VirtualService an Api asks for (SPEC 2): one host, the configured gateway, a single
 * catch-all route to the Service, and a corsPolicy only when CORS is configured. Pure.
 */
import type { ApiSpec } from "../domain/Api.ts"
import type { ControllerConfig } from "../domain/ControllerConfig.ts"
import type { VirtualService } from "../domain/Istio.ts"
import { fqdnOf } from "./Hostname.ts"
import { childLabels, type Owner, ownerReference } from "./Ownership.ts"

export const serviceHost = (service: string, namespace: string): string => `${service}.${namespace}.svc.cluster.local`

export const desiredVirtualService = (owner: Owner, spec: ApiSpec, config: ControllerConfig): VirtualService => ({
  apiVersion: "networking.istio.io/v1alpha3",
  kind: "VirtualService",
  metadata: {
    name: owner.name,
    namespace: owner.namespace,
    labels: childLabels(owner),
    ownerReferences: [ownerReference(owner)]
  },
  spec: {
    hosts: [fqdnOf(spec.hostname, config.domainName)],
    gateways: [config.gatewayFqdn],
    http: [{
      match: [{ uri: { regex: "/.*" } }],
      route: [{
        destination: {
          host: serviceHost(spec.service.name, owner.namespace),
          port: { number: spec.service.port }
        }
      }],
      ...(config.cors !== undefined
        ? {
          corsPolicy: {
            allowOrigin: config.cors.allowOrigin,
            allowMethods: config.cors.allowMethods,
            allowHeaders: config.cors.allowHeaders
          }
        }
        : {})
    }]
  }
})
