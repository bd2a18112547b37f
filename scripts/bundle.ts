/**
 * The production bundle: src/main.ts and exactly the production dependencies it imports, as one
 * ES module for Node 22, with no node_modules at run time.
 *
 *   npx tsx scripts/bundle.ts [outdir]      default dist/; then: node dist/main.js run --help
 *
 * The Dockerfile's build stage runs this same command and its runtime stage copies only the
 * output, so what the tests run here is what the image runs. The build fails if anything from a
 * development-only package (package-lock.json `dev: true`) would end up in the bundle.
 */
import { build, type Metafile } from "esbuild"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { REPO_ROOT } from "./lib/RepoRoot.ts"

export interface BundleResult {
  readonly outdir: string
  /** `<outdir>/main.js` */
  readonly main: string
  readonly bytes: number
  /** The npm packages in the bundle (from package-lock.json), all production dependencies. */
  readonly packages: ReadonlyArray<string>
  /** The project's own files in the bundle, relative to the repository root. */
  readonly sources: ReadonlyArray<string>
}

export class BundleError extends Error {
  override readonly name = "BundleError"
}

interface LockEntry {
  readonly version?: string
  readonly dev?: boolean
}

/** `node_modules/a/node_modules/@b/c/x.js` -> `node_modules/a/node_modules/@b/c` (the lockfile key). */
const packageDirOf = (input: string): string | undefined => {
  const parts = input.split("/")
  let end = -1
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] !== "node_modules") continue
    end = parts[i + 1]?.startsWith("@") ? i + 2 : i + 1
    i = end
  }
  return end < 0 ? undefined : parts.slice(0, end + 1).join("/")
}

/** Every package the bundle takes code from; fails on a development-only one. */
const checkProductionOnly = (metafile: Metafile, root: string): ReadonlyArray<string> => {
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as {
    packages: Record<string, LockEntry>
  }
  const found = new Map<string, LockEntry | undefined>()
  for (const input of Object.keys(metafile.inputs)) {
    const dir = packageDirOf(input)
    if (dir !== undefined) found.set(dir, lock.packages[dir])
  }
  const problems = [...found].filter(([, entry]) => entry === undefined || entry.dev === true)
    .map(([dir, entry]) => `${dir}: ${entry === undefined ? "not in package-lock.json" : "a development dependency"}`)
  if (problems.length > 0) {
    throw new BundleError(`the bundle would contain code that is not a production dependency:\n  ${problems.join("\n  ")}`)
  }
  return [...found.keys()].map((d) => `${d.replace(/^.*node_modules\//, "")}@${found.get(d)?.version ?? "?"}`).sort()
}

/**
 * V8 holds a running script's source for as long as it runs, and one character outside Latin-1
 * stores all of it two bytes per character: 10 MB of heap for this bundle instead of 5. esbuild
 * escapes such characters in code (its default ASCII charset) but copies comments as they are
 * (a few curly quotes in dependencies' comments): each UTF-16 unit of them becomes "?", so every
 * position, and with it the source map, stays where it was.
 */
const asciiOnly = (file: string): void => {
  const text = readFileSync(file, "utf8")
  if (/[^\x00-\x7f]/.test(text)) writeFileSync(file, text.replace(/[^\x00-\x7f]/g, "?"))
}

export const bundle = async (outdir: string = join(REPO_ROOT, "dist"), root: string = REPO_ROOT): Promise<BundleResult> => {
  rmSync(outdir, { recursive: true, force: true })
  mkdirSync(outdir, { recursive: true })
  const main = join(outdir, "main.js")
  const result = await build({
    absWorkingDir: root,
    entryPoints: ["src/main.ts"],
    outfile: main,
    bundle: true,
    platform: "node",
    target: "node22",
    format: "esm",
    sourcemap: "linked",
    metafile: true,
    logLevel: "warning",
    // CommonJS dependencies call require() for Node built-ins; an ES module has none of its own.
    banner: { js: "import { createRequire as __apiControllerRequire } from 'node:module';\nconst require = __apiControllerRequire(import.meta.url);" }
  })
  const packages = checkProductionOnly(result.metafile, root)
  asciiOnly(main)
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { name: string; version: string; license?: string }
  // main.js is an ES module; the nearest package.json says so wherever dist/ is copied.
  writeFileSync(
    join(outdir, "package.json"),
    `${JSON.stringify({ name: pkg.name, version: pkg.version, private: true, type: "module", license: pkg.license, main: "main.js" }, null, 2)}\n`
  )
  const bytes = result.metafile.outputs[Object.keys(result.metafile.outputs).find((o) => o.endsWith("main.js"))!]?.bytes ?? 0
  const sources = Object.keys(result.metafile.inputs).filter((i) => packageDirOf(i) === undefined).sort()
  return { outdir, main, bytes, packages, sources }
}

// `npx tsx scripts/bundle.ts [outdir]`
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] !== undefined ? resolve(process.argv[2]) : undefined
  try {
    const r = await bundle(out)
    console.log(`bundle: ${r.main} (${(r.bytes / 1024 / 1024).toFixed(1)} MiB) from ${r.packages.length} production packages`)
  } catch (e) {
    console.error(`bundle: ${e instanceof Error ? e.message : String(e)}`)
    process.exit(1)
  }
}
