/**
 * Model-based testing of a lifecycle machine against the real reconciler.
 *
 * `xstate/graph` enumerates the machine's transitions (every (state, event) pair the machine
 * accepts, with the sample events given) and the shortest path to each state. Each transition
 * becomes one test path: the shortest path to its source state, then the transition. A path is
 * replayed on the in-memory cluster step by step: a driver arranges the world so that the next
 * reconcile pass observes exactly that event, one pass runs, and the persisted status must be
 * the projection of the machine's state after the step.
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

/** One path per transition: shortest path to its source state, then the transition itself. */
export const pathsCoveringEveryTransition = (
  machine: AnyStateMachine,
  input: unknown,
  events: ReadonlyArray<Ev>
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
    return { edge, steps }
  })
}

export interface Replayer<R> {
  /** Fresh world for a path (namespace, Api, ...). */
  readonly setup: Effect.Effect<void, unknown, R>
  /** Arrange the world so the next pass observes `event`. */
  readonly drive: (event: Ev) => Effect.Effect<void, unknown, R>
  /** One reconcile pass. */
  readonly pass: Effect.Effect<void, unknown, R>
  /** Fails (with a message) unless the persisted status is the projection of `state`. */
  readonly check: (state: AnyMachineSnapshot, step: string) => Effect.Effect<void, unknown, R>
}

/** Replays every path; returns the transitions that were exercised and checked. */
export const replayAll = <R>(
  paths: ReadonlyArray<ReplayPath>,
  replayer: Replayer<R>,
  run: <A>(effect: Effect.Effect<A, unknown, R>) => Effect.Effect<A, unknown>
) =>
  Effect.gen(function*() {
    const covered = new Set<string>()
    for (const path of paths) {
      yield* run(Effect.gen(function*() {
        yield* replayer.setup
        for (const [i, step] of path.steps.entries()) {
          const where = `path for ${edgeName(path.edge)}, step ${i + 1} (${step.event.type} -> ${String(step.state.value)})`
          yield* replayer.drive(step.event)
          yield* replayer.pass
          yield* replayer.check(step.state, where)
        }
      }))
      covered.add(edgeName(path.edge))
    }
    return covered
  })
