/**
 * The seam between the authentication plan and the objects that carry it. The reconciler and
 * the Policy machine only know "the authentication children": which kinds they are, and what
 * the plan renders to. Adding the `security.istio.io/v1` rendering means adding a backend here.
 */
import type { KubeObject, ResourceKind } from "../domain/Kube.ts"
import type { AuthenticationPlan } from "./AuthenticationPlan.ts"
import type { Owner } from "./Ownership.ts"

export interface AuthenticationBackend {
  readonly name: string
  /** Every kind this backend writes; children of these kinds named after the Api are ours to manage. */
  readonly kinds: ReadonlyArray<ResourceKind>
  /** The desired children, first one is the one reported in `status.authenticationStatus.resource`. */
  readonly render: (owner: Owner, plan: AuthenticationPlan) => ReadonlyArray<KubeObject>
}
