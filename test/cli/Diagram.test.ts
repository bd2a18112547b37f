/**
 * `api-controller diagram` (src/cli/Diagram.ts), the one diagram command (`npm run diagrams` runs
 * it too): the machines printed, one with a highlighted state, written into a directory, and
 * why it cannot when the flags do not fit.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect, Option } from "effect"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { diagramOutput, runDiagram } from "../../src/cli/Diagram.ts"
import { catalogView, toSvg } from "../../src/visual/Diagram.ts"

const flags = (format: "mermaid" | "dot" | "svg", machine?: string, highlight?: string, out?: string) => ({
  format,
  machine: Option.fromUndefinedOr(machine),
  highlight: Option.fromUndefinedOr(highlight),
  out: Option.fromUndefinedOr(out)
})

describe("api-controller diagram", () => {
  it("prints the machines, one with a highlighted state, and says why it cannot", () => {
    const out = (...args: Parameters<typeof flags>) => diagramOutput(flags(...args))
    const all = out("mermaid")
    assert.isTrue("text" in all && (all.text.match(/stateDiagram-v2/g) ?? []).length === catalogView.length)
    const one = out("svg", "virtualService", "HostnameOccupied")
    assert.isTrue("text" in one && /<g class="state current" data-state="HostnameOccupied"/.test(one.text))
    const dot = out("dot", "authentication", "Created")
    assert.isTrue("text" in dot && /"Created" \[label="Created \(2\)", fillcolor=/.test(dot.text))
    assert.deepStrictEqual(out("svg"), { error: "--format svg draws one machine: add --machine validation|authentication|virtualService, or --out DIR" })
    assert.deepStrictEqual(out("mermaid", undefined, "Created"), { error: "--highlight needs --machine" })
    assert.match((out("mermaid", "authentication", "HostnameOccupied") as { error: string }).error, /no state 'HostnameOccupied'/)
  })

  it.effect("--out writes one file per machine, SVG included", () =>
    Effect.gen(function*() {
      const dir = join(mkdtempSync(join(tmpdir(), "api-controller-diagram-")), "nested")
      try {
        yield* runDiagram(flags("svg", undefined, undefined, dir))
        assert.deepStrictEqual(readdirSync(dir).sort(), catalogView.map((e) => `${e.name}.svg`).sort())
        for (const entry of catalogView) assert.strictEqual(readFileSync(join(dir, `${entry.name}.svg`), "utf8"), toSvg(entry))
      } finally {
        rmSync(join(dir, ".."), { recursive: true, force: true })
      }
    }).pipe(Effect.provide(NodeServices.layer)))
})
