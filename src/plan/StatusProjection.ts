/**
 * Status is a projection of the three machines (SPEC 3, 5): codes, lastErrors, resource refs,
 * the `Ready` condition and the transition timeline all come from machine states, so they cannot
 * disagree, and nothing else writes them. Also the inverse: machine snapshots from a stored status.
 */
import type { ApiStatus, Condition, GatewayResourceStatus, Transition } from "../domain/Api.ts"
import { type PolicyState, policyCodes } from "../../machines/PolicyMachine.ts"
import type { ChildContext } from "../../machines/Snapshot.ts"
import { type ValidationContext, type ValidationState, validationCodes } from "../../machines/ValidationMachine.ts"
import { type VirtualServiceState, virtualServiceCodes } from "../../machines/VirtualServiceMachine.ts"

/** Where each machine stands after a pass. */
export interface MachineStates {
  readonly validation: { readonly state: ValidationState; readonly context: ValidationContext }
  readonly virtualService: { readonly state: VirtualServiceState; readonly context: ChildContext }
  readonly policy: { readonly state: PolicyState; readonly context: ChildContext }
}

export const TRANSITION_HISTORY_LIMIT = 10

export const READY = "Ready"

/** Reasons of the Ready condition, CamelCase as Kubernetes conventions ask. */
export const Reason = {
  Ready: "Ready",
  Pending: "Pending",
  InvalidSpec: "InvalidSpec",
  TargetServiceOccupied: "TargetServiceOccupied",
  HostnameOccupied: "HostnameOccupied",
  VirtualServiceFailed: "VirtualServiceFailed",
  PolicyFailed: "PolicyFailed",
  InProgress: "InProgress"
} as const

const childContext = (s: GatewayResourceStatus | undefined): ChildContext => ({
  lastError: s?.lastError ?? null,
  resource: s?.resource ?? null
})

/** The machines as the stored status describes them; a missing status is the initial state. */
export const machineStatesOf = (status: ApiStatus): MachineStates => ({
  validation: {
    state: validationCodes.stateOf(status.validationStatus),
    context: { lastError: status.lastError ?? null }
  },
  virtualService: {
    state: virtualServiceCodes.stateOf(status.virtualService?.code),
    context: childContext(status.virtualService)
  },
  policy: {
    state: policyCodes.stateOf(status.authenticationStatus?.code),
    context: childContext(status.authenticationStatus)
  }
})

const resourceStatus = (code: number, ctx: ChildContext): GatewayResourceStatus => ({
  code,
  ...(ctx.lastError !== null ? { lastError: ctx.lastError } : {}),
  ...(ctx.resource !== null ? { resource: ctx.resource } : {})
})

const readiness = (m: MachineStates, authWanted: boolean): Omit<Condition, "lastTransitionTime"> => {
  const v = m.validation
  const vs = m.virtualService
  const p = m.policy
  const no = (reason: string, message: string) => ({ type: READY, status: "False" as const, reason, message })
  if (v.state === "Pending") return { type: READY, status: "Unknown", reason: Reason.Pending, message: "not reconciled yet" }
  if (v.state === "Invalid") return no(Reason.InvalidSpec, v.context.lastError ?? "the spec is invalid")
  if (v.state === "TargetServiceOccupied") {
    return no(Reason.TargetServiceOccupied, v.context.lastError ?? "another Api exposes the service")
  }
  if (vs.state === "HostnameOccupied") return no(Reason.HostnameOccupied, vs.context.lastError ?? "the hostname is taken")
  if (vs.state === "Error") return no(Reason.VirtualServiceFailed, vs.context.lastError ?? "the VirtualService failed")
  if (p.state === "Error") return no(Reason.PolicyFailed, p.context.lastError ?? "the Policy failed")
  const pending = [
    ...(vs.state !== "Created" ? ["VirtualService"] : []),
    ...(authWanted ? (p.state !== "Created" ? ["Policy"] : []) : p.state !== "NotCreated" ? ["Policy removal"] : [])
  ]
  if (pending.length > 0) {
    const retry = [vs.context.lastError, p.context.lastError].filter((e): e is string => e !== null)
    return no(Reason.InProgress, `waiting for ${pending.join(" and ")}${retry.length > 0 ? `: ${retry.join("; ")}` : ""}`)
  }
  return {
    type: READY,
    status: "True",
    reason: Reason.Ready,
    message: authWanted ? "exposed, authentication enforced" : "exposed without authentication"
  }
}

/** cert-manager semantics: the transition time moves only when the condition's status flips. */
const withTime = (
  next: Omit<Condition, "lastTransitionTime">,
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

export interface ProjectionInput {
  readonly machines: MachineStates
  /** Does the spec (when readable) ask for authentication? */
  readonly authWanted: boolean
  readonly generation: number | undefined
  readonly previous: ApiStatus
  readonly transitions: ReadonlyArray<Transition>
  readonly now: string
}

export const projectStatus = (input: ProjectionInput): ApiStatus => {
  const { machines: m, previous } = input
  // authenticationStatus is reported only while authentication is on or its children still exist.
  const showAuth = input.authWanted || m.policy.state !== "NotCreated" || m.policy.context.resource !== null
  const others = (previous.conditions ?? []).filter((c) => c.type !== READY)
  const history = [...(previous.transitions ?? []), ...input.transitions].slice(-TRANSITION_HISTORY_LIMIT)
  return {
    validationStatus: validationCodes.codeOf(m.validation.state),
    ...(m.validation.context.lastError !== null ? { lastError: m.validation.context.lastError } : {}),
    virtualService: resourceStatus(virtualServiceCodes.codeOf(m.virtualService.state), m.virtualService.context),
    ...(showAuth ? { authenticationStatus: resourceStatus(policyCodes.codeOf(m.policy.state), m.policy.context) } : {}),
    ...(input.generation !== undefined ? { observedGeneration: input.generation } : {}),
    conditions: [
      withTime(readiness(m, input.authWanted), previous.conditions ?? [], input.now, input.generation),
      ...others
    ],
    ...(history.length > 0 ? { transitions: history } : {})
  }
}
