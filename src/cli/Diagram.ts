/**
 * `api-controller diagram`: the lifecycle machines drawn from their definitions in machines/
 * (src/visual), as Mermaid (default), Graphviz DOT or SVG. scripts/diagram.ts stays the generator
 * of the committed docs; this is the same rendering for users of the command.
 */
import { Console, Effect, Option } from "effect"
import { Flag } from "effect/cli"
import { diagramFormats, findMachine, machineCatalog } from "../visual/Diagram.ts"
import { diagramText } from "../visual/LifecycleDocs.ts"

const machineNames = machineCatalog.map((e) => e.name)

export const diagramFlags = {
  format: Flag.Literals("format", diagramFormats).pipe(
    Flag.withDescription("mermaid (default), dot, or svg (one machine at a time)."),
    Flag.withDefault("mermaid" as const)
  ),
  machine: Flag.Literals("machine", machineNames).pipe(
    Flag.withDescription(`Only this machine: ${machineNames.join(", ")}. Default: all (mermaid, dot).`),
    Flag.optional
  ),
  highlight: Flag.String("highlight").pipe(
    Flag.withDescription("Draw this state of --machine in a distinct colour, e.g. --machine virtualService --highlight HostnameOccupied."),
    Flag.optional
  )
} as const

/** The text the command prints, or why it cannot (a usage problem). */
export const diagramOutput = (flags: {
  readonly format: typeof diagramFormats[number]
  readonly machine: Option.Option<string>
  readonly highlight: Option.Option<string>
}): { readonly text: string } | { readonly error: string } => {
  const entries = Option.match(flags.machine, {
    onNone: () => machineCatalog,
    onSome: (name) => {
      const entry = findMachine(name)
      return entry !== undefined ? [entry] : []
    }
  })
  if (entries.length === 0) return { error: `unknown machine; choose one of ${machineNames.join(", ")}` }
  if (Option.isSome(flags.highlight) && entries.length !== 1) return { error: "--highlight needs --machine" }
  if (flags.format === "svg" && entries.length !== 1) {
    return { error: `--format svg draws one machine: add --machine ${machineNames.join("|")}` }
  }
  try {
    return { text: diagramText(flags.format, entries, { highlight: Option.getOrUndefined(flags.highlight) }) }
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) }
  }
}

export const runDiagram = Effect.fn("cli.diagram")(function*(flags: Parameters<typeof diagramOutput>[0]) {
  const out = diagramOutput(flags)
  if ("text" in out) return yield* Console.log(out.text.trimEnd())
  yield* Console.error(`api-controller diagram: ${out.error}`)
  process.exitCode = 2
})
