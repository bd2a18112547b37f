/**
 * Istio's own CRDs for the kinds the controller writes, as Istio ships them:
 * scripts/build-control-plane.sh copies them from the istio.io/api module pinned in
 * tools/istio/go.mod into `.bin/istio-crds.yaml` (rebuilt only when the pin changes). They carry
 * Istio's structural schema and CEL rules, so the API server itself refuses what Istio refuses at
 * admission.
 *
 * The legacy `authentication.istio.io/v1alpha1` Policy left Istio in 1.6 and is in no module:
 * it stays a test fixture with an open schema.
 */
import { existsSync } from "node:fs"
import { join } from "node:path"
import { REPO_ROOT } from "./RepoRoot.ts"

/** `.bin/istio-crds.yaml`: one document per CRD in `ISTIO_CRD_NAMES`. */
export const ISTIO_CRDS_FILE = join(REPO_ROOT, ".bin", "istio-crds.yaml")

/** The CRDs in `ISTIO_CRDS_FILE` (the script fails when istio.io/api lacks one). */
export const ISTIO_CRD_NAMES: ReadonlyArray<string> = [
  "virtualservices.networking.istio.io",
  "gateways.networking.istio.io",
  "requestauthentications.security.istio.io",
  "authorizationpolicies.security.istio.io",
  "peerauthentications.security.istio.io"
]

/** The test-only CRD of the legacy Policy (open schema, `apiextensions.k8s.io/v1`). */
export const LEGACY_POLICY_CRD_FILE = join(REPO_ROOT, "scripts/lib/crds/policies.authentication.istio.io.yaml")

/** The project's own Api CRD. */
export const API_CRD_FILE = join(REPO_ROOT, "deploy/crd/apis.gateway.kyma-project.io.yaml")

/**
 * Everything a control plane needs for the controller under either authentication backend: the
 * Api, Istio's CRDs and the legacy Policy. Meant as the control plane's default CRD list.
 */
export const CONTROLLER_CRD_FILES: ReadonlyArray<string> = [API_CRD_FILE, ISTIO_CRDS_FILE, LEGACY_POLICY_CRD_FILE]

/** `ISTIO_CRDS_FILE`, or an error that says how to make it. */
export const istioCrdsFile = (): string => {
  if (!existsSync(ISTIO_CRDS_FILE)) {
    throw new Error(`${ISTIO_CRDS_FILE} is missing: run scripts/build-control-plane.sh first`)
  }
  return ISTIO_CRDS_FILE
}
