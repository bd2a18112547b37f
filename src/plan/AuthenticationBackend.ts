/**
 * The seam between the authentication plan (SPEC 4) and the objects that carry it. The
 * reconciler and the authentication machine only know "the authentication children": which
 * kinds they are and what the plan renders to. Two backends exist (SPEC 10): the legacy
 * `authentication.istio.io/v1alpha1` Policy and today's `security.istio.io/v1` trio.
 */
import type { ExcludedPathKind } from "../domain/Api.ts"
import type { AuthBackendChoice } from "../domain/ControllerConfig.ts"
import type { KubeObject, ResourceKind } from "../domain/Kube.ts"
import type { AuthenticationPlan } from "./AuthenticationPlan.ts"
import type { Owner } from "./Ownership.ts"

/** The values of `AUTH_BACKEND` that name a backend (`auto` picks one of these at start). */
export type AuthBackendName = Exclude<AuthBackendChoice, "auto">

/** One child a backend writes: its kind, and its name, the Api's name with `suffix` appended. */
export interface ChildSlot {
  readonly kind: ResourceKind
  readonly suffix: string
}

export const childName = (apiName: string, slot: ChildSlot): string => `${apiName}${slot.suffix}`

/** What the children are rendered for, besides the plan: the workload they select and how it is shared. */
export interface RenderTarget {
  /** The target Service's `spec.selector` (only read when `selectsWorkload`). */
  readonly selector: Readonly<Record<string, string>>
  /** Names another Api decides on every pod of this workload (plan/Workload.ts); the rendering leaves them to it. */
  readonly delegatedHosts: ReadonlyArray<string>
  /** The ports on the pods the target Service leads to, when all are known (plan/Workload.ts `workloadPortsOf`). */
  readonly ports?: ReadonlyArray<number> | undefined
}

export interface AuthenticationBackend {
  readonly name: AuthBackendName
  /** Every kind this backend writes, in write order; ours of these kinds named after the Api are managed. */
  readonly kinds: ReadonlyArray<ResourceKind>
  /** Every child this backend may write, in write order: the names ours may have. */
  readonly slots: ReadonlyArray<ChildSlot>
  /** The children select the target Service's workload by its `spec.selector` (so the Service is watched). */
  readonly selectsWorkload: boolean
  /** Why the backend cannot express an excluded path, if it cannot; validation reports it (SPEC 10). */
  readonly excludedPathProblem: (kind: ExcludedPathKind, value: string) => string | undefined
  /** Why the backend cannot match an issuer exactly, if it cannot; validation reports it. */
  readonly issuerProblem: (issuer: string) => string | undefined
  /** The desired children; the first one is reported in `status.authenticationStatus.resource`. */
  readonly render: (owner: Owner, plan: AuthenticationPlan, target: RenderTarget) => ReadonlyArray<KubeObject>
}
