/**
 * What the two child machines (authentication, VirtualService) share: what they remember between
 * passes, how a write they asked for reports back, and how every state describes itself to the
 * status projection (its code and its part in the Api's readiness).
 *
 * A child machine is stepped twice at most per pass: `OBSERVED` with the facts gathered at the
 * start of the pass picks the state; if that state is transient (`Applying`, `Removing`,
 * `Withdrawing`) the reconciler runs the machine's intent and feeds the server's answer back
 * (`APPLIED`, `REMOVED` or `WRITE_FAILED`). A write the server accepted is confirmed by its
 * response, so transient states are never stored (SPEC 5, revised).
 */
import type { WriteFailure } from "./WriteFailure.ts"

/** A child as `status.*.resource` names it. */
export interface ResourceRef {
  readonly name: string
  readonly uid: string
  readonly version: string
}

/** What a child machine remembers between passes: the `lastError` and `resource` next to its code. */
export interface ChildContext {
  readonly lastError: string | null
  readonly resource: ResourceRef | null
}

export const emptyChildContext: ChildContext = { lastError: null, resource: null }

/** The server's answer to a machine's intent, fed back in the same pass. */
export type WriteOutcome =
  | { readonly type: "APPLIED"; readonly resource: ResourceRef }
  | { readonly type: "REMOVED" }
  | ({ readonly type: "WRITE_FAILED" } & WriteFailure)

/**
 * How a state takes part in the Api's `Ready` condition: `ready` (nothing left to do), `waiting`
 * (work outstanding or not started), `unknown` (not looked at yet), or `failed` with the
 * condition's reason (these states are Warnings).
 */
export type Readiness =
  | { readonly kind: "ready"; readonly note?: string; readonly warning?: Warning }
  | { readonly kind: "waiting" }
  | { readonly kind: "unknown" }
  | { readonly kind: "failed"; readonly reason: string }

/**
 * A state that works but deserves a warning: the Api is Ready, and a condition of its own (status
 * False, with the reason) says what is wrong; entering the state is a Warning Event.
 */
export interface Warning {
  /** The condition type, stated positively as Kubernetes conditions are ("WorkloadIsolated"). */
  readonly condition: string
  readonly reason: string
}

/**
 * Per-state facts, kept on the state node as xstate `meta`. `code` is the status code the state
 * projects to (null: the status field is left out); transient states have no code: they are
 * never stored.
 */
export type StateMeta =
  | { readonly code: number | null; readonly readiness: Readiness }
  | { readonly transient: true }

/** Longest `lastError` written to status: a status write must never fail for its size (SPEC 6). */
export const MAX_MESSAGE = 1024

export const boundMessage = (message: string): string =>
  message.length <= MAX_MESSAGE ? message : `${message.slice(0, MAX_MESSAGE - 16)}… (truncated)`
