/**
 * Lifecycle diagrams rendered from the machine definitions (issue 6): Mermaid `stateDiagram-v2`,
 * Graphviz DOT and a self-contained SVG (Svg.ts). Pure and deterministic: the same machines give
 * byte-identical output, so the rendered docs can be committed and compared.
 *
 * Conventions, the same in every format:
 * - a state reads `Name (code)`, the status code it projects to;
 * - an edge reads `EVENT [guard] / intent`: `[else]` marks the unguarded fallback after a guarded
 *   transition for the same event; intents are the named actions the reconciler carries out
 *   (assign-only actions that just record `lastError`/`resource` are left out);
 * - root-level transitions, which apply from every state, are drawn once from a dashed
 *   pseudo-state "any state" (or "any state except X" when X handles the event itself).
 */
import { checkHighlight, edgesOf, graphOf, type MachineEntry, stateLabel, transitionLabel } from "./MachineGraph.ts"
import { palette, type RenderOptions, toSvg } from "./Svg.ts"

export {
  catalogView,
  checkHighlight,
  codeMeanings,
  edgesOf,
  expandTransitions,
  findMachine,
  graphOf,
  stateLabel,
  transitionLabel
} from "./MachineGraph.ts"
export type { AnySource, GraphEdge, GraphState, GraphTransition, MachineEntry, MachineGraph } from "./MachineGraph.ts"
export { palette, type RenderOptions, type SvgOptions, toSvg } from "./Svg.ts"

export type DiagramFormat = "mermaid" | "dot" | "svg"

export const diagramFormats: ReadonlyArray<DiagramFormat> = ["mermaid", "dot", "svg"]

/** File extension per format. */
export const diagramExtension: Readonly<Record<DiagramFormat, string>> = { mermaid: "mmd", dot: "dot", svg: "svg" }

// ---------------------------------------------------------------------------------------------
// Mermaid

/** Characters that would end or confuse a Mermaid label, as Mermaid entity codes. */
const mermaidText = (text: string): string => text.replace(/[#;:"]/g, (c) => `#${c.charCodeAt(0)};`)

/** Mermaid `stateDiagram-v2` source of one machine (no code fence). */
export const toMermaid = (entry: MachineEntry, options: RenderOptions = {}): string => {
  const graph = graphOf(entry)
  checkHighlight(graph, options.highlight)
  const lines: Array<string> = ["stateDiagram-v2", "  direction LR"]
  for (const state of graph.states) lines.push(`  state "${mermaidText(stateLabel(state))}" as ${state.id}`)
  for (const any of graph.anySources) lines.push(`  state "${mermaidText(any.label)}" as ${any.id}`)
  lines.push(`  [*] --> ${graph.initial}`)
  for (const edge of edgesOf(graph.transitions)) {
    lines.push(`  ${edge.source} --> ${edge.target} : ${edge.transitions.map((t) => mermaidText(transitionLabel(t))).join("<br/>")}`)
  }
  if (graph.anySources.length > 0) {
    lines.push(`  classDef anyState fill:${palette.anyFill},stroke:${palette.anyStroke},stroke-dasharray:4 3`)
    lines.push(`  class ${graph.anySources.map((a) => a.id).join(",")} anyState`)
  }
  if (options.highlight !== undefined) {
    lines.push(`  classDef current fill:${palette.highlightFill},stroke:${palette.highlightStroke},stroke-width:3px`)
    lines.push(`  class ${options.highlight} current`)
  }
  return lines.join("\n") + "\n"
}

// ---------------------------------------------------------------------------------------------
// DOT

const dotString = (text: string): string => `"${text.replace(/\\/g, "\\\\").replace(/"/g, "\\\"")}"`

/** Graphviz DOT source of one machine. */
export const toDot = (entry: MachineEntry, options: RenderOptions = {}): string => {
  const graph = graphOf(entry)
  checkHighlight(graph, options.highlight)
  const ids = new Set([...graph.states.map((s) => s.id), ...graph.anySources.map((a) => a.id)])
  let start = "start"
  while (ids.has(start)) start = `_${start}`
  const lines: Array<string> = [
    `digraph ${dotString(graph.name)} {`,
    "  rankdir=LR;",
    `  graph [fontname="Helvetica", labelloc=t, label=${dotString(`${graph.name}: ${graph.statusField}`)}];`,
    `  node [shape=box, style="rounded,filled", fillcolor="${palette.stateFill}", fontname="Helvetica"];`,
    "  edge [fontname=\"Helvetica\", fontsize=10];",
    `  ${dotString(start)} [shape=point, width=0.15, label="", style=filled, fillcolor="${palette.ownEdge}", color="${palette.ownEdge}"];`
  ]
  for (const state of graph.states) {
    const attributes = [`label=${dotString(stateLabel(state))}`]
    if (state.id === options.highlight) {
      attributes.push(`fillcolor="${palette.highlightFill}"`, `color="${palette.highlightStroke}"`, "penwidth=3")
    }
    if (state.description !== undefined) attributes.push(`tooltip=${dotString(state.description)}`)
    lines.push(`  ${dotString(state.id)} [${attributes.join(", ")}];`)
  }
  for (const any of graph.anySources) {
    lines.push(
      `  ${dotString(any.id)} [label=${dotString(any.label)}, style="rounded,dashed,filled", fillcolor="${palette.anyFill}", color="${palette.anyStroke}"];`
    )
  }
  lines.push(`  ${dotString(start)} -> ${dotString(graph.initial)};`)
  for (const edge of edgesOf(graph.transitions)) {
    const label = edge.transitions.map((t) => dotString(transitionLabel(t)).slice(1, -1)).join("\\n")
    lines.push(`  ${dotString(edge.source)} -> ${dotString(edge.target)} [label="${label}"];`)
  }
  lines.push("}")
  return lines.join("\n") + "\n"
}

/** One machine in the given format. */
export const renderDiagram = (entry: MachineEntry, format: DiagramFormat, options: RenderOptions = {}): string => {
  switch (format) {
    case "mermaid":
      return toMermaid(entry, options)
    case "dot":
      return toDot(entry, options)
    case "svg":
      return toSvg(entry, options)
  }
}
