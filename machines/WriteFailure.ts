/**
 * Why a write a machine asked for failed, as the machines need it: a transient failure leaves the
 * child InProgress (code 1) and the pass is retried with backoff; any other is Error (code 3) until
 * the Api or the cluster changes. The API server's answer is classified here, next to the machines
 * whose codes it decides.
 */

/**
 * - `transient`: may succeed unchanged (a lost race, an expired version, an overloaded, failing or
 *   unreachable server, an object gone meanwhile);
 * - `permanent`: needs a change of the spec, the cluster or RBAC (Invalid, Forbidden, ...);
 * - `kindNotServed`: permanent too: the cluster does not serve the child's kind (its CRDs are missing).
 */
export type WriteFailureReason = "transient" | "permanent" | "kindNotServed"

export interface WriteFailure {
  readonly reason: WriteFailureReason
  readonly message: string
}

export const isRetryable = (reason: WriteFailureReason): boolean => reason === "transient"

/** The API server's failure reasons (src/k8s/KubeApi.ts `KubeApiErrorReason`) worth a retry. */
const TRANSIENT: ReadonlySet<string> = new Set([
  "Conflict",
  "AlreadyExists",
  "Gone",
  "TooManyRequests",
  "ServerError",
  "Transport",
  "NotFound"
])

/**
 * What a failed request means for the machines, from its operation and the server's reason. A
 * 404 on create cannot mean the namespace is missing (the Api lives in it): the kind is not served.
 */
export const writeFailureReasonOf = (op: "create" | "update" | "delete" | "patch", serverReason: string): WriteFailureReason =>
  op === "create" && serverReason === "NotFound" ? "kindNotServed" : TRANSIENT.has(serverReason) ? "transient" : "permanent"
