/**
 * `npm run diagrams`: regenerates the committed lifecycle docs from machines/ (docs/lifecycle.md
 * and docs/lifecycle-<machine>.svg, src/visual/LifecycleDocs.ts) and deletes the diagrams of
 * machines that no longer exist. Anything else is `api-controller diagram` (src/cli/Diagram.ts),
 * run as it is: this script only adds the docs.
 *
 *   npx tsx scripts/diagram.ts --write-docs     regenerate the docs, delete orphaned diagrams
 *   npx tsx scripts/diagram.ts --check-docs     exit 1 if they are out of date
 *   npx tsx scripts/diagram.ts [--format mermaid|dot|svg] [--machine NAME] [--highlight STATE] [--out DIR]
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { diagramCommand } from "../src/cli/Diagram.ts"
import { lifecycleDocs, writeDocsCommand } from "../src/visual/LifecycleDocs.ts"
import { REPO_ROOT } from "./lib/RepoRoot.ts"

const args = process.argv.slice(2)

const readOrNull = (path: string) => {
  try {
    return readFileSync(join(REPO_ROOT, path), "utf8")
  } catch {
    return null
  }
}

if (args.includes("--write-docs") || args.includes("--check-docs")) {
  const files = lifecycleDocs()
  const stale = files.filter((file) => readOrNull(file.path) !== file.content)
  // A renamed or removed machine leaves its diagram behind: the generator's names, not written today.
  const orphans = readdirSync(join(REPO_ROOT, "docs"))
    .map((name) => `docs/${name}`)
    .filter((path) => /^docs\/lifecycle-[^/]*\.svg$/.test(path) && !files.some((f) => f.path === path))
  if (args.includes("--check-docs")) {
    if (stale.length + orphans.length > 0) {
      process.stderr.write(
        `out of date: ${[...stale.map((f) => f.path), ...orphans.map((p) => `${p} (orphaned)`)].join(", ")}\n` +
          `regenerate with: ${writeDocsCommand}\n`
      )
      process.exit(1)
    }
  } else {
    for (const file of stale) {
      mkdirSync(dirname(join(REPO_ROOT, file.path)), { recursive: true })
      writeFileSync(join(REPO_ROOT, file.path), file.content)
      process.stdout.write(`wrote ${file.path}\n`)
    }
    for (const path of orphans) {
      rmSync(join(REPO_ROOT, path))
      process.stdout.write(`deleted ${path} (no machine draws it any more)\n`)
    }
    if (stale.length + orphans.length === 0) process.stdout.write("docs are up to date\n")
  }
} else {
  const { version } = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }
  Command.runWith(diagramCommand, { version })(args).pipe(Effect.provide(NodeServices.layer), NodeRuntime.runMain)
}
