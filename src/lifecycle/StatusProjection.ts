/**
 * Status is a projection of the three machines (SPEC 3, 5): codes, lastErrors, resource refs,
 * the `Ready` condition and the transition timeline all come from machine states and the
 * per-state facts in machines/Catalog.ts, so they cannot disagree, and nothing else writes them.
 * Also the inverse: machine states from a stored status, which is all a machine remembers.
 */
import type { ApiStatus, Condition, GatewayResourceStatus, ResourceRef, Transition } from "../domain/Api.ts"
import {
  codeOf,
  type ContextOf,
  catalog,
  descriptionOf,
  MACHINE_NAMES,
  type MachineName,
  readinessOf,
  type StateOf,
  stateForCode,
  warningOf,
  warnings
} from "../../machines/Catalog.ts"
import type { ChildContext } from "../../machines/Child.ts"

/** Where one machine stands: its state and what it remembers. */
export interface MachineState<N extends MachineName> {
  readonly state: StateOf<N>
  readonly context: ContextOf<N>
}

/** Where every machine stands. */
export type MachineStates = { readonly [N in MachineName]: MachineState<N> }

export const TRANSITION_HISTORY_LIMIT = 10

export const READY = "Ready"

/** Ready reasons that are not a failed state's own (those come from the states' meta). */
export const Reason = { Ready: "Ready", Pending: "Pending", InProgress: "InProgress" } as const

type Reported = { readonly code: number | undefined; readonly lastError: string | undefined; readonly resource: ResourceRef | undefined }

const reportedChild = (s: GatewayResourceStatus | undefined): Reported => ({
  code: s?.code,
  lastError: s?.lastError,
  resource: s?.resource
})

const resourceStatus = (code: number, ctx: ChildContext): GatewayResourceStatus => ({
  code,
  ...(ctx.lastError !== null ? { lastError: ctx.lastError } : {}),
  ...(ctx.resource !== null ? { resource: ctx.resource } : {})
})

/**
 * Where each machine's code, lastError and resource live in status, read and written: the one
 * mapping between the catalog's machines and the status fields (`catalog[n].statusField` says it
 * to people). A new machine fails to compile until it has a line here.
 */
const STATUS_FIELDS: {
  readonly [N in MachineName]: {
    readonly read: (status: ApiStatus) => Reported
    readonly write: (code: number | null, context: ContextOf<N>) => Partial<ApiStatus>
  }
} = {
  validation: {
    read: (s) => ({ code: s.validationStatus, lastError: s.lastError, resource: undefined }),
    write: (code, ctx) => ({ validationStatus: code ?? 0, ...(ctx.lastError !== null ? { lastError: ctx.lastError } : {}) })
  },
  authentication: {
    read: (s) => reportedChild(s.authenticationStatus),
    // Reported only while authentication is on or its children still exist.
    write: (code, ctx) => (code !== null ? { authenticationStatus: resourceStatus(code, ctx) } : {})
  },
  virtualService: {
    read: (s) => reportedChild(s.virtualService),
    write: (code, ctx) => ({ virtualService: resourceStatus(code ?? 0, ctx) })
  }
}

const perMachine = <T>(f: (n: MachineName) => T): { readonly [N in MachineName]: T } =>
  Object.fromEntries(MACHINE_NAMES.map((n) => [n, f(n)])) as { readonly [N in MachineName]: T }

/** The condition types status reports False: they tell apart two states that share a code. */
const warningsOf = (status: ApiStatus): ReadonlySet<string> =>
  new Set((status.conditions ?? []).filter((c) => c.status === "False" && c.type !== READY).map((c) => c.type))

/** What the status reports for each machine, as stored (codes may be absent). */
export const reportedOf = (status: ApiStatus): { readonly [N in MachineName]: Reported } =>
  perMachine((n) => STATUS_FIELDS[n].read(status))

/** The machines as the stored status describes them; a missing status is the initial state. */
export const machineStatesOf = (status: ApiStatus): MachineStates => {
  const w = warningsOf(status)
  const reported = reportedOf(status)
  // A machine remembers what its empty context holds (lastError; a child's resource too), from status.
  return perMachine((n) => ({
    state: stateForCode(n, reported[n].code, w),
    context: Object.fromEntries(Object.keys(catalog[n].emptyContext).map((k) => [k, reported[n][k as keyof Reported] ?? null]))
  })) as unknown as MachineStates
}

/** Each machine's state name, e.g. for counting Apis per state. */
export const stateNamesOf = (m: MachineStates): { readonly [N in MachineName]: string } => perMachine((n) => m[n].state)

/**
 * The Ready condition: the first machine (in catalog order) in a failed state explains it;
 * else the Api waits while any machine waits; else it is Ready.
 */
export const readinessCondition = (m: MachineStates): Omit<Condition, "lastTransitionTime" | "observedGeneration"> => {
  const lastErrorOf = (n: MachineName) => m[n].context.lastError
  for (const n of MACHINE_NAMES) {
    const r = readinessOf(n, m[n].state)
    if (r.kind === "failed") {
      return { type: READY, status: "False", reason: r.reason, message: lastErrorOf(n) ?? descriptionOf(n, m[n].state) ?? r.reason }
    }
  }
  if (MACHINE_NAMES.some((n) => readinessOf(n, m[n].state).kind === "unknown")) {
    return { type: READY, status: "Unknown", reason: Reason.Pending, message: "not reconciled yet" }
  }
  const waiting = MACHINE_NAMES.filter((n) => readinessOf(n, m[n].state).kind === "waiting")
  if (waiting.length > 0) {
    const errors = waiting.map(lastErrorOf).filter((e): e is string => e !== null)
    return {
      type: READY,
      status: "False",
      reason: Reason.InProgress,
      message: `waiting for ${waiting.map((n) => catalog[n].subject).join(" and ")}${errors.length > 0 ? `: ${errors.join("; ")}` : ""}`
    }
  }
  const notes = MACHINE_NAMES.flatMap((n) => {
    const r = readinessOf(n, m[n].state)
    return r.kind === "ready" && r.note !== undefined ? [r.note] : []
  })
  return { type: READY, status: "True", reason: Reason.Ready, message: notes.join("; ") || "exposed" }
}

/** cert-manager semantics: the transition time moves only when the condition's status flips. */
const withTime = (
  next: Omit<Condition, "lastTransitionTime" | "observedGeneration">,
  previous: ReadonlyArray<Condition>,
  now: string,
  generation: number | undefined
): Condition => {
  const before = previous.find((c) => c.type === next.type)
  return {
    ...next,
    lastTransitionTime: before !== undefined && before.status === next.status ? before.lastTransitionTime : now,
    ...(generation !== undefined ? { observedGeneration: generation } : {})
  }
}

/** Net state changes between two points of a pass, in catalog order. */
export const transitionsBetween = (before: MachineStates, after: MachineStates, now: string): ReadonlyArray<Transition> =>
  MACHINE_NAMES.flatMap((n) => {
    if (before[n].state === after[n].state) return []
    const message = after[n].context.lastError
    return [{ machine: n, from: before[n].state, to: after[n].state, at: now, ...(message !== null ? { message } : {}) }]
  })

export interface ProjectionInput {
  readonly machines: MachineStates
  readonly generation: number | undefined
  readonly previous: ApiStatus
  readonly transitions: ReadonlyArray<Transition>
  readonly now: string
}

/** The condition types machine states can raise as warnings: only these are ours to set and clear. */
const WARNING_CONDITIONS: ReadonlySet<string> = new Set(warnings.map((w) => w.warning.condition))

/** A condition per machine whose state carries a warning (status False, the state's reason, its lastError). */
export const warningConditions = (m: MachineStates): ReadonlyArray<Omit<Condition, "lastTransitionTime" | "observedGeneration">> =>
  MACHINE_NAMES.flatMap((n) => {
    const w = warningOf(n, m[n].state)
    return w === undefined
      ? []
      : [{ type: w.condition, status: "False" as const, reason: w.reason, message: m[n].context.lastError ?? descriptionOf(n, m[n].state) ?? w.reason }]
  })

export const projectStatus = (input: ProjectionInput): ApiStatus => {
  const { machines: m, previous } = input
  const raised = warningConditions(m).map((c) => withTime(c, previous.conditions ?? [], input.now, input.generation))
  // Conditions someone else set stay as they are; ours are the Ready condition and the warnings.
  const others = (previous.conditions ?? []).filter((c) => c.type !== READY && !WARNING_CONDITIONS.has(c.type))
  const history = [...(previous.transitions ?? []), ...input.transitions].slice(-TRANSITION_HISTORY_LIMIT)
  const fields = MACHINE_NAMES.map((n) =>
    (STATUS_FIELDS[n].write as (code: number | null, context: unknown) => Partial<ApiStatus>)(codeOf(n, m[n].state), m[n].context)
  )
  return {
    ...Object.assign({}, ...fields) as Partial<ApiStatus>,
    ...(input.generation !== undefined ? { observedGeneration: input.generation } : {}),
    conditions: [withTime(readinessCondition(m), previous.conditions ?? [], input.now, input.generation), ...raised, ...others],
    ...(history.length > 0 ? { transitions: history } : {})
  }
}

/** What an Event reports: a kind of moment in the Api's life (SPEC 8). */
export interface ConditionEvent {
  readonly type: "Normal" | "Warning"
  readonly reason: string
  readonly message: string
}

/**
 * The Event a change of the Ready condition deserves (SPEC 8, revised): one Normal Event when
 * the Api becomes Ready, one Warning when it enters a failure or conflict (a failed state's
 * reason), nothing while it only waits or when nothing changed.
 */
export const readyEvent = (previous: Condition | undefined, next: Condition): ConditionEvent | undefined => {
  const same = previous !== undefined && previous.status === next.status && previous.reason === next.reason &&
    previous.message === next.message
  if (same) return undefined
  if (next.status === "True") return { type: "Normal", reason: next.reason, message: next.message }
  const failure = next.reason !== Reason.InProgress && next.reason !== Reason.Pending
  return failure ? { type: "Warning", reason: next.reason, message: next.message } : undefined
}

export const readyConditionOf = (status: ApiStatus): Condition | undefined =>
  (status.conditions ?? []).find((c) => c.type === READY)

/**
 * The Events a change of status deserves: the Ready condition's (above), and one Warning for
 * each warning condition raised or changed (its reason and message), as for a conflict.
 */
export const conditionEvents = (previous: ApiStatus, next: ApiStatus): ReadonlyArray<ConditionEvent> => {
  const nextReady = readyConditionOf(next)
  const ready = nextReady !== undefined ? readyEvent(readyConditionOf(previous), nextReady) : undefined
  const raised = (next.conditions ?? []).flatMap((c) => {
    if (!WARNING_CONDITIONS.has(c.type) || c.status !== "False") return []
    const before = (previous.conditions ?? []).find((p) => p.type === c.type)
    const same = before !== undefined && before.status === c.status && before.reason === c.reason && before.message === c.message
    return same ? [] : [{ type: "Warning" as const, reason: c.reason, message: c.message }]
  })
  return [...(ready !== undefined ? [ready] : []), ...raised]
}
