/**
 * What the two child machines (VirtualService, Policy) share: the observation events both
 * receive and the context updates they make on them. Each machine adds its own events and
 * intents; keeping these in one place keeps their lastError wording and resource rules equal.
 */
import { assign } from "xstate"
import type { ChildContext, ResourceRef } from "./Snapshot.ts"

/** Events both child machines receive. */
export type SharedChildEvent =
  | { readonly type: "SPEC_BLOCKED"; readonly existing: ResourceRef | null }
  | { readonly type: "FOREIGN_OBJECT"; readonly message: string }
  | { readonly type: "IN_SYNC"; readonly resource: ResourceRef }
  | { readonly type: "OUT_OF_SYNC" }
  | { readonly type: "APPLY_FAILED"; readonly message: string; readonly retryable: boolean }

/** The shape every child event has, as the shared guards and actions read it. */
type AnyChildEvent = { readonly type: string; readonly existing?: ResourceRef | null } | SharedChildEvent

export const childGuards = {
  hasExisting: ({ event }: { readonly event: AnyChildEvent }) => "existing" in event && event.existing != null,
  retryable: ({ event }: { readonly event: AnyChildEvent }) => event.type === "APPLY_FAILED" && "retryable" in event && event.retryable
}

/** The shared context updates, typed for one machine's own event union (xstate's actions are invariant in it). */
export const childActions = <E extends AnyChildEvent>() => ({
  /** Report the child that exists now (null when none), with no error. */
  rememberExisting: assign<ChildContext, E, undefined, E, never>({
    resource: ({ event }) => ("existing" in event ? event.existing ?? null : null),
    lastError: null
  }),
  rememberResource: assign<ChildContext, E, undefined, E, never>({
    resource: ({ event }) => (event.type === "IN_SYNC" && "resource" in event ? event.resource : null),
    lastError: null
  }),
  /** A child being written (or removed) has no stable version to report until the next pass sees it. */
  forget: assign<ChildContext, E, undefined, E, never>({ resource: null, lastError: null }),
  recordForeign: assign<ChildContext, E, undefined, E, never>({
    resource: null,
    lastError: ({ event }) => (event.type === "FOREIGN_OBJECT" && "message" in event ? event.message : null)
  }),
  recordRetry: assign<ChildContext, E, undefined, E, never>({
    lastError: ({ event }) => (event.type === "APPLY_FAILED" && "message" in event ? `${event.message} (will retry)` : null)
  }),
  recordFailure: assign<ChildContext, E, undefined, E, never>({
    lastError: ({ event }) => (event.type === "APPLY_FAILED" && "message" in event ? event.message : null)
  })
})
