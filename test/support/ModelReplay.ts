/**
 * Model-based testing of a lifecycle machine against the real reconciler.
 *
 * `xstate/graph` enumerates the machine's transitions (every (state, event) pair the machine
 * accepts, with the sample events given) and the shortest path to each state. Each transition
 * becomes one test path: the shortest path to its source state, then the transition. A path is
 * replayed on a cluster (in memory or real) pass by pass: one pass is an `OBSERVED` event and,
 * when that leads to a transient state, the answer to its write. A driver arranges the world so
 * that the next pass observes exactly those facts and gets exactly that answer, one reconcile
 * pass runs, and the persisted status must be the projection of the machine's state after it.
 */
import { Effect } from "effect"
import { type AnyMachineSnapshot, type AnyStateMachine, type EventObject, initialTransition, transition } from "xstate"
import { getAdjacencyMap, getShortestPaths } from "xstate/graph"

type Ev = EventObject

export interface Edge {
  readonly from: string
  readonly event: Ev
  readonly to: string
}

export interface ReplayPath {
  readonly edge: Edge
  /** Events from the initial state; the last one is the edge under test. */
  readonly steps: ReadonlyArray<{ readonly event: Ev; readonly state: AnyMachineSnapshot }>
}

const valueOf = (s: { readonly value: unknown }) => JSON.stringify(s.value)

/** States are identified by their value only: context (lastError, resource) would multiply them. */
const traversal = (input: unknown, events: ReadonlyArray<Ev>) => ({
  input,
  events: events as Array<Ev>,
  serializeState: (s: unknown) => valueOf(s as AnyMachineSnapshot)
})

/** Every transition the machine takes with these sample events, as (from, event type, to). */
export const transitionsOf = (
  machine: AnyStateMachine,
  input: unknown,
  events: ReadonlyArray<Ev>
): ReadonlyArray<Edge> => {
  const adjacency = getAdjacencyMap(machine, traversal(input, events))
  const edges = new Map<string, Edge>()
  for (const { state, transitions } of Object.values(adjacency)) {
    const snapshot = state as AnyMachineSnapshot
    for (const { event, state: next } of Object.values(transitions) as Array<{ event: Ev; state: AnyMachineSnapshot }>) {
      const e = event as Ev
      if (!snapshot.can(e)) continue // not accepted here: no transition to cover
      const edge = { from: String(snapshot.value), event: e, to: String((next as AnyMachineSnapshot).value) }
      edges.set(`${edge.from} --${e.type}--> ${edge.to}`, edge)
    }
  }
  return [...edges.values()].sort((a, b) => edgeName(a).localeCompare(edgeName(b)))
}

export const edgeName = (e: Edge) => `${e.from} --${e.event.type}--> ${e.to}`

/**
 * One path per transition: shortest path to its source state, then the transition itself, then
 * (when that lands in a transient state) the first sample answer that settles it, so every path
 * ends where a reconcile pass can end.
 */
export const pathsCoveringEveryTransition = (
  machine: AnyStateMachine,
  input: unknown,
  events: ReadonlyArray<Ev>,
  transient: (state: string) => boolean = () => false
): ReadonlyArray<ReplayPath> => {
  const shortest = getShortestPaths(machine, traversal(input, events))
  const toState = new Map(shortest.map((p) => [String(p.state.value), p]))
  return transitionsOf(machine, input, events).map((edge) => {
    const prefix = toState.get(edge.from)
    if (prefix === undefined) throw new Error(`state ${edge.from} is unreachable`)
    // The graph dedups snapshots by state value, so its snapshots may carry another path's
    // context: recompute every step from the events with the pure transition function.
    const eventsOnPath = [...prefix.steps.map((s) => s.event as Ev).filter((e) => e.type !== "xstate.init"), edge.event]
    let state = initialTransition(machine, input)[0] as AnyMachineSnapshot
    const steps = eventsOnPath.map((event) => {
      state = transition(machine, state, event)[0] as AnyMachineSnapshot
      return { event, state }
    })
    if (String(state.value) !== edge.to) throw new Error(`replaying ${edgeName(edge)} ended in ${String(state.value)}`)
    if (transient(edge.to)) {
      const settle = events.find((e) => state.can(e) && !transient(String(transition(machine, state, e)[0].value)))
      if (settle === undefined) throw new Error(`nothing settles ${edge.to} after ${edgeName(edge)}`)
      state = transition(machine, state, settle)[0] as AnyMachineSnapshot
      steps.push({ event: settle, state })
    }
    return { edge, steps }
  })
}

export interface Replayer<R> {
  /** Fresh world for a path (namespace, Api, ...). */
  readonly setup: Effect.Effect<void, unknown, R>
  /** Arrange the world so the next pass observes `events[0]` and its write gets `events[1]`, if any. */
  readonly drive: (events: ReadonlyArray<Ev>) => Effect.Effect<void, unknown, R>
  /** One reconcile pass. */
  readonly pass: Effect.Effect<void, unknown, R>
  /** Fails (with a message) unless the persisted status is the projection of `state`. */
  readonly check: (state: AnyMachineSnapshot, step: string) => Effect.Effect<void, unknown, R>
}

/** A path's steps grouped into reconcile passes: each ends in a state status can hold. */
export const passesOf = (
  path: ReplayPath,
  transient: (state: string) => boolean
): ReadonlyArray<{ readonly events: ReadonlyArray<Ev>; readonly state: AnyMachineSnapshot }> => {
  const passes: Array<{ events: Array<Ev>; state: AnyMachineSnapshot }> = []
  let open: Array<Ev> = []
  for (const step of path.steps) {
    open.push(step.event)
    if (!transient(String(step.state.value))) {
      passes.push({ events: open, state: step.state })
      open = []
    }
  }
  if (open.length > 0) throw new Error(`path for ${edgeName(path.edge)} ends inside a pass`)
  return passes
}

/** Replays every path; returns the transitions that were exercised and checked. */
export const replayAll = <R>(
  paths: ReadonlyArray<ReplayPath>,
  transient: (state: string) => boolean,
  replayer: Replayer<R>,
  run: <A>(effect: Effect.Effect<A, unknown, R>) => Effect.Effect<A, unknown>
) =>
  Effect.gen(function*() {
    const covered = new Set<string>()
    for (const path of paths) {
      yield* run(Effect.gen(function*() {
        yield* replayer.setup
        for (const [i, pass] of passesOf(path, transient).entries()) {
          const where = `path for ${edgeName(path.edge)}, pass ${i + 1} (${pass.events.map((e) => e.type).join(" + ")} -> ${String(pass.state.value)})`
          yield* replayer.drive(pass.events)
          yield* replayer.pass
          yield* replayer.check(pass.state, where)
        }
      }))
      covered.add(edgeName(path.edge))
    }
    return covered
  })
