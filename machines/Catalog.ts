/**
 * The one catalog of the lifecycle machines. Everything that names a machine or a state (status
 * projection, the Ready condition, Events, metrics, `describe`, the diagrams and the web view)
 * takes it from here; the per-state facts (status code, readiness, Warning or not) are read from
 * the states' own `meta` in machines/*.ts, so a state is described in one place.
 *
 * Order matters: it is the order in which a pass steps the machines (validation, then
 * authentication, then the VirtualService, which waits for authentication) and the order in
 * which their failures explain an Api that is not Ready.
 */
import type { AnyStateMachine, StateValueFrom } from "xstate"
import { authenticationMachine } from "./AuthenticationMachine.ts"
import type { ChildContext, Readiness, StateMeta, Warning } from "./Child.ts"
import { type ValidationContext, validationMachine } from "./ValidationMachine.ts"
import { virtualServiceMachine } from "./VirtualServiceMachine.ts"

export interface CatalogEntry<M extends AnyStateMachine, Context, I extends string> {
  readonly name: string
  readonly machine: M
  /** The status field the machine's code goes to. */
  readonly statusField: string
  /** How people call the machine's subject in messages: "VirtualService", "authentication". */
  readonly subject: string
  /** Where the machine is defined, relative to the repository root. */
  readonly source: string
  /** One line: what the machine is about. */
  readonly summary: string
  /** The context a machine starts from when status says nothing. */
  readonly emptyContext: Context
  /** The machine's intents: actions the reconciler runs as writes, then feeds the answer back. */
  readonly intents: ReadonlyArray<I>
}

const entry = <M extends AnyStateMachine, Context, I extends string = never>(e: CatalogEntry<M, Context, I>) => e

export const catalog = {
  validation: entry({
    name: "validation",
    machine: validationMachine,
    statusField: "status.validationStatus",
    subject: "validation",
    source: "machines/ValidationMachine.ts",
    summary: "the Api as a whole: is its spec valid, and is it the one Api that serves its target Service",
    emptyContext: { lastError: null } as ValidationContext,
    intents: []
  }),
  authentication: entry({
    name: "authentication",
    machine: authenticationMachine,
    statusField: "status.authenticationStatus.code",
    subject: "authentication",
    source: "machines/AuthenticationMachine.ts",
    summary: "the authentication children (Istio security objects or a legacy Policy) that check JWTs for the Api",
    emptyContext: { lastError: null, resource: null } as ChildContext,
    intents: ["applyAuthentication", "removeAuthentication"]
  }),
  virtualService: entry({
    name: "virtualService",
    machine: virtualServiceMachine,
    statusField: "status.virtualService.code",
    subject: "VirtualService",
    source: "machines/VirtualServiceMachine.ts",
    summary: "the Istio VirtualService that routes the Api's hostname to its Service",
    emptyContext: { lastError: null, resource: null } as ChildContext,
    intents: ["applyVirtualService", "withdrawVirtualService"]
  })
} as const

export type MachineName = keyof typeof catalog
export const MACHINE_NAMES: ReadonlyArray<MachineName> = ["validation", "authentication", "virtualService"]

/** Every state of a machine, transient ones included. */
export type StateOf<N extends MachineName> = StateValueFrom<typeof catalog[N]["machine"]> & string
export type ContextOf<N extends MachineName> = typeof catalog[N]["emptyContext"]
export type IntentOf<N extends MachineName> = typeof catalog[N]["intents"][number]
export type Intent = IntentOf<MachineName>

// ---------------------------------------------------------------------------------------------
// per-state facts, read from the machines' `meta`

interface StateInfo {
  readonly name: string
  readonly description: string | undefined
  readonly meta: StateMeta
}

const statesOf = (machine: AnyStateMachine): ReadonlyArray<StateInfo> =>
  Object.entries(machine.root.states).map(([name, node]) => {
    const meta = node.meta as StateMeta | undefined
    if (meta === undefined) throw new Error(`state ${machine.id}.${name} has no meta: give it a code and a readiness`)
    return { name, description: node.description, meta }
  })

const infos = Object.fromEntries(MACHINE_NAMES.map((n) => [n, statesOf(catalog[n].machine)])) as Record<
  MachineName,
  ReadonlyArray<StateInfo>
>

const infoOf = (machine: MachineName, state: string): StateInfo => {
  const info = infos[machine].find((s) => s.name === state)
  if (info === undefined) throw new Error(`unknown state ${machine}.${state}`)
  return info
}

/** States a pass can end in, so status can hold them (transient ones never are). */
export const storedStates = <N extends MachineName>(machine: N): ReadonlyArray<StateOf<N>> =>
  infos[machine].filter((s) => !("transient" in s.meta)).map((s) => s.name as StateOf<N>)

export const isTransient = (machine: MachineName, state: string): boolean => "transient" in infoOf(machine, state).meta

/** The state's status code; null when the state leaves its status field out. */
export const codeOf = (machine: MachineName, state: string): number | null => {
  const meta = infoOf(machine, state).meta
  if ("transient" in meta) throw new Error(`${machine}.${state} is transient and has no status code`)
  return meta.code
}

export const readinessOf = (machine: MachineName, state: string): Readiness => {
  const meta = infoOf(machine, state).meta
  if ("transient" in meta) throw new Error(`${machine}.${state} is transient and is never reported`)
  return meta.readiness
}

/** Failed states are reported as Warnings (Events, `describe`, the web view). */
export const isWarning = (machine: MachineName, state: string): boolean => readinessOf(machine, state).kind === "failed"

export const descriptionOf = (machine: MachineName, state: string): string | undefined => infoOf(machine, state).description

/** The initial state: what an empty status means. */
export const initialStateOf = <N extends MachineName>(machine: N): StateOf<N> =>
  String(catalog[machine].machine.root.initial?.target[0]?.key ?? storedStates(machine)[0]) as StateOf<N>

/**
 * The stored state a status code stands for. `undefined` means the field is absent: the state
 * whose code is null if the machine has one, else the initial state. An unknown code is read
 * as the initial state (the next pass rebuilds it). Where two states share a code, the one with
 * a warning is told apart by its condition: `warnings` holds the condition types status reports
 * False.
 */
export const stateForCode = <N extends MachineName>(
  machine: N,
  code: number | undefined,
  warnings: ReadonlySet<string> = new Set()
): StateOf<N> => {
  const matches = infos[machine].filter((s) => !("transient" in s.meta) && s.meta.code === (code ?? null))
  const warned = (s: StateInfo) => {
    const w = "transient" in s.meta || s.meta.readiness.kind !== "ready" ? undefined : s.meta.readiness.warning
    return w !== undefined && warnings.has(w.condition)
  }
  const unwarned = (s: StateInfo) =>
    "transient" in s.meta || s.meta.readiness.kind !== "ready" || s.meta.readiness.warning === undefined
  const match = matches.find(warned) ?? matches.find(unwarned) ?? matches[0]
  return (match?.name as StateOf<N> | undefined) ?? initialStateOf(machine)
}

/** The warning a state carries while it is Ready (a condition of its own, a Warning Event on entry). */
export const warningOf = (machine: MachineName, state: string): Warning | undefined => {
  const r = readinessOf(machine, state)
  return r.kind === "ready" ? r.warning : undefined
}

/** Every warning any state can give, for the status projection, docs and tests. */
export const warnings: ReadonlyArray<{ readonly machine: MachineName; readonly state: string; readonly warning: Warning }> =
  MACHINE_NAMES.flatMap((machine) =>
    infos[machine].flatMap((s) =>
      !("transient" in s.meta) && s.meta.readiness.kind === "ready" && s.meta.readiness.warning !== undefined
        ? [{ machine, state: s.name, warning: s.meta.readiness.warning }]
        : []
    )
  )

/** The Ready reasons any state can give, for docs and tests. */
export const failureReasons: ReadonlyArray<{ readonly machine: MachineName; readonly state: string; readonly reason: string }> =
  MACHINE_NAMES.flatMap((machine) =>
    infos[machine].flatMap((s) =>
      !("transient" in s.meta) && s.meta.readiness.kind === "failed"
        ? [{ machine, state: s.name, reason: s.meta.readiness.reason }]
        : []
    )
  )
