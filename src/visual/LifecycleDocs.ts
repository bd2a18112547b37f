/**
 * The generated lifecycle docs (issue 6): `docs/lifecycle.md` (what each machine drives, the status
 * codes, one Mermaid diagram and one state table per machine) and `docs/lifecycle-<machine>.svg`.
 * Pure: returns file contents; scripts/diagram.ts (`npm run diagrams`) writes them and
 * `api-controller diagram --out` writes diagram files, test/visual checks the committed docs still match.
 */
import { diagramExtension, type DiagramFormat, renderDiagram, type RenderOptions, toMermaid, toSvg } from "./Diagram.ts"
import { catalogView, codeMeanings, graphOf, type GraphTransition, type MachineEntry, transitionLabel } from "./MachineGraph.ts"

export interface GeneratedFile {
  /** Relative to the repository root (docs) or to the chosen output directory (diagrams). */
  readonly path: string
  readonly content: string
}

/** The command that regenerates the docs. */
export const writeDocsCommand = "npx tsx scripts/diagram.ts --write-docs"

export const lifecycleMarkdownPath = "docs/lifecycle.md"
export const lifecycleSvgPath = (entry: MachineEntry): string => `docs/lifecycle-${entry.name}.svg`

const cell = (text: string): string => text.replace(/\|/g, "\\|")
const code = (text: string): string => `\`${text}\``

const enteredOn = (entry: MachineEntry, state: string): string => {
  const graph = graphOf(entry)
  const anyLabel = new Map(graph.anySources.map((a) => [a.id, a.label]))
  const into = graph.transitions.filter((t) => t.target === state)
  const from = (t: GraphTransition) => anyLabel.get(t.source) ?? t.source
  const parts = into.map((t) => `${code(transitionLabel(t))} from ${from(t)}`)
  if (graph.initial === state) parts.unshift("initial state")
  return parts.length > 0 ? parts.join("; ") : "never (unreachable)"
}

/** The machine's root `OBSERVED` transitions in the order xstate tries them, as a numbered list. */
const rulesOf = (entry: MachineEntry): ReadonlyArray<string> => {
  const graph = graphOf(entry)
  const roots = new Set(graph.anySources.map((a) => a.id))
  return graph.transitions
    .filter((t) => roots.has(t.source) && t.event === "OBSERVED")
    .map((t, i) =>
      `${i + 1}. ${t.guard !== null ? code(t.guard) : "otherwise"} → **${t.target}**` +
      (t.intents.length > 0 ? ` / ${t.intents.map(code).join(", ")}` : "") +
      (t.description !== undefined ? `: ${t.description}` : "")
    )
}

/** The text of docs/lifecycle.md. */
export const lifecycleMarkdown = (entries: ReadonlyArray<MachineEntry> = catalogView): string => {
  const meaningOf = new Map(codeMeanings.map((c) => [c.code, c.meaning]))
  const out: Array<string> = [
    "# Lifecycle of an Api",
    "",
    `<!-- Generated from machines/ by \`${writeDocsCommand}\`; do not edit by hand. test/visual/Diagram.test.ts fails when it no longer matches the machines. -->`,
    "",
    "Each Api is driven by explicit state machines (xstate, in `machines/`; SPEC 5). Every stored state",
    "projects to one status code, and a code changes only through a transition of its machine. Each",
    "reconciliation pass gathers the facts once and feeds every machine one `OBSERVED` event, in the order",
    "below (authentication before the VirtualService: secure before expose). The machine's guards, tried in",
    "order, pick the state: the rules are listed under each machine. A state that asks for a write",
    "(`Applying`, `Removing`, `Withdrawing`) lasts only within the pass: the reconciler runs the intent and",
    "feeds the server's answer back (`APPLIED`, `REMOVED`, `WRITE_FAILED`), so a write the server accepted is",
    "confirmed by its response and never stored as in progress.",
    "",
    "| Machine | Drives | About | Defined in |",
    "| --- | --- | --- | --- |",
    ...entries.map((e) => `| [${e.name}](#${e.name.toLowerCase()}) | ${code(e.statusField)} | ${cell(e.summary)} | ${code(e.source)} |`),
    "",
    "## Status codes",
    "",
    "From SPEC 3:",
    "",
    "| Code | Meaning |",
    "| --- | --- |",
    ...codeMeanings.map((c) => `| ${c.code} | ${cell(c.meaning)} |`),
    "",
    "## Reading the diagrams",
    "",
    "- A state reads `Name (code)`: the status code it projects to (`not reported`: the status field is left",
    "  out; `within a pass`: a transient state, never stored). The dot (`[*]`) points at the initial state.",
    "- An edge reads `EVENT [guard] / intent`. `[else]` marks the fallback taken when the guarded edge for the",
    "  same event does not apply. Intents are the writes the reconciler carries out; actions that only record",
    "  `lastError` or `resource` are not drawn.",
    "- *any state* (dashed) stands for every state: the machine handles these events at its root, so they are",
    "  taken from whichever state it is in (a state's own transitions for the same event are tried first).",
    `- The same diagrams as standalone SVG: ${entries.map((e) => `[${e.name}](${lifecycleSvgPath(e).slice("docs/".length)})`).join(", ")}.`,
    ""
  ]
  for (const entry of entries) {
    const graph = graphOf(entry)
    out.push(
      `## ${entry.name}`,
      "",
      `Drives ${code(entry.statusField)}: ${entry.summary}. Defined in ${code(entry.source)}.`,
      "",
      "Each pass, `OBSERVED` tries these rules in order; the first whose guard holds decides:",
      "",
      ...rulesOf(entry),
      "",
      "```mermaid",
      toMermaid(entry).trimEnd(),
      "```",
      "",
      "| State | Code | Meaning | Entered on |",
      "| --- | --- | --- | --- |",
      ...graph.states.map((s) =>
        `| ${s.id} | ${s.transient ? "within a pass" : s.code ?? "not reported"} | ${
          cell(s.description ?? (typeof s.code === "number" ? meaningOf.get(s.code) ?? "" : ""))
        } | ${cell(enteredOn(entry, s.id))} |`
      ),
      ""
    )
  }
  return out.join("\n")
}

/** Every generated docs file, paths relative to the repository root. */
export const lifecycleDocs = (entries: ReadonlyArray<MachineEntry> = catalogView): ReadonlyArray<GeneratedFile> => [
  { path: lifecycleMarkdownPath, content: lifecycleMarkdown(entries) },
  ...entries.map((entry) => ({ path: lifecycleSvgPath(entry), content: toSvg(entry) }))
]

/** One diagram file per machine (`<name>.<ext>`), for writing into an output directory. */
export const diagramFiles = (
  format: DiagramFormat,
  entries: ReadonlyArray<MachineEntry> = catalogView,
  options: RenderOptions = {}
): ReadonlyArray<GeneratedFile> =>
  entries.map((entry) => ({ path: `${entry.name}.${diagramExtension[format]}`, content: renderDiagram(entry, format, options) }))

const commentPrefix: Readonly<Record<DiagramFormat, string | null>> = { mermaid: "%% ", dot: "// ", svg: null }

/**
 * Diagrams of several machines as one text for a terminal: each preceded by a comment naming the
 * machine (Mermaid, DOT). SVG documents cannot be concatenated: one machine only.
 */
export const diagramText = (
  format: DiagramFormat,
  entries: ReadonlyArray<MachineEntry> = catalogView,
  options: RenderOptions = {}
): string => {
  const prefix = commentPrefix[format]
  if (prefix === null) {
    const [only, ...rest] = entries
    if (only === undefined || rest.length > 0) throw new Error("SVG prints one machine at a time: choose one, or write files to a directory")
    return renderDiagram(only, format, options)
  }
  if (entries.length === 1 && entries[0] !== undefined) return renderDiagram(entries[0], format, options)
  return entries.map((e) => `${prefix}${e.name}: ${e.statusField}\n${renderDiagram(e, format, options)}`).join("\n")
}
