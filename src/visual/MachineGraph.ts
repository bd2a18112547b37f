/**
 * The lifecycle machines as plain data, read from their xstate definitions (SPEC 5): which states
 * there are, which status code each projects to, and every transition the machine can take.
 * The diagram renderers (Diagram.ts, Svg.ts) draw only this model, so what they draw is what
 * the machines do. Nothing here is written by hand except the catalog's one-line summaries.
 *
 * Root-level transitions (`on` of the machine itself) apply from every state. They are kept
 * apart as transitions from a pseudo-source "any state" (or "any state except X" when a state
 * handles the event itself and so shadows them), which draws as one edge per target instead of
 * one edge per state. `expandTransitions` gives the same thing per concrete state.
 *
 * The model covers flat machines (one level of states under the root), which is what machines/
 * holds. A machine using anything the renderers do not draw yet (nested or parallel states,
 * eventless or delayed transitions, invoked actors, entry/exit intents, wildcard events) makes
 * `graphOf` throw rather than draw an incomplete diagram.
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from "xstate"
import { catalog, codeOf, isTransient, MACHINE_NAMES, type MachineName, storedStates } from "../../machines/Catalog.ts"

// ---------------------------------------------------------------------------------------------
// the catalog as the renderers read it

export interface MachineEntry {
  /** Short name used on the command line and in file names: `validation`, `authentication`, `virtualService`. */
  readonly name: string
  readonly machine: AnyStateMachine
  /** Stored state -> status code it projects to (null: the status field is left out). */
  readonly codes: Readonly<Record<string, number | null>>
  /** The status field the machine drives. */
  readonly statusField: string
  /** Where the machine is defined, relative to the repository root. */
  readonly source: string
  /** One line: what the machine is about. */
  readonly summary: string
}

const entryOf = (name: MachineName): MachineEntry => ({
  name,
  machine: catalog[name].machine,
  codes: Object.fromEntries(storedStates(name).map((state) => [state, codeOf(name, state)])),
  statusField: catalog[name].statusField,
  source: catalog[name].source,
  summary: catalog[name].summary
})

/**
 * A view of machines/Catalog.ts (the one catalog): its machines, in its order, with what the
 * renderers need of each (the codes of the stored states resolved from the states' meta).
 */
export const catalogView: ReadonlyArray<MachineEntry> = MACHINE_NAMES.map(entryOf)

/** The machine with the given name, or undefined. */
export const findMachine = (name: string): MachineEntry | undefined =>
  catalogView.find((entry) => entry.name === name)

/** Status codes and what they mean (SPEC 3). */
export const codeMeanings: ReadonlyArray<{ readonly code: number; readonly meaning: string }> = [
  { code: 0, meaning: "resource not created" },
  { code: 1, meaning: "creation in progress" },
  { code: 2, meaning: "created" },
  { code: 3, meaning: "error (see `lastError`)" },
  { code: 4, meaning: "hostname already used by a different VirtualService (VirtualService only)" },
  { code: 5, meaning: "another Api exists for the target Service (Api only)" }
]

// ---------------------------------------------------------------------------------------------
// model

export interface GraphState {
  /** The state's key, e.g. `Created`. */
  readonly id: string
  /** The status code the state projects to; null when it leaves the field out; undefined for a transient state. */
  readonly code: number | null | undefined
  /** Entered and left within one pass, never stored: a write waiting for the server's answer. */
  readonly transient: boolean
  readonly initial: boolean
  /** xstate `description` of the state node, if the machine gives one. */
  readonly description: string | undefined
}

/** Stands for "every state in `appliesTo`": the source of root-level transitions. */
export interface AnySource {
  readonly id: string
  /** `any state`, or `any state except A, B`. */
  readonly label: string
  readonly except: ReadonlyArray<string>
  readonly appliesTo: ReadonlyArray<string>
}

export interface GraphTransition {
  /** A state id, or an `AnySource` id for root-level transitions. */
  readonly source: string
  readonly event: string
  /** The guard's name (`!g`, `a && b` for higher-order guards), null when unguarded. */
  readonly guard: string | null
  /** Unguarded, but listed after guarded transitions for the same event: taken when none of them holds. */
  readonly otherwise: boolean
  readonly target: string
  /** Named actions that are intents (not xstate assigns), in order. */
  readonly intents: ReadonlyArray<string>
  /** xstate `description` of the transition, if the machine gives one. */
  readonly description: string | undefined
}

export interface MachineGraph {
  readonly name: string
  readonly id: string
  readonly statusField: string
  readonly initial: string
  /** Initial state first, then the machine's order. */
  readonly states: ReadonlyArray<GraphState>
  readonly anySources: ReadonlyArray<AnySource>
  /** Root-level transitions (from an AnySource) first, then each state's own, in definition order. */
  readonly transitions: ReadonlyArray<GraphTransition>
}

/** The transitions grouped by (source, target), in order of first appearance: one drawn edge each. */
export interface GraphEdge {
  readonly source: string
  readonly target: string
  readonly transitions: ReadonlyArray<GraphTransition>
}

export const edgesOf = (transitions: ReadonlyArray<GraphTransition>): ReadonlyArray<GraphEdge> => {
  const edges: Array<{ source: string; target: string; transitions: Array<GraphTransition> }> = []
  for (const t of transitions) {
    const edge = edges.find((e) => e.source === t.source && e.target === t.target)
    if (edge) edge.transitions.push(t)
    else edges.push({ source: t.source, target: t.target, transitions: [t] })
  }
  return edges
}

/** Checks `highlight` names a state of the graph; throws otherwise. */
export const checkHighlight = (graph: MachineGraph, highlight: string | undefined): void => {
  if (highlight !== undefined && !graph.states.some((s) => s.id === highlight)) {
    throw new Error(
      `machine '${graph.name}' has no state '${highlight}' (states: ${graph.states.map((s) => s.id).join(", ")})`
    )
  }
}

/** `EVENT [guard] / intent, intent`, the label used on edges everywhere. */
export const transitionLabel = (t: Pick<GraphTransition, "event" | "guard" | "otherwise" | "intents">): string =>
  t.event + guardSuffix(t) + (t.intents.length > 0 ? ` / ${t.intents.join(", ")}` : "")

const guardSuffix = (t: Pick<GraphTransition, "guard" | "otherwise">): string =>
  t.guard !== null ? ` [${t.guard}]` : t.otherwise ? " [else]" : ""

/** `Created (2)`; `Disabled (not reported)`; `Applying (within a pass)`. */
export const stateLabel = (s: GraphState): string =>
  `${s.id} (${s.transient ? "within a pass" : s.code === null ? "not reported" : s.code ?? "?"})`

class UnsupportedMachine extends Error {
  constructor(machine: string, what: string) {
    super(`diagram of machine '${machine}': ${what}, which src/visual does not draw yet; extend src/visual/MachineGraph.ts`)
    this.name = "UnsupportedMachine"
  }
}

/** Reads the machine definition of a catalog entry into a MachineGraph. Throws UnsupportedMachine (see module doc). */
export const graphOf = (entry: MachineEntry): MachineGraph => {
  const { machine } = entry
  const root = machine.root
  const unsupported = (what: string) => new UnsupportedMachine(entry.name, what)

  checkNode(root, machine, unsupported)
  const children = Object.values(root.states) as Array<AnyStateNode>
  for (const child of children) {
    if (child.type !== "atomic" && child.type !== "final") {
      throw unsupported(`state '${child.key}' is ${child.type}`)
    }
    checkNode(child, machine, unsupported)
  }
  const initialTargets = root.initial.target
  const initialNode = initialTargets.length === 1 ? initialTargets[0] : undefined
  if (initialNode === undefined || initialNode.parent !== root) throw unsupported("the initial state is not one child state")
  const initial = initialNode.key

  const ordered = [initialNode, ...children.filter((c) => c !== initialNode)]
  const states: Array<GraphState> = ordered.map((node) => ({
    id: node.key,
    code: Object.hasOwn(entry.codes, node.key) ? entry.codes[node.key] : undefined,
    transient: MACHINE_NAMES.includes(entry.name as MachineName) && isTransient(entry.name as MachineName, node.key),
    initial: node === initialNode,
    description: node.description
  }))
  const allIds = states.map((s) => s.id)

  const targetOf = (t: AnyTransitionDefinition, from: AnyStateNode): string => {
    const targets = t.target ?? []
    if (targets.length === 0) {
      if (from === root) throw unsupported(`the root-level transition on '${t.eventType}' has no target`)
      return from.key
    }
    const only = targets[0]
    if (targets.length !== 1 || only === undefined || only.parent !== root) {
      throw unsupported(`the transition on '${t.eventType}' from '${from.key || entry.name}' targets ${targets.map((n) => n.id).join(", ")}`)
    }
    return only.key
  }

  // A forbidden transition (no target, no actions) only stops an event from reaching the root:
  // it shadows root transitions (below) but is not itself drawn.
  const forbidden = (t: AnyTransitionDefinition) => (t.target ?? []).length === 0 && t.actions.length === 0
  const convert = (source: string, from: AnyStateNode, candidates: ReadonlyArray<AnyTransitionDefinition>) => {
    let guardedBefore = false
    return candidates.filter((t) => !forbidden(t)).map((t): GraphTransition => {
      const guard = t.guard === undefined ? null : guardLabel(t.guard)
      const otherwise = guard === null && guardedBefore
      if (guard !== null) guardedBefore = true
      return {
        source,
        event: t.eventType,
        guard,
        otherwise,
        target: targetOf(t, from),
        intents: t.actions.flatMap((a) => intentLabel(machine, a)),
        description: t.description
      }
    })
  }

  // Root-level transitions apply from every state that does not handle the event itself with an
  // unguarded transition (a state's own transitions are tried first; only if none is enabled
  // does the root's apply). Group events by the set of states they apply to.
  const groups: Array<{ appliesTo: Array<string>; events: Array<string> }> = []
  for (const event of root.transitions.keys()) {
    const appliesTo = ordered
      .filter((node) => !(node.transitions.get(event) ?? []).some((t) => t.guard === undefined))
      .map((node) => node.key)
    if (appliesTo.length === 0) continue // shadowed everywhere: never taken
    const key = appliesTo.join(",")
    const group = groups.find((g) => g.appliesTo.join(",") === key)
    if (group) group.events.push(event)
    else groups.push({ appliesTo, events: [event] })
  }
  const pseudoId = (i: number) => {
    let id = i === 0 ? "any" : `any${i + 1}`
    while (allIds.includes(id)) id = `_${id}`
    return id
  }
  const anySources: Array<AnySource> = groups.map((g, i) => {
    const except = allIds.filter((id) => !g.appliesTo.includes(id))
    return {
      id: pseudoId(i),
      label: except.length === 0 ? "any state" : `any state except ${except.join(", ")}`,
      except,
      appliesTo: g.appliesTo
    }
  })

  const transitions: Array<GraphTransition> = []
  groups.forEach((g, i) => {
    for (const event of g.events) {
      transitions.push(...convert(anySources[i]!.id, root, root.transitions.get(event) ?? []))
    }
  })
  for (const node of ordered) {
    for (const [, candidates] of node.transitions) transitions.push(...convert(node.key, node, candidates))
  }

  return { name: entry.name, id: machine.id, statusField: entry.statusField, initial, states, anySources, transitions }
}

/**
 * Every transition per concrete state, as xstate selects them: for each state and event, the
 * state's own candidates in order, then the root's (the `otherwise` flag is recomputed over that
 * combined list). Root transitions shadowed by an unguarded own transition are left out.
 */
export const expandTransitions = (graph: MachineGraph): ReadonlyArray<GraphTransition> => {
  const out: Array<GraphTransition> = []
  for (const state of graph.states) {
    const own = graph.transitions.filter((t) => t.source === state.id)
    const inherited = graph.transitions.filter((t) =>
      graph.anySources.some((a) => a.id === t.source && a.appliesTo.includes(state.id))
    )
    const events = [...new Set([...own, ...inherited].map((t) => t.event))]
    for (const event of events) {
      let guardedBefore = false
      for (const t of [...own, ...inherited].filter((t) => t.event === event)) {
        out.push({ ...t, source: state.id, otherwise: t.guard === null && guardedBefore })
        if (t.guard !== null) guardedBefore = true
      }
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// reading xstate definitions

const checkNode = (node: AnyStateNode, machine: AnyStateMachine, unsupported: (what: string) => Error) => {
  const where = node.parent === undefined ? "the machine" : `state '${node.key}'`
  if ((node.always ?? []).length > 0) throw unsupported(`${where} has eventless (always) transitions`)
  if (node.after.length > 0) throw unsupported(`${where} has delayed (after) transitions`)
  if (node.invoke.length > 0) throw unsupported(`${where} invokes actors`)
  for (const action of [...node.entry, ...node.exit]) {
    if (intentLabel(machine, action).length > 0) throw unsupported(`${where} has entry/exit actions that are not assigns`)
  }
  for (const event of node.transitions.keys()) {
    if (event === "*" || event.endsWith(".*")) throw unsupported(`${where} has a wildcard transition on '${event}'`)
  }
}

const assignType = "xstate.assign"

const builtinType = (x: unknown): string | undefined => {
  const type = (x as { readonly type?: unknown }).type
  return typeof type === "string" ? type : undefined
}

/** The label of an action if it is an intent, or [] for assign-only actions. */
const intentLabel = (machine: AnyStateMachine, action: unknown): Array<string> => {
  const implementations = machine.implementations.actions as Record<string, unknown>
  const named = (name: string): Array<string> => {
    const impl = Object.hasOwn(implementations, name) ? implementations[name] : undefined
    return impl !== undefined && builtinType(impl) === assignType ? [] : [name]
  }
  if (typeof action === "string") return named(action)
  if (typeof action === "function") {
    const type = builtinType(action)
    if (type === assignType) return []
    if (type !== undefined && type.startsWith("xstate.")) return [type.slice("xstate.".length)]
    return [action.name !== "" ? action.name : "inline"]
  }
  if (typeof action === "object" && action !== null) {
    const type = builtinType(action)
    if (type !== undefined) return named(type)
  }
  return ["inline"]
}

/** The label of a guard: its name, `!g`, `a && b`, `a || b`, `in(State)`. */
const guardLabel = (guard: unknown): string => {
  if (typeof guard === "string") return guard
  if (typeof guard === "function") {
    const children = (guard as { readonly guards?: unknown }).guards
    if (Array.isArray(children)) {
      const parts = children.map((g) => {
        const label = guardLabel(g)
        return /[ &|]/.test(label) ? `(${label})` : label
      })
      if (guard.name === "not") return `!${parts[0] ?? ""}`
      return parts.join(guard.name === "or" ? " || " : " && ")
    }
    const stateValue = (guard as { readonly stateValue?: unknown }).stateValue
    if (stateValue !== undefined) return `in(${typeof stateValue === "string" ? stateValue : JSON.stringify(stateValue)})`
    return guard.name !== "" ? guard.name : "inline"
  }
  if (typeof guard === "object" && guard !== null) {
    const type = builtinType(guard)
    if (type !== undefined) return type
  }
  return "inline"
}
