/**
 * The lifecycle of one pass (SPEC 5, 8): step the machines in catalog order, run the writes
 * their intents ask for, feed the server's answers back, and project the status.
 *
 *   validation: OBSERVED
 *   authentication: OBSERVED [-> intent -> APPLIED | REMOVED | WRITE_FAILED]
 *   virtualService: OBSERVED (facts include where authentication ended) [-> intent -> ...]
 *   -> status, transitions, the Ready Event, whether to retry
 *
 * Pure but for `write`, which the caller provides: the reconciler sends it to the API server;
 * the decision-table tests answer it from a table. No clock: the caller passes `now`.
 */
import { Effect } from "effect"
import { type AnyActorScope, type AnyStateMachine, createActor, type EventFrom } from "xstate"
import { catalog, type Intent, type IntentOf, isTransient, type MachineName, readinessOf } from "../../machines/Catalog.ts"
import type { WriteOutcome } from "../../machines/Child.ts"
import { isRetryable, type WriteFailure } from "../../machines/WriteFailure.ts"
import type { ApiStatus, Transition } from "../domain/Api.ts"
import { decodeStatus } from "../domain/Api.ts"
import type { KubeObject, ResourceKind } from "../domain/Kube.ts"
import { inSync, updatedChild } from "../plan/ChildComparison.ts"
import {
  type AuthenticationView,
  authenticationViewOf,
  type Observation,
  type PassSettings,
  refOf,
  validationFactsOf,
  type VirtualServiceView,
  virtualServiceViewOf
} from "./Observation.ts"
import {
  type ConditionEvent,
  conditionEvents,
  type MachineState,
  type MachineStates,
  machineStatesOf,
  projectStatus,
  transitionsBetween
} from "./StatusProjection.ts"

/** One child write a machine's intent asks for. */
export type ChildWrite =
  | { readonly op: "create"; readonly kind: ResourceKind; readonly object: KubeObject }
  | { readonly op: "update"; readonly kind: ResourceKind; readonly object: KubeObject }
  | {
    readonly op: "delete"
    readonly kind: ResourceKind
    readonly namespace: string
    readonly name: string
    readonly uid: string
  }

export type { WriteFailure }

/** Sends one write; answers with the object the server returned (create, update) or nothing (delete). */
export type Writer<R> = (write: ChildWrite) => Effect.Effect<KubeObject | undefined, WriteFailure, R>

export interface PassDecision {
  readonly before: MachineStates
  readonly after: MachineStates
  /** The writes sent, in order, each with its failure if it failed. */
  readonly writes: ReadonlyArray<{ readonly write: ChildWrite; readonly failure?: WriteFailure }>
  readonly status: ApiStatus
  /** Net state changes of this pass, in catalog order. */
  readonly transitions: ReadonlyArray<Transition>
  /** The Events this pass deserves (SPEC 8): the Ready one, and a Warning per warning condition entered. */
  readonly events: ReadonlyArray<ConditionEvent>
  /** A write failed in a way worth retrying: work is outstanding. */
  readonly retry: boolean
}

/**
 * One inert actor scope per machine, made once. xstate's pure `transition` builds a throwaway
 * actor (with its own initial snapshot) on every call just to collect the actions, and that was
 * half of a pass's machine time in the profile. The catalog's machines spawn, raise, delay and
 * emit nothing, so a shared scope whose executor collects the actions steps them the same way.
 */
const scopes = new Map<AnyStateMachine, AnyActorScope>()
const scopeOf = (machine: AnyStateMachine): AnyActorScope => {
  let scope = scopes.get(machine)
  if (scope === undefined) {
    const self = createActor(machine)
    scope = {
      self,
      id: "",
      sessionId: "",
      logger: () => {},
      defer: () => {},
      emit: () => {},
      system: self.system,
      stopChild: () => {},
      actionExecutor: () => {}
    }
    scopes.set(machine, scope)
  }
  return scope
}

/** Steps one machine from where it stands, as xstate's `transition` does: the next state and the actions to run. */
const step = <N extends MachineName>(
  name: N,
  from: MachineState<N>,
  event: EventFrom<typeof catalog[N]["machine"]>
): { readonly state: MachineState<N>; readonly intents: ReadonlyArray<IntentOf<N>> } => {
  const machine = catalog[name].machine as AnyStateMachine
  const scope = scopeOf(machine)
  // Assigns run inside the machine; what reaches the executor are its intents.
  const intents: Array<IntentOf<N>> = []
  scope.actionExecutor = (action) => void intents.push(action.type as IntentOf<N>)
  let next
  try {
    next = machine.transition(machine.resolveState({ value: from.state, context: from.context }), event, scope)
  } finally {
    scope.actionExecutor = () => {}
  }
  return {
    state: { state: next.value as MachineState<N>["state"], context: next.context as MachineState<N>["context"] },
    intents
  }
}

const deleteOf = (c: { readonly kind: ResourceKind; readonly object: KubeObject }): ChildWrite => ({
  op: "delete",
  kind: c.kind,
  namespace: c.object.metadata.namespace ?? "",
  name: c.object.metadata.name,
  uid: c.object.metadata.uid ?? ""
})

/** The writes of each intent, from what the pass sees and wants. */
interface IntentContext {
  readonly settings: PassSettings
  readonly authentication: AuthenticationView
  readonly virtualService: VirtualServiceView | undefined
}

const sameChild = (d: KubeObject) => (o: { readonly kind: ResourceKind; readonly object: KubeObject }) =>
  o.kind.kind === d.kind && o.object.metadata.name === d.metadata.name

const intentWrites: { readonly [I in Intent]: (c: IntentContext) => ReadonlyArray<ChildWrite> } = {
  // New and changed children first, leftovers (e.g. the other backend's) only after: switching
  // backends never leaves the service unsecured (SPEC 10). Children already as planned are left alone.
  applyAuthentication: ({ settings, authentication: a }) => [
    ...a.desired.flatMap((d): ReadonlyArray<ChildWrite> => {
      const counterpart = a.owned.find(sameChild(d))
      if (counterpart !== undefined) {
        return inSync(d, counterpart.object) ? [] : [{ op: "update", kind: counterpart.kind, object: updatedChild(d, counterpart.object) }]
      }
      const kind = settings.backend.kinds.find((k) => k.kind === d.kind)
      if (kind === undefined) throw new Error(`backend ${settings.backend.name} renders ${d.kind} but does not list its kind`)
      return [{ op: "create", kind, object: d }]
    }),
    ...a.owned.filter((o) => !a.desired.some((d) => sameChild(d)(o))).map(deleteOf)
  ],
  removeAuthentication: ({ authentication: a }) => a.owned.map(deleteOf),
  applyVirtualService: ({ settings, virtualService: v }) =>
    v?.desired === undefined
      ? []
      : v.owned === undefined
      ? [{ op: "create", kind: settings.virtualServiceKind, object: v.desired }]
      : [{ op: "update", kind: settings.virtualServiceKind, object: updatedChild(v.desired, v.owned) }],
  withdrawVirtualService: ({ settings, virtualService: v }) =>
    v?.owned === undefined ? [] : [deleteOf({ kind: settings.virtualServiceKind, object: v.owned })]
}

export const runPass = <R>(
  obs: Observation,
  settings: PassSettings,
  write: Writer<R>,
  now: string
): Effect.Effect<PassDecision, never, R> =>
  Effect.gen(function*() {
    const previous = decodeStatus(obs.api.status)
    const before = machineStatesOf(previous)
    const sent: Array<{ write: ChildWrite; failure?: WriteFailure }> = []

    /** Runs an intent's writes in order; the first failure stops them. */
    const runIntent = (writes: ReadonlyArray<ChildWrite>, report: (answers: ReadonlyArray<KubeObject | undefined>) => WriteOutcome) =>
      Effect.gen(function*() {
        const answers: Array<KubeObject | undefined> = []
        for (const w of writes) {
          const result = yield* Effect.result(write(w))
          if (result._tag === "Failure") {
            sent.push({ write: w, failure: result.failure })
            return { type: "WRITE_FAILED", ...result.failure } as WriteOutcome
          }
          sent.push({ write: w })
          answers.push(result.success)
        }
        return report(answers)
      })

    // 1. Validation.
    const validated = validationFactsOf(obs, settings)
    const validation = step("validation", before.validation, { type: "OBSERVED", facts: validated.facts }).state
    const specUsable = readinessOf("validation", validation.state).kind === "ready"

    // 2. Authentication, then 3. the VirtualService, which waits for it. A removal of the
    // authentication children goes the other way: it runs after the VirtualService step.
    const authView = authenticationViewOf(obs, settings, validated, specUsable)
    let authentication = step("authentication", before.authentication, { type: "OBSERVED", facts: authView.facts })
    let vsView: VirtualServiceView | undefined
    const context = (): IntentContext => ({ settings, authentication: authView, virtualService: vsView })
    const runAuthentication = Effect.gen(function*() {
      const writes = authentication.intents.flatMap((i) => intentWrites[i](context()))
      const outcome = yield* runIntent(writes, (answers) => {
        // The reported child: the first one the plan renders, as the server answered for it.
        const first = authView.desired[0]
        const index = writes.findIndex((w) => w.op !== "delete" && w.object.kind === first?.kind)
        const answer = index >= 0 ? answers[index] : undefined
        const existing = authView.owned.find((o) => o.kind.kind === first?.kind)?.object
        const reported = answer ?? existing
        return reported !== undefined ? { type: "APPLIED", resource: refOf(reported) } : { type: "REMOVED" }
      })
      authentication = step("authentication", authentication.state, outcome)
    })
    const removal = authentication.intents.includes("removeAuthentication")
    if (isTransient("authentication", authentication.state.state) && !removal) yield* runAuthentication

    vsView = virtualServiceViewOf(obs, settings, validated, specUsable, authentication.state.state)
    let virtualService = step("virtualService", before.virtualService, { type: "OBSERVED", facts: vsView.facts })
    if (isTransient("virtualService", virtualService.state.state)) {
      const writes = virtualService.intents.flatMap((i) => intentWrites[i](context()))
      const outcome = yield* runIntent(writes, (answers) => {
        const answer = answers[0]
        return answer !== undefined ? { type: "APPLIED", resource: refOf(answer) } : { type: "REMOVED" }
      })
      virtualService = step("virtualService", virtualService.state, outcome)
    }

    // Never exposed without its authentication (SPEC 5, 6): while the spec asks for
    // authentication, ours stay until no VirtualService of ours is left.
    let held = false
    if (isTransient("authentication", authentication.state.state) && removal) {
      const exposing = virtualService.state.context.resource
      if (authView.facts.wanted && exposing !== null) {
        held = true
        authentication = step("authentication", authentication.state, {
          type: "WRITE_FAILED",
          message: `kept while VirtualService ${exposing.name} still exposes the service; it is withdrawn first`,
          reason: "transient"
        })
      } else yield* runAuthentication
    }

    const after: MachineStates = { validation, authentication: authentication.state, virtualService: virtualService.state }
    const transitions = transitionsBetween(before, after, now)
    const status = projectStatus({
      machines: after,
      generation: obs.api.metadata.generation,
      previous,
      transitions,
      now
    })
    return {
      before,
      after,
      writes: sent,
      status,
      transitions,
      events: conditionEvents(previous, status),
      retry: held || sent.some((s) => s.failure !== undefined && isRetryable(s.failure.reason))
    }
  })
