/**
 * The fault tier's setup: build the control-plane binaries (a no-op when `.bin/` is current) and
 * the production bundle once, start the control plane the files share, hand their paths to the
 * test files, and at the end print every scenario's figures as one table. The files whose faults
 * spare the plane (the controller killed or stopped, hostile input, ...) run one after another on
 * the shared plane; the one that breaks it (kube-apiserver killed, etcd paused, history
 * compacted) starts its own (test/faults/support/FaultPlane.ts).
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { TestProject } from "vitest/node"
import { bundle } from "../../scripts/bundle.ts"
import { startControlPlane } from "../../scripts/lib/ControlPlane.ts"
import { REPO_ROOT } from "./support/FaultPlane.ts"
import { type Figure, formatFigure } from "./support/Figures.ts"

declare module "vitest" {
  export interface ProvidedContext {
    /** The production bundle's main.js, built for this run. */
    bundleMain: string
    /** JSON lines, one figure per scenario (see support/Figures.ts). */
    faultResultsFile: string
    /** The kubeconfig of the control plane the files that spare it share. */
    sharedKubeconfigPath: string
  }
}

const log = (line: string) => console.log(`[fault tier] ${line}`)

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now()
  execFileSync("bash", [join(REPO_ROOT, "scripts/build-control-plane.sh")], { stdio: "inherit" })
  const dir = mkdtempSync(join(tmpdir(), "api-controller-faults-"))
  const built = await bundle(join(dir, "dist"))
  log(`bundle ${built.main} (${(built.bytes / 2 ** 20).toFixed(1)} MB) ready after ${((Date.now() - started) / 1000).toFixed(1)}s`)
  const results = join(dir, "figures.jsonl")
  writeFileSync(results, "")
  const shared = await startControlPlane({ log: (line) => log(`shared plane: ${line}`) })
  project.provide("bundleMain", built.main)
  project.provide("faultResultsFile", results)
  project.provide("sharedKubeconfigPath", shared.kubeconfigPath)

  return async () => {
    await shared.stop()
    const figures = existsSync(results)
      ? readFileSync(results, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Figure)
      : []
    if (figures.length > 0) {
      const width = Math.max(...figures.map((f) => f.scenario.length))
      console.log(`\n== fault tier: ${figures.length} scenarios in ${((Date.now() - started) / 1000).toFixed(0)}s`)
      for (const f of figures) console.log(`${f.scenario.padEnd(width)}  ${formatFigure(f)}`)
    }
    rmSync(dir, { recursive: true, force: true })
  }
}
