/**
 * The SPEC scenarios (test/support/Scenarios.ts) against a real kube-apiserver + etcd, under both
 * authentication backends: the same table the in-memory cluster runs, so the fake cannot drift
 * from the real server unnoticed. Garbage collection is kube-controller-manager's, so deletions
 * are waited for.
 *
 * Under istio-security, whatever the controller wrote in each scenario is then checked by Istio's
 * own validation and analyzers (`istioctl analyze` against this API server, SPEC 10), with the
 * surroundings a mesh would have: namespaces labelled for injection, a Pod for every workload our
 * children select, and the ingress Gateway GATEWAY_FQDN names. Our objects must draw no finding.
 */
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ALL_AUTHENTICATION_KINDS, BACKENDS } from "../../src/controller/Settings.ts"
import { Kinds, type KubeObject, type ResourceKind } from "../../src/domain/Kube.ts"
import { KubeApi, type KubeApiError } from "../../src/k8s/KubeApi.ts"
import { LABELS } from "../../src/plan/Ownership.ts"
import { kubeconfigPath, liveKubeApi, testNamespace } from "../support/ClusterTest.ts"
import { eventually } from "../support/Eventually.ts"
import { analyzeCluster, describeFindings, findingsFor } from "../support/IstioCheck.ts"
import { ScenarioEnv, scenarios, scenarioSettings } from "../support/Scenarios.ts"
import { testConfig } from "../support/Fixtures.ts"
import { controllerLayer } from "../support/World.ts"

const Gateway: ResourceKind = { group: "networking.istio.io", version: "v1", kind: "Gateway", plural: "gateways", namespaced: true }
const Pod: ResourceKind = { group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true }

/** The ingress gateway GATEWAY_FQDN (kyma-gateway.kyma-system.svc.cluster.local) names, serving the domain. */
const ensureGateway = Effect.gen(function*() {
  const kube = yield* KubeApi
  const ignoreExisting = <A>(created: Effect.Effect<A, KubeApiError>) =>
    Effect.asVoid(Effect.catchIf(created, (e) => e.reason === "AlreadyExists", () => Effect.void))
  yield* ignoreExisting(kube.create(Kinds.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name: "kyma-system" } }))
  yield* ignoreExisting(kube.create(Gateway, {
    apiVersion: "networking.istio.io/v1",
    kind: "Gateway",
    metadata: { name: "kyma-gateway", namespace: "kyma-system" },
    spec: {
      selector: { istio: "ingressgateway" },
      servers: [{ port: { number: 443, name: "https", protocol: "HTTPS" }, tls: { mode: "SIMPLE", credentialName: "kyma-gateway-certs" }, hosts: [`*.${testConfig.domainName}`] }]
    }
  }))
})

/** Our children in `namespace` pass Istio's validation and analyzers without a finding. */
const istioAcceptsWhatWeWrote = (namespace: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const ours: Array<KubeObject> = []
    for (const kind of [Kinds.VirtualServiceV1, ...ALL_AUTHENTICATION_KINDS.filter((k) => k.group === "security.istio.io")]) {
      const listed = yield* kube.list(kind, { namespace, labelSelector: `${LABELS.createdBy}=api-controller` })
      ours.push(...listed.items)
    }
    if (ours.length === 0) return
    // A mesh has a workload behind every selector: one Pod each, in this injection-labelled namespace.
    const selectors = new Map(ours.flatMap((o) => {
      const labels = (o["spec"] as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels
      return labels !== undefined ? [[JSON.stringify(labels), labels] as const] : []
    }))
    let n = 0
    for (const labels of selectors.values()) {
      yield* kube.create(Pod, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `workload-${n++}`, namespace, labels },
        spec: { containers: [{ name: "app", image: "app:1" }] }
      })
    }
    const report = yield* analyzeCluster({ kubeconfig: kubeconfigPath(), namespace })
    for (const o of ours) {
      const findings = findingsFor(report, o)
      assert.deepStrictEqual(findings, [], `${o.kind} ${namespace}/${o.metadata.name}:\n${describeFindings(findings)}`)
    }
  })

for (const backend of BACKENDS) {
  const world = controllerLayer(testConfig, scenarioSettings(backend)).pipe(Layer.provideMerge(liveKubeApi()))
  const istioChecked = backend.selectsWorkload
  describe(`scenarios on a real kube-apiserver, AUTH_BACKEND=${backend.name}`, () => {
    if (istioChecked) beforeAll(() => Effect.runPromise(ensureGateway.pipe(Effect.provide(liveKubeApi()))), 60_000)
    for (const scenario of scenarios.filter((s) => s.backends === undefined || s.backends.includes(backend.name))) {
      it.live(scenario.name, () =>
        Effect.gen(function*() {
          const mesh = istioChecked ? { "istio-injection": "enabled" } : {}
          const namespace = yield* testNamespace("sc", mesh)
          const otherNamespace = yield* testNamespace("sc-other", mesh)
          yield* scenario.run.pipe(Effect.provideService(
            ScenarioEnv,
            ScenarioEnv.of({ namespace, otherNamespace, backend, eventually: (check) => eventually(check, { live: true }) })
          ))
          if (istioChecked) for (const ns of [namespace, otherNamespace]) yield* istioAcceptsWhatWeWrote(ns)
        }).pipe(Effect.scoped, Effect.provide(world)))
    }
  })
}
