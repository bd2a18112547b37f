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
import { beforeAll, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { BACKENDS } from "../../src/plan/Backends.ts"
import { liveKubeApi, testNamespace } from "../support/ClusterTest.ts"
import { eventually } from "../support/Eventually.ts"
import { ensureGateway, istioAcceptsWhatWeWrote } from "../support/IstioCheck.ts"
import { ScenarioEnv, scenarios, scenarioSettings } from "../support/Scenarios.ts"
import { testConfig } from "../support/Fixtures.ts"
import { controllerLayer } from "../support/World.ts"

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
