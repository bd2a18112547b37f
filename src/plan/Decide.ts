/**
 * The pure decision of one reconcile pass: given the Api and the world as observed now, step
 * the three lifecycle machines and say which child writes to make (`decide`); given how those
 * writes went, finish the machines and project the status (`conclude`). No I/O and no clock:
 * the caller passes `now`.
 *
 *   observe -> decide -> (caller applies writes) -> conclude -> (caller writes status if changed)
 */
import { Result } from "effect"
import { transition } from "xstate"
import { type ApiObject, type ApiSpec, type ApiStatus, decodeStatus, type ResourceRef, type Transition } from "../domain/Api.ts"
import type { ControllerConfig } from "../domain/ControllerConfig.ts"
import type { KubeObject, ResourceKind } from "../domain/Kube.ts"
import { Kinds } from "../domain/Kube.ts"
import { policyMachine, type PolicyEvent } from "../../machines/PolicyMachine.ts"
import { validationMachine, type ValidationEvent } from "../../machines/ValidationMachine.ts"
import { virtualServiceMachine, type VirtualServiceEvent } from "../../machines/VirtualServiceMachine.ts"
import type { AuthenticationBackend } from "./AuthenticationBackend.ts"
import { authenticationPlan } from "./AuthenticationPlan.ts"
import { inSync, updatedChild } from "./ChildComparison.ts"
import { hostnameHolder, keyOf, serviceHolder, targetServiceOf } from "./Conflicts.ts"
import { fqdnOf } from "./Hostname.ts"
import { isOwnedBy, type Owner } from "./Ownership.ts"
import { type MachineStates, machineStatesOf, projectStatus } from "./StatusProjection.ts"
import { checkSpec } from "./Validation.ts"
import { desiredVirtualService } from "./VirtualServicePlan.ts"

export type MachineName = "validation" | "virtualService" | "policy"
export type ChildMachine = "virtualService" | "policy"

/** The world around one Api, as read at the start of a pass. */
export interface Observation {
  readonly api: ApiObject
  /** The VirtualService named after the Api in its namespace, whoever owns it. */
  readonly virtualService: KubeObject | undefined
  /** Objects of the authentication backend's kinds named after the Api, whoever owns them. */
  readonly authentication: ReadonlyArray<{ readonly kind: ResourceKind; readonly object: KubeObject }>
  /** VirtualServices (any namespace) serving this Api's host; ours may be among them. */
  readonly hostClaims: ReadonlyArray<KubeObject>
  /** Apis in this namespace targeting the same Service; this one may be among them. */
  readonly serviceClaims: ReadonlyArray<KubeObject>
}

/** What to look up for an Api before deciding: its host and its target Service. */
export interface Lookups {
  readonly fqdn: string | undefined
  readonly service: string | undefined
}

export const lookupsFor = (api: ApiObject, config: ControllerConfig): Lookups => {
  const hostname = (api.spec as { hostname?: unknown } | undefined)?.hostname
  return {
    fqdn: typeof hostname === "string" && hostname !== "" ? fqdnOf(hostname, config.domainName) : undefined,
    service: targetServiceOf(api as KubeObject)
  }
}

export type ChildWrite =
  | { readonly machine: ChildMachine; readonly op: "create"; readonly kind: ResourceKind; readonly object: KubeObject }
  | { readonly machine: ChildMachine; readonly op: "update"; readonly kind: ResourceKind; readonly object: KubeObject }
  | {
    readonly machine: ChildMachine
    readonly op: "delete"
    readonly kind: ResourceKind
    readonly namespace: string
    readonly name: string
    readonly uid: string
  }

export interface Decision {
  readonly owner: Owner
  readonly spec: ApiSpec | undefined
  readonly authWanted: boolean
  readonly previous: ApiStatus
  readonly before: MachineStates
  /** After the observation events; `conclude` adds write failures. */
  readonly after: MachineStates
  /** The events fed, in order, for logs and tests. */
  readonly events: {
    readonly validation: ValidationEvent
    readonly virtualService: VirtualServiceEvent
    readonly policy: PolicyEvent
  }
  readonly writes: ReadonlyArray<ChildWrite>
}

export const ownerOf = (api: ApiObject): Owner => ({
  apiVersion: api.apiVersion,
  kind: api.kind,
  name: api.metadata.name,
  namespace: api.metadata.namespace ?? "",
  uid: api.metadata.uid ?? ""
})

export const refOf = (o: KubeObject): ResourceRef => ({
  name: o.metadata.name,
  uid: o.metadata.uid ?? "",
  version: o.metadata.resourceVersion ?? ""
})

const describe = (kind: string, o: KubeObject) => `${kind} ${keyOf(o)}`

export const decide = (
  obs: Observation,
  config: ControllerConfig,
  backend: AuthenticationBackend
): Decision => {
  const api = obs.api
  const owner = ownerOf(api)
  const previous = decodeStatus(api.status)
  const before = machineStatesOf(previous)

  // 1. Validation: structure and configuration rules, then the target-service claim.
  const checked = checkSpec(api.spec, owner.namespace, config)
  const spec = Result.isSuccess(checked) ? checked.success : undefined
  let validationEvent: ValidationEvent
  if (Result.isFailure(checked)) validationEvent = { type: "SPEC_INVALID", message: checked.failure }
  else {
    const holder = serviceHolder(api as KubeObject, checked.success.service.name, obs.serviceClaims)
    validationEvent = holder !== undefined
      ? { type: "SERVICE_OCCUPIED", service: checked.success.service.name, holder: keyOf(holder) }
      : { type: "SPEC_VALID" }
  }
  const v = transition(
    validationMachine,
    validationMachine.resolveState({ value: before.validation.state, context: before.validation.context }),
    validationEvent
  )[0]
  const valid = v.value === "Valid" && spec !== undefined

  // 2. The VirtualService.
  const vsObserved = obs.virtualService
  const vsOwned = vsObserved !== undefined && isOwnedBy(vsObserved.metadata, owner) ? vsObserved : undefined
  const vsDesired = valid ? desiredVirtualService(owner, spec, config) : undefined
  let vsEvent: VirtualServiceEvent
  const existingVs = vsOwned !== undefined ? refOf(vsOwned) : null
  if (!valid || vsDesired === undefined) vsEvent = { type: "SPEC_BLOCKED", existing: existingVs }
  else {
    const fqdn = vsDesired.spec.hosts[0]!
    const holder = hostnameHolder(owner, fqdn, obs.hostClaims)
    if (holder !== undefined) vsEvent = { type: "HOSTNAME_OCCUPIED", fqdn, holder: keyOf(holder), existing: existingVs }
    else if (vsObserved !== undefined && vsOwned === undefined) {
      vsEvent = {
        type: "FOREIGN_OBJECT",
        message: `${describe("VirtualService", vsObserved)} already exists and is not managed by this Api; delete it or rename the Api`
      }
    } else if (vsOwned !== undefined && inSync(vsDesired, vsOwned)) vsEvent = { type: "IN_SYNC", resource: refOf(vsOwned) }
    else vsEvent = { type: "OUT_OF_SYNC" }
  }
  const [vs, vsActions] = transition(
    virtualServiceMachine,
    virtualServiceMachine.resolveState({ value: before.virtualService.state, context: before.virtualService.context }),
    vsEvent
  )

  // 3. The authentication children (a Policy with the default backend).
  const plan = spec !== undefined ? authenticationPlan(spec, config) : undefined
  const authDesired = valid && plan !== undefined ? backend.render(owner, plan) : []
  const authOwned = obs.authentication.filter((a) => isOwnedBy(a.object.metadata, owner))
  const authForeign = obs.authentication.filter((a) => !isOwnedBy(a.object.metadata, owner))
  const existingAuth = authOwned[0] !== undefined ? refOf(authOwned[0].object) : null
  const counterpart = (d: KubeObject) => authOwned.find((a) => a.kind.kind === d.kind && a.object.metadata.name === d.metadata.name)
  let policyEvent: PolicyEvent
  if (!valid || vs.value === "HostnameOccupied") policyEvent = { type: "SPEC_BLOCKED", existing: existingAuth }
  else if (plan === undefined) {
    policyEvent = authOwned[0] !== undefined ? { type: "DISABLED_LEFTOVER" } : { type: "DISABLED" }
  } else if (authForeign[0] !== undefined) {
    policyEvent = {
      type: "FOREIGN_OBJECT",
      message: `${describe(authForeign[0].kind.kind, authForeign[0].object)} already exists and is not managed by this Api; delete it or rename the Api`
    }
  } else if (
    authDesired.length > 0 && authOwned.length === authDesired.length &&
    authDesired.every((d) => {
      const c = counterpart(d)
      return c !== undefined && inSync(d, c.object)
    })
  ) {
    policyEvent = { type: "IN_SYNC", resource: refOf(counterpart(authDesired[0]!)!.object) }
  } else policyEvent = { type: "OUT_OF_SYNC" }
  const [policy, policyActions] = transition(
    policyMachine,
    policyMachine.resolveState({ value: before.policy.state, context: before.policy.context }),
    policyEvent
  )

  // 4. The machines' intents become concrete writes.
  const writes: Array<ChildWrite> = []
  for (const action of [...vsActions, ...policyActions]) {
    switch (action.type) {
      case "applyVirtualService":
        if (vsDesired !== undefined) {
          writes.push(
            vsOwned === undefined
              ? { machine: "virtualService", op: "create", kind: Kinds.VirtualService, object: vsDesired }
              : { machine: "virtualService", op: "update", kind: Kinds.VirtualService, object: updatedChild(vsDesired, vsOwned) }
          )
        }
        break
      case "applyAuthentication":
        for (const d of authDesired) {
          const kind = backend.kinds.find((k) => k.kind === d.kind)!
          const c = counterpart(d)
          if (c === undefined) writes.push({ machine: "policy", op: "create", kind, object: d })
          else if (!inSync(d, c.object)) writes.push({ machine: "policy", op: "update", kind, object: updatedChild(d, c.object) })
        }
        // Owned leftovers the plan no longer renders (e.g. after a backend switch) go away.
        for (const a of authOwned) {
          if (!authDesired.some((d) => d.kind === a.kind.kind && d.metadata.name === a.object.metadata.name)) {
            writes.push(deleteOf("policy", a.kind, a.object))
          }
        }
        break
      case "deleteAuthentication":
        for (const a of authOwned) writes.push(deleteOf("policy", a.kind, a.object))
        break
    }
  }

  return {
    owner,
    spec,
    authWanted: plan !== undefined,
    previous,
    before,
    after: {
      validation: { state: v.value as MachineStates["validation"]["state"], context: v.context },
      virtualService: { state: vs.value as MachineStates["virtualService"]["state"], context: vs.context },
      policy: { state: policy.value as MachineStates["policy"]["state"], context: policy.context }
    },
    events: { validation: validationEvent, virtualService: vsEvent, policy: policyEvent },
    writes
  }
}

const deleteOf = (machine: ChildMachine, kind: ResourceKind, o: KubeObject): ChildWrite => ({
  machine,
  op: "delete",
  kind,
  namespace: o.metadata.namespace ?? "",
  name: o.metadata.name,
  uid: o.metadata.uid ?? ""
})

export interface WriteFailure {
  readonly message: string
  readonly retryable: boolean
}

export interface Conclusion {
  readonly machines: MachineStates
  readonly status: ApiStatus
  /** Net state changes of this pass, oldest first. */
  readonly transitions: ReadonlyArray<Transition>
  /** A machine is waiting to see its write (InProgress): look again soon. */
  readonly awaitingConfirmation: boolean
  /** A write failed in a way worth retrying with backoff. */
  readonly retryableFailure: boolean
}

/** Finish the pass: feed write failures to their machines, then project the status. */
export const conclude = (
  decision: Decision,
  failures: Partial<Record<ChildMachine, WriteFailure>>,
  generation: number | undefined,
  now: string
): Conclusion => {
  let { virtualService, policy } = decision.after
  const vsFailure = failures.virtualService
  if (vsFailure !== undefined) {
    const s = transition(
      virtualServiceMachine,
      virtualServiceMachine.resolveState({ value: virtualService.state, context: virtualService.context }),
      { type: "APPLY_FAILED", ...vsFailure }
    )[0]
    virtualService = { state: s.value as typeof virtualService.state, context: s.context }
  }
  const pFailure = failures.policy
  if (pFailure !== undefined) {
    const s = transition(
      policyMachine,
      policyMachine.resolveState({ value: policy.state, context: policy.context }),
      { type: "APPLY_FAILED", ...pFailure }
    )[0]
    policy = { state: s.value as typeof policy.state, context: s.context }
  }
  const machines: MachineStates = { validation: decision.after.validation, virtualService, policy }

  const transitions: Array<Transition> = []
  const note = (machine: MachineName, from: string, to: string, message: string | null) => {
    if (from !== to) transitions.push({ machine, from, to, at: now, ...(message !== null ? { message } : {}) })
  }
  note("validation", decision.before.validation.state, machines.validation.state, machines.validation.context.lastError)
  note(
    "virtualService",
    decision.before.virtualService.state,
    machines.virtualService.state,
    machines.virtualService.context.lastError
  )
  note("policy", decision.before.policy.state, machines.policy.state, machines.policy.context.lastError)

  return {
    machines,
    status: projectStatus({
      machines,
      authWanted: decision.authWanted,
      generation,
      previous: decision.previous,
      transitions,
      now
    }),
    transitions,
    awaitingConfirmation: machines.virtualService.state === "InProgress" || machines.policy.state === "InProgress",
    retryableFailure: Object.values(failures).some((f) => f?.retryable === true)
  }
}
