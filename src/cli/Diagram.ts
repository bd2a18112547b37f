/**
 * `api-controller diagram`: the lifecycle machines drawn from their definitions in machines/
 * (src/visual), as Mermaid (default), Graphviz DOT or SVG, printed or written into a directory
 * (one file per machine). This is the one diagram command: scripts/diagram.ts (`npm run
 * diagrams`) runs it too and adds only the regeneration of the committed docs.
 */
import { Console, Effect, FileSystem, Option, Path } from "effect"
import { Command, Flag } from "effect/cli"
import { catalogView, type DiagramFormat, diagramFormats, findMachine } from "../visual/Diagram.ts"
import { diagramFiles, diagramText, type GeneratedFile } from "../visual/LifecycleDocs.ts"

const machineNames = catalogView.map((e) => e.name)

export const diagramFlags = {
  format: Flag.Literals("format", diagramFormats).pipe(
    Flag.withDescription("mermaid (default), dot, or svg (one machine at a time, unless --out)."),
    Flag.withDefault("mermaid" as const)
  ),
  machine: Flag.Literals("machine", machineNames).pipe(
    Flag.withDescription(`Only this machine: ${machineNames.join(", ")}. Default: all (mermaid, dot, or any format with --out).`),
    Flag.optional
  ),
  highlight: Flag.String("highlight").pipe(
    Flag.withDescription("Draw this state of --machine in a distinct colour, e.g. --machine virtualService --highlight HostnameOccupied."),
    Flag.optional
  ),
  out: Flag.Directory("out").pipe(
    Flag.withDescription("Write one file per machine (<machine>.mmd, .dot or .svg) into this directory instead of printing."),
    Flag.optional
  )
} as const

export interface DiagramFlags {
  readonly format: DiagramFormat
  readonly machine: Option.Option<string>
  readonly highlight: Option.Option<string>
  readonly out?: Option.Option<string>
}

/** What the command prints or writes, or why it cannot (a usage problem). */
export const diagramOutput = (
  flags: DiagramFlags
): { readonly text: string } | { readonly files: ReadonlyArray<GeneratedFile> } | { readonly error: string } => {
  const entries = Option.match(flags.machine, {
    onNone: () => catalogView,
    onSome: (name) => {
      const entry = findMachine(name)
      return entry !== undefined ? [entry] : []
    }
  })
  if (entries.length === 0) return { error: `unknown machine; choose one of ${machineNames.join(", ")}` }
  if (Option.isSome(flags.highlight) && entries.length !== 1) return { error: "--highlight needs --machine" }
  const toDirectory = flags.out !== undefined && Option.isSome(flags.out)
  if (flags.format === "svg" && entries.length !== 1 && !toDirectory) {
    return { error: `--format svg draws one machine: add --machine ${machineNames.join("|")}, or --out DIR` }
  }
  const options = { highlight: Option.getOrUndefined(flags.highlight) }
  try {
    return toDirectory ? { files: diagramFiles(flags.format, entries, options) } : { text: diagramText(flags.format, entries, options) }
  } catch (e) {
    // A state --highlight names that the machine does not have.
    return { error: e instanceof Error ? e.message : String(e) }
  }
}

export const runDiagram = Effect.fn("cli.diagram")(function*(flags: DiagramFlags) {
  const out = diagramOutput(flags)
  if ("text" in out) return yield* Console.log(out.text.trimEnd())
  if ("files" in out) {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = Option.getOrElse(flags.out ?? Option.none(), () => ".")
    yield* fs.makeDirectory(dir, { recursive: true })
    for (const file of out.files) {
      yield* fs.writeFileString(path.join(dir, file.path), file.content)
      yield* Console.log(`wrote ${path.join(dir, file.path)}`)
    }
    return
  }
  yield* Console.error(`api-controller diagram: ${out.error}`)
  process.exitCode = 2
})

export const diagramCommand = Command.make("diagram", diagramFlags, runDiagram).pipe(
  Command.withDescription("Print the lifecycle machines, drawn from their definitions in machines/: states with their status codes, events, guards."),
  Command.withExamples([
    { command: "api-controller diagram", description: "All the machines as Mermaid" },
    {
      command: "api-controller diagram --format svg --machine virtualService --highlight HostnameOccupied > vs.svg",
      description: "One machine as SVG, one state highlighted"
    },
    { command: "api-controller diagram --format svg --out diagrams", description: "Every machine as an SVG file in diagrams/" }
  ])
)
