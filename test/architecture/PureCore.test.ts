/**
 * The pure core (schemas, planning, validation, machines, the lifecycle of a pass) imports no
 * I/O: no Kubernetes client, no Node built-ins, nothing from the layers that do I/O. Checked on
 * the source text, so a new import that breaks the rule fails here with its file and line.
 */
import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

const PURE_DIRS = ["src/domain", "src/plan", "src/lifecycle", "machines"]
const ALLOWED = [
  /^effect$/,
  /^xstate$/,
  /^\.\/[A-Za-z]+\.ts$/,
  /^\.\.\/domain\/[A-Za-z]+\.ts$/,
  /^\.\.\/plan\/[A-Za-z]+\.ts$/,
  /^\.\.\/\.\.\/machines\/[A-Za-z]+\.ts$/
]

const importsOf = (file: string) =>
  readFileSync(file, "utf8").split("\n").flatMap((line, i) => {
    const m = /^\s*(?:import|export)\b[^"']*from\s+["']([^"']+)["']/.exec(line) ?? /^\s*import\s+["']([^"']+)["']/.exec(line)
    return m ? [{ line: i + 1, spec: m[1]! }] : []
  })

describe("architecture", () => {
  it("the pure core imports only effect, xstate and other pure modules", () => {
    const offenders: Array<string> = []
    let files = 0
    for (const dir of PURE_DIRS) {
      for (const name of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
        files++
        for (const { line, spec } of importsOf(join(dir, name))) {
          if (!ALLOWED.some((re) => re.test(spec))) offenders.push(`${dir}/${name}:${line} imports ${spec}`)
        }
      }
    }
    assert.isAbove(files, 15, "the pure core was found")
    assert.deepStrictEqual(offenders, [])
  })
})
