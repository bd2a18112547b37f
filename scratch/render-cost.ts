import { detailFragment, listFragment } from "../src/web/Pages.ts"
const api = (i: number) => ({ apiVersion: "gateway.kyma-project.io/v1alpha2", kind: "Api", metadata: { name: `api-${i}`, namespace: "ns", uid: `u${i}`, generation: 1, creationTimestamp: "2026-01-01T00:00:00Z" },
  spec: { service: { name: `svc-${i}`, port: 8080 }, hostname: `h-${i}`, authentication: [{ type: "JWT", jwt: { issuer: "https://a", jwksUri: "https://b" } }] },
  status: { validationStatus: 2, observedGeneration: 1, virtualService: { code: 2 }, authenticationStatus: { code: 2 }, conditions: [{ type: "Ready", status: "True", reason: "Ready", message: "ok", lastTransitionTime: "2026-01-01T00:00:00Z" }],
    transitions: [{ machine: "validation", from: "Pending", to: "Valid", at: "2026-01-01T00:00:00Z" }] } }) as any
const t0 = performance.now()
for (let i = 0; i < 200; i++) detailFragment({ namespace: "ns", name: `api-${i}`, api: api(i), children: [], events: [] })
const t1 = performance.now()
const apis = Array.from({ length: 100 }, (_, i) => api(i))
for (let i = 0; i < 200; i++) listFragment(apis, { synced: true })
const t2 = performance.now()
console.log(`detail ${((t1 - t0) / 200).toFixed(2)} ms, list(100) ${((t2 - t1) / 200).toFixed(2)} ms`)
