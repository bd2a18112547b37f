/**
 * The Kubernetes API as the controller needs it: one service, two implementations.
 * `KubeApiLive.layer` (src/k8s/KubeApiLive.ts) talks to a real API server through
 * `@kubernetes/client-node`; `MemoryCluster.layer()` (test/support/MemoryCluster.ts) is an
 * in-memory one for deterministic tests, held to the same contract (test/support/KubeApiContract.ts).
 * Nothing outside `src/k8s/` imports the client library.
 *
 * Objects cross this boundary as JSON (`KubeObject`); callers decode the parts they need with
 * their own schemas.
 */
import { Context, Effect as EffectRuntime, Schema } from "effect"
import type { Effect, Stream } from "effect"
import type { KubeObject, ResourceKind } from "../domain/Kube.ts"

/** Why a call failed, in the API server's own vocabulary (HTTP status -> reason). */
export const KubeApiErrorReason = Schema.Literals([
  "NotFound", // 404
  "AlreadyExists", // 409 on create
  "Conflict", // 409: stale resourceVersion or a failed precondition
  "Gone", // 410: the watch's resourceVersion is too old; relist
  "Invalid", // 422, with field causes
  "BadRequest", // 400
  "Unauthorized", // 401
  "Forbidden", // 403
  "TooManyRequests", // 429
  "ServerError", // 5xx
  "Transport", // no HTTP answer (connection refused, reset, timeout)
  "Unexpected" // an answer we could not read
])
export type KubeApiErrorReason = typeof KubeApiErrorReason.Type

export const StatusCause = Schema.Struct({
  field: Schema.optionalKey(Schema.String),
  reason: Schema.optionalKey(Schema.String),
  message: Schema.optionalKey(Schema.String)
})
export type StatusCause = typeof StatusCause.Type

export class KubeApiError extends Schema.TaggedError<KubeApiError>()("KubeApiError", {
  reason: KubeApiErrorReason,
  /** e.g. `create virtualservices default/foo` */
  operation: Schema.String,
  /** The server's message, or the transport error's. */
  detail: Schema.String,
  causes: Schema.optionalKey(Schema.Array(StatusCause))
}) {
  override get message(): string {
    const causes = this.causes?.map((c) => (c.field ? `${c.field}: ${c.message ?? c.reason ?? ""}` : c.message ?? ""))
      .filter((s) => s !== "")
    return `${this.operation}: ${this.reason}: ${this.detail}${causes && causes.length > 0 ? ` (${causes.join("; ")})` : ""}`
  }

  /**
   * The server answered (usefully): every reason but no connection, an overloaded server (429) or
   * a failing one (5xx: kube-apiserver answers 500/504 when etcd does not). Readiness and the
   * controller's "the API server is unreachable" both read it.
   */
  get answered(): boolean {
    return !UNANSWERED_REASONS.has(this.reason)
  }
}

/** Failure reasons that mean the server did not (usefully) answer: see `KubeApiError.answered`. */
export const UNANSWERED_REASONS: ReadonlySet<string> = new Set<KubeApiErrorReason>(["Transport", "ServerError", "TooManyRequests"])

export const reasonFromStatus = (status: number, verb: string): KubeApiErrorReason => {
  if (status === 404) return "NotFound"
  if (status === 409) return verb === "create" ? "AlreadyExists" : "Conflict"
  if (status === 410) return "Gone"
  if (status === 422) return "Invalid"
  if (status === 400) return "BadRequest"
  if (status === 401) return "Unauthorized"
  if (status === 403) return "Forbidden"
  if (status === 429) return "TooManyRequests"
  if (status >= 500) return "ServerError"
  return "Unexpected"
}

export interface ListOptions {
  readonly namespace?: string
  readonly labelSelector?: string
}

export interface ObjectList {
  readonly items: ReadonlyArray<KubeObject>
  /** The list's resourceVersion: start a watch here to miss nothing. */
  readonly resourceVersion: string
}

export interface WatchOptions extends ListOptions {
  readonly resourceVersion: string
}

export type WatchEvent =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED"; readonly object: KubeObject }
  | { readonly type: "BOOKMARK"; readonly resourceVersion: string }

export interface DeleteOptions {
  /** Delete only this incarnation of the object (precondition on uid). */
  readonly uid?: string
}

/**
 * Not found is absent: the object (or nothing) for a read, nothing for a delete that finds the
 * object already gone (SPEC 8). The one place a 404 is turned into "there is none".
 */
export const orAbsent = <A, R>(call: Effect.Effect<A, KubeApiError, R>): Effect.Effect<A | undefined, KubeApiError, R> =>
  EffectRuntime.catchIf(call, (e) => e.reason === "NotFound", () => EffectRuntime.succeed(undefined))

/** RFC 7386 JSON merge patch: `null` removes a key. Include metadata.resourceVersion to make it conditional. */
export type MergePatch = Readonly<Record<string, unknown>>

/** The requests `KubeApi` makes, one per method but `serves`: the vocabulary of the request metrics and of the fakes. */
export const REQUEST_VERBS = ["get", "list", "watch", "create", "replace", "patch", "patchStatus", "delete"] as const
export type RequestVerb = typeof REQUEST_VERBS[number]

/** The verbs that change the cluster. */
export const WRITE_VERBS: ReadonlySet<RequestVerb> = new Set(["create", "replace", "patch", "patchStatus", "delete"])

export class KubeApi extends Context.Service<KubeApi, {
  /** Does the cluster serve this kind at this version (API discovery)? */
  readonly serves: (kind: ResourceKind) => Effect.Effect<boolean, KubeApiError>
  readonly get: (kind: ResourceKind, namespace: string, name: string) => Effect.Effect<KubeObject, KubeApiError>
  readonly list: (kind: ResourceKind, options?: ListOptions) => Effect.Effect<ObjectList, KubeApiError>
  /**
   * Changes after `resourceVersion`. The stream ends when the server closes the watch (callers
   * resume from the last version seen) and fails with reason `Gone` when that version is too
   * old (callers relist).
   */
  readonly watch: (kind: ResourceKind, options: WatchOptions) => Stream.Stream<WatchEvent, KubeApiError>
  readonly create: (kind: ResourceKind, object: KubeObject) => Effect.Effect<KubeObject, KubeApiError>
  /** PUT: fails with `Conflict` when `metadata.resourceVersion` is stale. Ignores `status`. */
  readonly replace: (kind: ResourceKind, object: KubeObject) => Effect.Effect<KubeObject, KubeApiError>
  readonly patch: (
    kind: ResourceKind,
    namespace: string,
    name: string,
    patch: MergePatch
  ) => Effect.Effect<KubeObject, KubeApiError>
  /** Merge patch on the status subresource: only `status` changes. */
  readonly patchStatus: (
    kind: ResourceKind,
    namespace: string,
    name: string,
    patch: MergePatch
  ) => Effect.Effect<KubeObject, KubeApiError>
  /** With finalizers present this only sets `deletionTimestamp`, as the real server does. */
  readonly delete: (
    kind: ResourceKind,
    namespace: string,
    name: string,
    options?: DeleteOptions
  ) => Effect.Effect<void, KubeApiError>
}>()("api-controller/k8s/KubeApi") {}

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
/** Checked by the compiler: the verbs are exactly the methods but `serves`. */
const verbsAreTheMethods: Same<RequestVerb, Exclude<keyof KubeApi["Service"], "serves">> = true
void verbsAreTheMethods
