/**
 * Renders an authentication plan as one `authentication.istio.io/v1alpha1` Policy (SPEC 2):
 * the Service as target, `principalBinding: USE_ORIGIN`, one JWT origin per rule with its
 * excluded paths as trigger rules, and an mTLS peer when enabled.
 */
import { Kinds } from "../domain/Kube.ts"
import type { Policy, StringMatch } from "../domain/Istio.ts"
import type { AuthenticationBackend } from "./AuthenticationBackend.ts"
import type { AuthenticationPlan, PathMatch } from "./AuthenticationPlan.ts"
import { childLabels, type Owner, ownerReference } from "./Ownership.ts"

const match = (p: PathMatch): StringMatch => {
  switch (p.kind) {
    case "exact":
      return { exact: p.value }
    case "prefix":
      return { prefix: p.value }
    case "suffix":
      return { suffix: p.value }
    case "regex":
      return { regex: p.value }
  }
}

export const desiredPolicy = (owner: Owner, plan: AuthenticationPlan): Policy => ({
  apiVersion: "authentication.istio.io/v1alpha1",
  kind: "Policy",
  metadata: {
    name: owner.name,
    namespace: owner.namespace,
    labels: childLabels(owner),
    ownerReferences: [ownerReference(owner)]
  },
  spec: {
    targets: [{ name: plan.service }],
    principalBinding: "USE_ORIGIN",
    origins: plan.origins.map((o) => ({
      jwt: {
        issuer: o.issuer,
        jwksUri: o.jwksUri,
        ...(o.excludedPaths.length > 0 ? { trigger_rules: [{ excluded_paths: o.excludedPaths.map(match) }] } : {})
      }
    })),
    ...(plan.mtls ? { peers: [{ mtls: {} }] } : {})
  }
})

export const IstioPolicyBackend: AuthenticationBackend = {
  name: "istio-policy",
  kinds: [Kinds.Policy],
  slots: [{ kind: Kinds.Policy, suffix: "" }],
  // The Policy targets the Service by name; Istio resolves its workload itself.
  selectsWorkload: false,
  excludedPathProblem: () => undefined,
  issuerProblem: () => undefined,
  render: (owner, plan) => [desiredPolicy(owner, plan)]
}
