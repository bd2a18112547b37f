/**
 * One control plane for the whole cluster tier: build the binaries if needed (a no-op when
 * `.bin/` is current), start etcd + kube-apiserver with the CRDs, then kube-controller-manager,
 * hand the kubeconfig path to the test files (`inject("kubeconfigPath")`, see
 * test/support/ClusterTest.ts), stop it at the end.
 *
 * `TEST_KUBECONFIG=<file>` skips all of that and runs the tier against a control plane that is
 * already up (for example one started with `npx tsx scripts/lib/ControlPlane.ts`).
 */
import { execFileSync } from "node:child_process"
import { join } from "node:path"
import type { TestProject } from "vitest/node"
import { startControlPlane } from "../../scripts/lib/ControlPlane.ts"
import { REPO_ROOT } from "../../scripts/lib/RepoRoot.ts"

declare module "vitest" {
  export interface ProvidedContext {
    /** The cluster tier's kubeconfig (admin, context `envtest`). */
    kubeconfigPath: string
  }
}

const log = (line: string) => console.log(`[cluster tier] ${line}`)

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // promtool and the Prometheus Operator's CRDs for the monitoring tests (the fast tier's too: every
  // project's setup runs before any test); a no-op when .bin/ is current. The real Prometheus is
  // built by the soak tier's test that runs it (test/soak/PrometheusScrape.test.ts).
  const tProm = Date.now()
  execFileSync("bash", [join(REPO_ROOT, "scripts/build-prometheus.sh"), "promtool", "crds"], { stdio: "inherit" })
  log(`build-prometheus.sh took ${((Date.now() - tProm) / 1000).toFixed(1)}s`)

  const external = process.env["TEST_KUBECONFIG"]
  if (external !== undefined && external !== "") {
    log(`using the running control plane from TEST_KUBECONFIG=${external}`)
    project.provide("kubeconfigPath", external)
    return async () => {}
  }

  const tBuild = Date.now()
  execFileSync("bash", [join(REPO_ROOT, "scripts/build-control-plane.sh")], { stdio: "inherit" })
  log(`build-control-plane.sh took ${((Date.now() - tBuild) / 1000).toFixed(1)}s`)

  const tStart = Date.now()
  const cp = await startControlPlane({ log })
  project.provide("kubeconfigPath", cp.kubeconfigPath)

  return async () => {
    const tStop = Date.now()
    await cp.stop()
    log(
      `control plane stopped in ${Date.now() - tStop} ms; up for ${((Date.now() - tStart) / 1000).toFixed(1)}s ` +
        `(start ${(cp.timings.totalMs / 1000).toFixed(1)}s, CRDs ${cp.timings.crdsMs} ms, ` +
        `kube-controller-manager ${cp.timings.controllerManagerMs} ms)`
    )
  }
}
