/**
 * One Api as the API server returns it, in the states the view and describe tests read: blocked
 * by another VirtualService, then Created; its Events and children.
 */
import type { KubeObject } from "../../src/domain/Kube.ts"

export const uid = "11111111-2222-3333-4444-555555555555"

export const api = (status: unknown, spec: unknown = { service: { name: "orders", port: 8080 }, hostname: "orders" }): KubeObject => ({
  apiVersion: "gateway.kyma-project.io/v1alpha2",
  kind: "Api",
  metadata: { name: "orders", namespace: "shop", uid, generation: 2, creationTimestamp: "2026-05-01T10:00:00Z" },
  spec,
  status
})

export const blockedStatus = {
  validationStatus: 2,
  virtualService: { code: 4, lastError: "hostname orders.kyma.local is already used by VirtualService other/holder" },
  observedGeneration: 2,
  conditions: [{
    type: "Ready",
    status: "False",
    reason: "HostnameOccupied",
    message: "hostname orders.kyma.local is already used by VirtualService other/holder",
    lastTransitionTime: "2026-05-01T10:00:01Z",
    observedGeneration: 2
  }],
  transitions: [
    { machine: "validation", from: "Pending", to: "Valid", at: "2026-05-01T10:00:01Z" },
    {
      machine: "virtualService",
      from: "NotCreated",
      to: "HostnameOccupied",
      at: "2026-05-01T10:00:01Z",
      message: "hostname orders.kyma.local is already used by VirtualService other/holder"
    }
  ]
}

export const createdStatus = {
  ...blockedStatus,
  virtualService: { code: 2, resource: { name: "orders", uid: "vs-uid", version: "812" } },
  conditions: [{ ...blockedStatus.conditions[0], status: "True", reason: "Ready", message: "exposed without authentication", lastTransitionTime: "2026-05-01T10:05:02Z" }],
  transitions: [
    ...blockedStatus.transitions,
    { machine: "virtualService", from: "HostnameOccupied", to: "InProgress", at: "2026-05-01T10:05:01Z" },
    { machine: "virtualService", from: "InProgress", to: "Created", at: "2026-05-01T10:05:02Z" }
  ]
}

let eventCounter = 0
export const event = (reason: string, at: string, message: string, overrides: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "Event",
  metadata: { name: `orders.${eventCounter++}`, namespace: "shop" },
  involvedObject: { apiVersion: "gateway.kyma-project.io/v1alpha2", kind: "Api", name: "orders", namespace: "shop", uid },
  reason,
  message,
  type: /Occupied|Error|Failed|Invalid/.test(reason) ? "Warning" : "Normal",
  firstTimestamp: at,
  lastTimestamp: at,
  count: 1,
  ...overrides
})

export const virtualService = (owned: boolean): KubeObject => ({
  apiVersion: "networking.istio.io/v1alpha3",
  kind: "VirtualService",
  metadata: {
    name: "orders",
    namespace: "shop",
    uid: "vs-uid",
    resourceVersion: "812",
    ...(owned
      ? { ownerReferences: [{ apiVersion: "gateway.kyma-project.io/v1alpha2", kind: "Api", name: "orders", uid, controller: true }] }
      : {})
  },
  spec: { hosts: ["orders.kyma.local"], gateways: ["kyma-gateway"] }
})

export const policy: KubeObject = {
  apiVersion: "authentication.istio.io/v1alpha1",
  kind: "Policy",
  metadata: {
    name: "orders",
    namespace: "shop",
    uid: "p-uid",
    resourceVersion: "813",
    labels: { createdBy: "api-controller", apiName: "orders", apiNamespace: "shop", apiUid: uid }
  },
  spec: { origins: [{ jwt: { issuer: "https://accounts.google.com", jwksUri: "https://x" } }, { jwt: { issuer: "https://dex" } }] }
}
