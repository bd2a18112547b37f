/**
 * Lifecycle diagrams of the machines in machines/ (issue 6); the rendering lives in src/visual.
 *
 *   npx tsx scripts/diagram.ts [--format mermaid|dot|svg] [--machine NAME] [--highlight STATE] [--out DIR]
 *   npx tsx scripts/diagram.ts --write-docs     regenerate docs/lifecycle.md and docs/lifecycle-*.svg
 *   npx tsx scripts/diagram.ts --check-docs     exit 1 if they are out of date
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { parseArgs } from "node:util"
import { type DiagramFormat, diagramFormats, findMachine, machineCatalog } from "../src/visual/Diagram.ts"
import { diagramFiles, diagramText, lifecycleDocs, writeDocsCommand } from "../src/visual/LifecycleDocs.ts"

const usage = `usage: npx tsx scripts/diagram.ts [--format ${diagramFormats.join("|")}] [--machine ${machineCatalog.map((e) => e.name).join("|")}] [--highlight STATE] [--out DIR]
       npx tsx scripts/diagram.ts --write-docs | --check-docs`

const fail = (message: string): never => {
  process.stderr.write(`${message}\n${usage}\n`)
  process.exit(2)
}

const { values } = parseArgs({
  options: {
    format: { type: "string", default: "mermaid" },
    machine: { type: "string" },
    highlight: { type: "string" },
    out: { type: "string" },
    "write-docs": { type: "boolean", default: false },
    "check-docs": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false }
  }
})

const root = resolve(import.meta.dirname, "..")
const readOrNull = (path: string) => {
  try {
    return readFileSync(path, "utf8")
  } catch {
    return null
  }
}

if (values.help) {
  process.stdout.write(`${usage}\n`)
} else if (values["write-docs"] || values["check-docs"]) {
  const stale = lifecycleDocs().filter((file) => readOrNull(join(root, file.path)) !== file.content)
  if (values["check-docs"]) {
    if (stale.length > 0) {
      process.stderr.write(`out of date: ${stale.map((f) => f.path).join(", ")}\nregenerate with: ${writeDocsCommand}\n`)
      process.exit(1)
    }
  } else {
    for (const file of stale) {
      mkdirSync(dirname(join(root, file.path)), { recursive: true })
      writeFileSync(join(root, file.path), file.content)
      process.stdout.write(`wrote ${file.path}\n`)
    }
    if (stale.length === 0) process.stdout.write("docs are up to date\n")
  }
} else {
  const format = diagramFormats.find((f) => f === values.format) ?? fail(`unknown format '${values.format}'`)
  const entries = values.machine === undefined
    ? machineCatalog
    : [findMachine(values.machine) ?? fail(`unknown machine '${values.machine}'`)]
  if (values.highlight !== undefined && entries.length !== 1) fail("--highlight needs --machine")
  const options = { highlight: values.highlight }
  try {
    if (values.out !== undefined) {
      mkdirSync(values.out, { recursive: true })
      for (const file of diagramFiles(format as DiagramFormat, entries, options)) {
        writeFileSync(join(values.out, file.path), file.content)
        process.stdout.write(`wrote ${join(values.out, file.path)}\n`)
      }
    } else {
      process.stdout.write(diagramText(format, entries, options))
    }
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error))
  }
}
