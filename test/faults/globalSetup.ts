/**
 * The fault tier's setup: build the control-plane binaries (a no-op when `.bin/` is current) and
 * the production bundle once, hand their paths to the test files, and at the end print every
 * scenario's figures as one table. Each test file starts its own control plane
 * (test/faults/support/FaultPlane.ts), because its faults would disturb any other test.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { TestProject } from "vitest/node"
import { bundle } from "../../scripts/bundle.ts"
import { REPO_ROOT } from "./support/FaultPlane.ts"
import { type Figure, formatFigure } from "./support/Figures.ts"

declare module "vitest" {
  export interface ProvidedContext {
    /** The production bundle's main.js, built for this run. */
    bundleMain: string
    /** JSON lines, one figure per scenario (see support/Figures.ts). */
    faultResultsFile: string
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
  project.provide("bundleMain", built.main)
  project.provide("faultResultsFile", results)

  return async () => {
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
