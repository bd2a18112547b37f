/** Shared test data: a controller configuration and Api builders. */
import { Result } from "effect"
import { type ControllerConfig, parseControllerConfig } from "../../src/domain/ControllerConfig.ts"
import type { KubeObject } from "../../src/domain/Kube.ts"

export const testEnv = {
  DOMAIN_NAME: "kyma.local",
  GATEWAY_FQDN: "kyma-gateway.kyma-system.svc.cluster.local",
  DEFAULT_ISSUER: "https://dex.kyma.local",
  DEFAULT_JWKS_URI: "http://dex-service.kyma-system.svc.cluster.local:5556/keys",
  ENABLE_MTLS: "true",
  BLACKLISTED_SERVICES: "kubernetes.default, istio-ingressgateway.istio-system",
  // Most tests pin the legacy Policy's shape; the scenario tables run both backends explicitly.
  AUTH_BACKEND: "istio-policy"
} as const

const parsed = (env: Record<string, string>): ControllerConfig => {
  const r = parseControllerConfig(env)
  if (Result.isFailure(r)) throw new Error(r.failure.map((p) => `${p.path}: ${p.message}`).join("\n"))
  return r.success
}

export const testConfig: ControllerConfig = parsed(testEnv)

export const configWith = (overrides: Record<string, string>): ControllerConfig => parsed({ ...testEnv, ...overrides })

export interface ApiSpecInput {
  readonly service?: { readonly name: string; readonly port: unknown }
  readonly hostname?: unknown
  readonly authenticationEnabled?: boolean
  readonly disableIstioAuthPolicyMTLS?: boolean
  readonly authentication?: ReadonlyArray<unknown>
  readonly [k: string]: unknown
}

export const apiObject = (namespace: string, name: string, spec: ApiSpecInput): KubeObject => ({
  apiVersion: "gateway.kyma-project.io/v1alpha2",
  kind: "Api",
  metadata: { name, namespace },
  spec
})

export const googleJwt = {
  type: "JWT",
  jwt: { issuer: "https://accounts.google.com", jwksUri: "https://www.googleapis.com/oauth2/v3/certs" }
} as const

/** The identity of the sample Api, as its children refer to it. */
export const testOwner = {
  apiVersion: "gateway.kyma-project.io/v1alpha2",
  kind: "Api",
  name: "sample",
  namespace: "default",
  uid: "0b0e7a9c-uid-sample"
} as const
