/**
 * A self-contained SVG of one lifecycle machine, laid out here without any external tool, so the
 * web view can embed it and highlight the current state (issue 6).
 *
 * Layout, chosen for these small flat machines:
 *
 *   [any state] ─┬─ EVENT [guard] ──▶ [State (code)] ─╮ self-loop label   │ arcs between
 *                ├─ EVENT ─────────▶ [State (code)]   ╯                  │ states, one lane
 *                └─ ...              ...                                  ▼ each, on the right
 *
 * States form one column (initial first, marked by a dot), each a rounded box reading
 * `Name (code)`. Root-level transitions fan out from a dashed "any state" box on the left, one
 * arrow per target with its events stacked on it; a state's own transitions are drawn on the
 * right: self-loops next to the box, transitions to other states as arcs in lanes wide enough for
 * their labels, so no label crosses a line. Output is deterministic (fixed character-width text
 * metrics, numbers rounded to 0.1).
 */
import {
  checkHighlight,
  edgesOf,
  type GraphTransition,
  graphOf,
  type MachineEntry,
  stateLabel,
  transitionLabel
} from "./MachineGraph.ts"

export interface RenderOptions {
  /** A state to draw in a distinct colour (e.g. the current state). Throws if the machine has no such state. */
  readonly highlight?: string | undefined
}

export interface SvgOptions extends RenderOptions {
  /** Heading drawn at the top; defaults to `name: statusField`; null for none. */
  readonly title?: string | null | undefined
}

/** Colours shared by the renderers. */
export const palette = {
  background: "#ffffff",
  stateFill: "#f8fafc",
  stateStroke: "#334155",
  text: "#0f172a",
  anyFill: "#f1f5f9",
  anyStroke: "#64748b",
  anyEdge: "#64748b",
  ownEdge: "#1e293b",
  guard: "#475569",
  intent: "#6d28d9",
  highlightFill: "#fde68a",
  highlightStroke: "#b45309"
} as const

const font = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', 'DejaVu Sans Mono', monospace"
const stateFont = 14
const labelFont = 12
const titleFont = 15
/** Monospace advance, as a fraction of the font size (0.6 for the usual monospace faces). */
const advance = 0.6
const lineHeight = 15
const pad = 24
const boxHeight = 40
const anyHeight = 36
const fan = 56
const selfLoopWidth = 40
const laneGap = 30

const width = (text: string, size: number) => text.length * size * advance

const num = (x: number): string => {
  const r = Math.round(x * 10) / 10
  return Object.is(r, -0) ? "0" : String(r)
}

const xml = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const labelWidth = (lines: ReadonlyArray<GraphTransition>) =>
  Math.max(0, ...lines.map((t) => width(transitionLabel(t), labelFont)))

/** One text line of an edge label: event in bold, guard and intents in their colours. */
const labelSpans = (t: GraphTransition): string => {
  const guard = t.guard !== null ? ` [${t.guard}]` : t.otherwise ? " [else]" : ""
  const intents = t.intents.length > 0 ? ` / ${t.intents.join(", ")}` : ""
  return `<tspan font-weight="bold">${xml(t.event)}</tspan>` +
    (guard !== "" ? `<tspan fill="${palette.guard}">${xml(guard)}</tspan>` : "") +
    (intents !== "" ? `<tspan fill="${palette.intent}">${xml(intents)}</tspan>` : "")
}

/** Stacked label lines; `baselines[i]` is the baseline of line i. */
const labelText = (
  lines: ReadonlyArray<GraphTransition>,
  x: number,
  baselines: ReadonlyArray<number>,
  anchor: "start" | "end"
): string =>
  `<text class="label" x="${num(x)}" text-anchor="${anchor}" font-size="${labelFont}" fill="${palette.text}" ` +
  `stroke="${palette.background}" stroke-width="4" stroke-linejoin="round" paint-order="stroke">` +
  lines.map((t, i) => `<tspan x="${num(x)}" y="${num(baselines[i] ?? 0)}">${labelSpans(t)}</tspan>`).join("") +
  "</text>"

const descriptions = (lines: ReadonlyArray<GraphTransition>): string => {
  const texts = lines.flatMap((t) => (t.description !== undefined ? [`${t.event}: ${t.description}`] : []))
  return texts.length > 0 ? `<title>${xml(texts.join("\n"))}</title>` : ""
}

/** SVG rendering of one machine; `highlight` draws that state in a distinct colour. */
export const toSvg = (entry: MachineEntry, options: SvgOptions = {}): string => {
  const graph = graphOf(entry)
  checkHighlight(graph, options.highlight)
  const title = options.title === undefined ? `${graph.name}: ${graph.statusField}` : options.title
  const states = graph.states
  const rowOf = new Map(states.map((s, i) => [s.id, i]))
  const anyIds = new Set(graph.anySources.map((a) => a.id))

  const anyLanes = edgesOf(graph.transitions.filter((t) => anyIds.has(t.source)))
  const ownLanes = edgesOf(graph.transitions.filter((t) => !anyIds.has(t.source)))
  const selfLanes = ownLanes.filter((l) => l.source === l.target)
  const arcs = ownLanes
    .filter((l) => l.source !== l.target)
    .map((lane) => ({ lane, from: rowOf.get(lane.source) ?? 0, to: rowOf.get(lane.target) ?? 0 }))
    .sort((a, b) => Math.abs(a.to - a.from) - Math.abs(b.to - b.from) || a.from - b.from || a.to - b.to)

  const anyLinesInto = (row: number) =>
    anyLanes.filter((l) => rowOf.get(l.target) === row).reduce((n, l) => n + l.transitions.length, 0)
  const selfLinesOf = (row: number) =>
    selfLanes.filter((l) => rowOf.get(l.source) === row).reduce((n, l) => n + l.transitions.length, 0)

  // ---- columns
  const titleHeight = title !== null ? 34 : 0
  const top = pad + titleHeight
  const hasAny = graph.anySources.length > 0
  const anyWidth = Math.max(0, ...graph.anySources.map((a) => width(a.label, labelFont + 1) + 28))
  const anyRight = pad + anyWidth
  const corridor = Math.max(0, ...anyLanes.map((l) => labelWidth(l.transitions)))
  const boxLeft = hasAny ? anyRight + fan + corridor + 18 : pad + 8
  const boxWidth = Math.max(140, ...states.map((s) => width(stateLabel(s), stateFont) + 36))
  const right = boxLeft + boxWidth
  const selfLabelWidth = Math.max(0, ...selfLanes.map((l) => labelWidth(l.transitions)))
  const selfZone = selfLanes.length > 0 ? selfLoopWidth + selfLabelWidth + 20 : 20

  // ---- rows: far enough apart for the labels stacked above each row's incoming lane and loop
  const centres: Array<number> = []
  states.forEach((_, i) => {
    const above = Math.max(anyLinesInto(i) * lineHeight + 10, selfLinesOf(i) > 0 ? selfLinesOf(i) * lineHeight + 36 : 0)
    const previous = centres[i - 1]
    centres.push(
      previous === undefined
        ? top + Math.max(34 + boxHeight / 2, above)
        : previous + Math.max(boxHeight + 36, above)
    )
  })
  const cy = (row: number) => centres[row] ?? top

  const parts: Array<string> = []
  let maxX = right + selfZone
  let maxY = cy(states.length - 1) + boxHeight / 2

  const arrowAny = `${graph.name}-arrow-any`
  const arrowOwn = `${graph.name}-arrow`

  // ---- root-level transitions: "any state" boxes fanning out to their targets
  const anyStackHeight = graph.anySources.length * anyHeight + Math.max(0, graph.anySources.length - 1) * 16
  const anyTop = (cy(0) + cy(states.length - 1)) / 2 - anyStackHeight / 2
  graph.anySources.forEach((any, g) => {
    const y = anyTop + g * (anyHeight + 16)
    const anyCy = y + anyHeight / 2
    parts.push(
      `<g class="any" data-any="${xml(any.id)}" data-applies-to="${xml(any.appliesTo.join(" "))}"><title>${xml(`${any.label}: transitions defined on the machine itself, taken from ${any.except.length === 0 ? "every state" : "every state except " + any.except.join(", ")}`)}</title>` +
        `<rect x="${num(pad)}" y="${num(y)}" width="${num(anyWidth)}" height="${anyHeight}" rx="10" fill="${palette.anyFill}" stroke="${palette.anyStroke}" stroke-width="1.4" stroke-dasharray="5 4"/>` +
        `<text x="${num(pad + anyWidth / 2)}" y="${num(anyCy + 4.5)}" text-anchor="middle" font-size="${labelFont + 1}" font-style="italic" fill="${palette.text}">${xml(any.label)}</text></g>`
    )
    maxY = Math.max(maxY, y + anyHeight)
    const lanes = anyLanes.filter((l) => l.source === any.id)
    for (const lane of lanes) {
      const row = rowOf.get(lane.target) ?? 0
      const intoRow = anyLanes.filter((l) => l.target === lane.target)
      const k = intoRow.indexOf(lane)
      const laneY = cy(row) + (k - (intoRow.length - 1) / 2) * 12
      const x1 = anyRight + fan
      parts.push(
        `<g class="transition any-transition" data-source="${xml(any.id)}" data-target="${xml(lane.target)}" data-events="${xml(lane.transitions.map((t) => t.event).join(" "))}">` +
          descriptions(lane.transitions) +
          `<path d="M${num(anyRight)},${num(anyCy)} C${num(anyRight + fan * 0.55)},${num(anyCy)} ${num(anyRight + fan * 0.45)},${num(laneY)} ${num(x1)},${num(laneY)} H${num(boxLeft - 1.5)}" fill="none" stroke="${palette.anyEdge}" stroke-width="1.4" marker-end="url(#${arrowAny})"/>` +
          labelText(lane.transitions, boxLeft - 12, lane.transitions.map((_, i) => laneY - 5 - (lane.transitions.length - 1 - i) * lineHeight), "end") +
          "</g>"
      )
    }
  })

  // ---- self-loops: out of the right edge, back into the top edge
  for (const lane of selfLanes) {
    const row = rowOf.get(lane.source) ?? 0
    const c = cy(row)
    const boxTop = c - boxHeight / 2
    const baseline = c - 14
    parts.push(
      `<g class="transition self-transition" data-source="${xml(lane.source)}" data-target="${xml(lane.target)}" data-events="${xml(lane.transitions.map((t) => t.event).join(" "))}">` +
        descriptions(lane.transitions) +
        `<path d="M${num(right)},${num(c - 6)} C${num(right + selfLoopWidth + 14)},${num(c - 6)} ${num(right + 4)},${num(boxTop - 40)} ${num(right - 22)},${num(boxTop - 1.5)}" fill="none" stroke="${palette.ownEdge}" stroke-width="1.6" marker-end="url(#${arrowOwn})"/>` +
        labelText(lane.transitions, right + selfLoopWidth, lane.transitions.map((_, i) => baseline - (lane.transitions.length - 1 - i) * lineHeight), "start") +
        "</g>"
    )
  }

  // ---- arcs between states: one lane each, right of the self-loops
  const touches = new Map<number, number>()
  const stubY = (row: number) => {
    const k = touches.get(row) ?? 0
    touches.set(row, k + 1)
    return cy(row) + Math.min(8 + 5 * k, boxHeight / 2 - 3)
  }
  let laneX = right + selfZone + 10
  for (const { lane, from, to } of arcs) {
    const sy = stubY(from)
    const ty = stubY(to)
    const dir = ty >= sy ? 1 : -1
    const r = 8
    const middle = (sy + ty) / 2
    const n = lane.transitions.length
    const baselines = lane.transitions.map((_, i) => middle + 4 + (i - (n - 1) / 2) * lineHeight)
    parts.push(
      `<g class="transition own-transition" data-source="${xml(lane.source)}" data-target="${xml(lane.target)}" data-events="${xml(lane.transitions.map((t) => t.event).join(" "))}">` +
        descriptions(lane.transitions) +
        `<path d="M${num(right)},${num(sy)} H${num(laneX - r)} Q${num(laneX)},${num(sy)} ${num(laneX)},${num(sy + dir * r)} V${num(ty - dir * r)} Q${num(laneX)},${num(ty)} ${num(laneX - r)},${num(ty)} H${num(right + 1.5)}" fill="none" stroke="${palette.ownEdge}" stroke-width="1.6" marker-end="url(#${arrowOwn})"/>` +
        labelText(lane.transitions, laneX + 8, baselines, "start") +
        "</g>"
    )
    const w = labelWidth(lane.transitions)
    maxX = Math.max(maxX, laneX + 8 + w)
    maxY = Math.max(maxY, (baselines[n - 1] ?? middle) + 4)
    laneX += 8 + w + laneGap
  }

  // ---- initial marker and states, drawn last so they sit on top of the edges
  const initialRow = rowOf.get(graph.initial) ?? 0
  const initialTop = cy(initialRow) - boxHeight / 2
  parts.push(
    `<g class="initial"><circle cx="${num(boxLeft + 22)}" cy="${num(initialTop - 28)}" r="5.5" fill="${palette.ownEdge}"/>` +
      `<path d="M${num(boxLeft + 22)},${num(initialTop - 23)} V${num(initialTop - 1.5)}" stroke="${palette.ownEdge}" stroke-width="1.6" marker-end="url(#${arrowOwn})"/></g>`
  )
  states.forEach((state, row) => {
    const current = state.id === options.highlight
    const y = cy(row) - boxHeight / 2
    const tooltip = state.description !== undefined ? `<title>${xml(state.description)}</title>` : ""
    parts.push(
      `<g class="state${current ? " current" : ""}" data-state="${xml(state.id)}" data-code="${state.code ?? ""}"${current ? ` data-highlighted="true"` : ""}>` +
        tooltip +
        `<rect x="${num(boxLeft)}" y="${num(y)}" width="${num(boxWidth)}" height="${boxHeight}" rx="12" ` +
        `fill="${current ? palette.highlightFill : palette.stateFill}" stroke="${current ? palette.highlightStroke : palette.stateStroke}" stroke-width="${current ? 3 : 1.6}"/>` +
        `<text x="${num(boxLeft + boxWidth / 2)}" y="${num(cy(row) + 5)}" text-anchor="middle" font-size="${stateFont}"${current ? ` font-weight="bold"` : ""} fill="${palette.text}">${xml(stateLabel(state))}</text></g>`
    )
  })

  const totalWidth = Math.ceil(Math.max(maxX, title !== null ? pad + width(title, titleFont) : 0) + pad)
  const totalHeight = Math.ceil(maxY + pad)
  const marker = (id: string, colour: string) =>
    `<marker id="${xml(id)}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">` +
    `<path d="M0,0 L10,5 L0,10 z" fill="${colour}"/></marker>`
  const heading = title !== null
    ? `<text x="${pad}" y="${pad + 12}" font-size="${titleFont}" font-weight="bold" fill="${palette.text}">${xml(title)}</text>`
    : ""
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="lifecycle" data-machine="${xml(graph.name)}" width="${totalWidth}" height="${totalHeight}" viewBox="0 0 ${totalWidth} ${totalHeight}" font-family="${xml(font)}" role="img">`,
    `<title>${xml(`${graph.name} lifecycle (${graph.statusField})${options.highlight !== undefined ? `, now ${options.highlight}` : ""}`)}</title>`,
    `<defs>${marker(arrowAny, palette.anyEdge)}${marker(arrowOwn, palette.ownEdge)}</defs>`,
    `<rect width="${totalWidth}" height="${totalHeight}" fill="${palette.background}"/>`,
    ...(heading !== "" ? [heading] : []),
    ...parts,
    "</svg>"
  ].join("\n") + "\n"
}
