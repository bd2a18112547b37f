/**
 * What a pass reads (`Observation`, gathered from the informer caches at the start of the pass)
 * and what the machines are told about it (facts). Facts are plain observations: which objects
 * exist, whose they are, whether ours match the plan. Which state follows from them is the
 * machines' business (machines/*.ts guards), not this file's.
 */
import { Result } from "effect"
import type { AuthenticationFacts } from "../../machines/AuthenticationMachine.ts"
import type { AuthenticationState } from "../../machines/AuthenticationMachine.ts"
import type { ResourceRef } from "../../machines/Child.ts"
import type { ValidationFacts } from "../../machines/ValidationMachine.ts"
import type { VirtualServiceFacts } from "../../machines/VirtualServiceMachine.ts"
import { type ApiObject, type ApiSpec, decodeSpec } from "../domain/Api.ts"
import type { ControllerConfig } from "../domain/ControllerConfig.ts"
import type { KubeObject, ResourceKind } from "../domain/Kube.ts"
import type { AuthenticationBackend } from "../plan/AuthenticationBackend.ts"
import { type AuthenticationPlan, authenticationPlan } from "../plan/AuthenticationPlan.ts"
import { inSync } from "../plan/ChildComparison.ts"
import { claimsOf, targetServiceOf } from "../plan/Claims.ts"
import { hostnameHolder, keyOf, serviceHolder } from "../plan/Conflicts.ts"
import { isOwnedBy, type Owner } from "../plan/Ownership.ts"
import { checkSpec } from "../plan/Validation.ts"
import { desiredVirtualService } from "../plan/VirtualServicePlan.ts"
import { type Neighbour, selectorOf, type Workload, workloadOf, workloadPortsOf } from "../plan/Workload.ts"

/** An object of one of the authentication kinds, named after the Api. */
export interface ObservedChild {
  readonly kind: ResourceKind
  readonly object: KubeObject
}

/** The world around one Api, as read at the start of a pass. */
export interface Observation {
  readonly api: ApiObject
  /** The VirtualService named after the Api in its namespace, whoever owns it. */
  readonly virtualService: KubeObject | undefined
  /** Objects of every authentication kind the cluster serves (either backend) named after the Api. */
  readonly authentication: ReadonlyArray<ObservedChild>
  /** VirtualServices (any namespace) serving this Api's host; ours may be among them. */
  readonly hostClaims: ReadonlyArray<KubeObject>
  /** Apis in this namespace targeting the same Service; this one may be among them. */
  readonly serviceClaims: ReadonlyArray<KubeObject>
  /** The target Service, when the backend selects its workload (else not looked up). */
  readonly service: KubeObject | undefined
  /**
   * Other Services in the namespace sharing a label with the target Service's selector, with the
   * Apis targeting them, when the backend selects workloads (plan/Workload.ts); else empty.
   */
  readonly neighbours: ReadonlyArray<Neighbour>
}

/** What a pass is configured with. */
export interface PassSettings {
  readonly config: ControllerConfig
  readonly backend: AuthenticationBackend
  /** The VirtualService API version the cluster serves (SPEC 10: v1 where served). */
  readonly virtualServiceKind: ResourceKind
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

// ---------------------------------------------------------------------------------------------
// validation

export interface Validated {
  readonly facts: ValidationFacts
  /** The spec, when it passed every rule. */
  readonly spec: ApiSpec | undefined
  /**
   * An older Api holds the Service this one targets, read from the spec even when it breaks a
   * rule: a lost conflict withdraws the children whatever else is wrong (SPEC 6).
   */
  readonly serviceLost: boolean
  /** How the Api's workload is shared (istio-security, a Service with a selector); else undefined. */
  readonly workload: Workload | undefined
}

export const validationFactsOf = (obs: Observation, settings: PassSettings): Validated => {
  const api = obs.api
  const namespace = api.metadata.namespace ?? ""
  const checked = checkSpec(api.spec, namespace, settings.config, settings.backend)
  const spec = Result.isSuccess(checked) ? checked.success : undefined
  const target = spec?.service.name ?? targetServiceOf(api as KubeObject)
  const holder = target !== undefined ? serviceHolder(api as KubeObject, target, obs.serviceClaims) : undefined
  const workload = spec !== undefined ? workloadOfObservation(obs, settings) : undefined
  return {
    spec,
    serviceLost: holder !== undefined,
    workload,
    facts: {
      problems: Result.isFailure(checked) ? checked.failure : null,
      service: spec?.service.name ?? null,
      serviceHolder: spec !== undefined && holder !== undefined ? keyOf(holder) : null,
      sharing: workload?.sharing ?? null
    }
  }
}

/** How the Api's workload is shared (SPEC 10, isolation), when the backend selects workloads and the Service has a selector. */
export const workloadOfObservation = (obs: Observation, settings: PassSettings): Workload | undefined => {
  const selector = settings.backend.selectsWorkload ? selectorOf(obs.service) : undefined
  return selector !== undefined ? workloadOf(obs.api as KubeObject, selector, obs.neighbours, settings.config, obs.hostClaims) : undefined
}

// ---------------------------------------------------------------------------------------------
// authentication

/** The authentication children as this pass sees and wants them. */
export interface AuthenticationView {
  readonly facts: AuthenticationFacts
  /** The children the plan renders (empty when nothing is to be written). */
  readonly desired: ReadonlyArray<KubeObject>
  /** Ours, of any authentication kind (a backend switch leaves the old backend's behind). */
  readonly owned: ReadonlyArray<ObservedChild>
}

/** The spec's authentication plan, read from a valid spec, else from any spec that decodes. */
const planOf = (obs: Observation, spec: ApiSpec | undefined, config: ControllerConfig): AuthenticationPlan | undefined => {
  const readable = spec ?? Result.getOrUndefined(decodeSpec(obs.api.spec))
  return readable !== undefined ? authenticationPlan(readable, config) : undefined
}

/** Why the authentication children cannot select the target Service's workload. */
export const targetProblemText = (namespace: string, service: string, problem: "missing" | "no selector"): string =>
  problem === "missing"
    ? `Service ${namespace}/${service} does not exist: the authentication children select its workload ` +
      "through the Service's spec.selector; create the Service or fix spec.service.name"
    : `Service ${namespace}/${service} has no spec.selector, so no workload can be secured: give the Service a selector`

const targetProblemOf = (obs: Observation, service: string): string | undefined => {
  const namespace = obs.api.metadata.namespace ?? ""
  if (obs.service === undefined) return targetProblemText(namespace, service, "missing")
  if (selectorOf(obs.service) === undefined) return targetProblemText(namespace, service, "no selector")
  return undefined
}

const sameChild = (a: { readonly kind: string; readonly name: string }, b: ObservedChild) =>
  b.kind.kind === a.kind && b.object.metadata.name === a.name

export const authenticationViewOf = (
  obs: Observation,
  settings: PassSettings,
  validated: Validated,
  specUsable: boolean
): AuthenticationView => {
  const spec = validated.spec
  const owner = ownerOf(obs.api)
  const { backend, config } = settings
  const plan = planOf(obs, spec, config)
  const claims = claimsOf(obs.api, config.domainName)
  const holder = claims.fqdn !== undefined ? hostnameHolder(owner, claims.fqdn, obs.hostClaims) : undefined
  const targetProblem = plan !== undefined && backend.selectsWorkload ? targetProblemOf(obs, plan.service) : undefined

  const owned = obs.authentication.filter((c) => isOwnedBy(c.object.metadata, owner))
  const foreign = obs.authentication.find((c) =>
    backend.kinds.includes(c.kind) && !isOwnedBy(c.object.metadata, owner)
  )
  const desired = specUsable && plan !== undefined && targetProblem === undefined
    ? backend.render(owner, plan, {
      selector: selectorOf(obs.service) ?? {},
      delegatedHosts: validated.workload?.delegatedHosts ?? [],
      ports: workloadPortsOf(obs.service)
    })
    : []
  // Report the child the backend renders first, else any of ours (e.g. the old backend's).
  const reported = owned.find((c) => c.kind === backend.kinds[0]) ?? owned[0]
  const upToDate = desired.length > 0 &&
    desired.every((d) => {
      const c = owned.find((o) => sameChild({ kind: d.kind, name: d.metadata.name }, o))
      return c !== undefined && inSync(d, c.object)
    }) &&
    owned.every((o) => desired.some((d) => sameChild({ kind: d.kind, name: d.metadata.name }, o)))

  return {
    desired,
    owned,
    facts: {
      specUsable,
      serviceLost: validated.serviceLost,
      hostnameTaken: holder !== undefined,
      wanted: plan !== undefined,
      own: reported !== undefined ? refOf(reported.object) : null,
      foreign: foreign !== undefined ? describe(foreign.kind.kind, foreign.object) : null,
      targetProblem: targetProblem ?? null,
      upToDate
    }
  }
}

// ---------------------------------------------------------------------------------------------
// VirtualService

export interface VirtualServiceView {
  readonly facts: VirtualServiceFacts
  readonly desired: KubeObject | undefined
  readonly owned: KubeObject | undefined
}

export const virtualServiceViewOf = (
  obs: Observation,
  settings: PassSettings,
  validated: Validated,
  specUsable: boolean,
  authentication: AuthenticationState
): VirtualServiceView => {
  const spec = validated.spec
  const owner = ownerOf(obs.api)
  const claims = claimsOf(obs.api, settings.config.domainName)
  const holder = claims.fqdn !== undefined ? hostnameHolder(owner, claims.fqdn, obs.hostClaims) : undefined
  const observed = obs.virtualService
  const owned = observed !== undefined && isOwnedBy(observed.metadata, owner) ? observed : undefined
  const desired = specUsable && spec !== undefined
    ? desiredVirtualService(owner, spec, settings.config, settings.virtualServiceKind)
    : undefined
  return {
    desired,
    owned,
    facts: {
      specUsable,
      serviceLost: validated.serviceLost,
      fqdn: claims.fqdn ?? null,
      hostHolder: holder !== undefined ? keyOf(holder) : null,
      own: owned !== undefined ? refOf(owned) : null,
      foreign: observed !== undefined && owned === undefined ? describe("VirtualService", observed) : null,
      authentication,
      upToDate: owned !== undefined && desired !== undefined && inSync(desired, owned)
    }
  }
}
