/**
 * The pure core (schemas, planning, validation, machines, the lifecycle of a pass) imports no
 * I/O: no Kubernetes client, no Node built-ins, nothing from the layers that do I/O. Checked on
 * the source text, so a new import that breaks the rule fails here with its file and line.
 *
 * The text is scanned whole, not line by line: an import list spread over several lines ends in
 * its `from "..."` lines below the `import {`, and a line-by-line match never sees the two together.
 */
import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

const PURE_DIRS = ["src/domain", "src/util", "src/plan", "src/lifecycle", "machines"]
const ALLOWED = [
  /^effect$/,
  /^xstate$/,
  /^\.\/[A-Za-z]+\.ts$/,
  /^\.\.\/domain\/[A-Za-z]+\.ts$/,
  /^\.\.\/util\/[A-Za-z]+\.ts$/,
  /^\.\.\/plan\/[A-Za-z]+\.ts$/,
  /^\.\.\/\.\.\/machines\/[A-Za-z]+\.ts$/
]

/**
 * Every module a source text loads, with the line its statement starts on: `import ... from`,
 * `export ... from` (their clause may span lines: it holds no quote, semicolon, `=` or parenthesis), a bare
 * `import "x"`, `import("x")` and `require("x")`.
 */
const importsOf = (text: string): ReadonlyArray<{ readonly line: number; readonly spec: string }> => {
  const patterns = [
    /^[ \t]*(?:import|export)\b[^;'"`=()]*?\bfrom\s*["']([^"']+)["']/gm,
    /^[ \t]*import\s*["']([^"']+)["']/gm,
    /\b(?:import|require)\s*\(\s*["']([^"']+)["']\s*\)/g
  ]
  const found = patterns.flatMap((re) =>
    [...text.matchAll(re)].map((m) => ({ line: text.slice(0, m.index).split("\n").length, spec: m[1]! }))
  )
  return found.sort((a, b) => a.line - b.line)
}

describe("architecture", () => {
  it("the pure core imports only effect, xstate and other pure modules", () => {
    const offenders: Array<string> = []
    let files = 0
    let imports = 0
    for (const dir of PURE_DIRS) {
      for (const name of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
        files++
        for (const { line, spec } of importsOf(readFileSync(join(dir, name), "utf8"))) {
          imports++
          if (!ALLOWED.some((re) => re.test(spec))) offenders.push(`${dir}/${name}:${line} imports ${spec}`)
        }
      }
    }
    assert.isAbove(files, 15, "the pure core was found")
    assert.isAbove(imports, files, "its imports were found")
    assert.deepStrictEqual(offenders, [])
  })

  it("the scan finds imports whose list spans several lines, type-only ones, re-exports, bare and dynamic imports", () => {
    const source = [
      "/** A comment that mentions import { x } from nowhere. */", // 1
      "import {", // 2
      "  readFileSync,", // 3
      "  type Stats", // 4
      "} from \"node:fs\"", // 5
      "import type {", // 6
      "  KubeApi", // 7
      "} from '../k8s/KubeApi.ts'", // 8
      "export {", // 9
      "  x", // 10
      "} from \"node:path\"", // 11
      "import \"node:http\"", // 12
      "const later = () => import(\"node:net\")", // 13
      "import { Effect } from \"effect\"" // 14
    ].join("\n")
    assert.deepStrictEqual(importsOf(source), [
      { line: 2, spec: "node:fs" },
      { line: 6, spec: "../k8s/KubeApi.ts" },
      { line: 9, spec: "node:path" },
      { line: 12, spec: "node:http" },
      { line: 13, spec: "node:net" },
      { line: 14, spec: "effect" }
    ])
  })
})
