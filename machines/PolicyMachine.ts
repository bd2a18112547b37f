/**
 * The Api's authentication children, an Istio Policy by default (SPEC 2, 4, 5):
 * `status.authenticationStatus`.
 *
 *   any --SPEC_BLOCKED [hasExisting]--> Created (2)    spec invalid or host taken: keep what exists
 *   any --SPEC_BLOCKED--> NotCreated (0)
 *   any --DISABLED--> NotCreated (0)                   authentication off, nothing left over
 *   any --DISABLED_LEFTOVER / deleteAuthentication--> InProgress (1)
 *   any --FOREIGN_OBJECT--> Error (3)
 *   any --IN_SYNC--> Created (2)
 *   any --OUT_OF_SYNC / applyAuthentication--> InProgress (1)
 *   InProgress --APPLY_FAILED [retryable]--> InProgress (1), with lastError
 *   InProgress --APPLY_FAILED--> Error (3)
 */
import { assign, setup } from "xstate"
import { type ChildContext, codeTable, type ResourceRef } from "./Snapshot.ts"

export type PolicyEvent =
  | { readonly type: "SPEC_BLOCKED"; readonly existing: ResourceRef | null }
  | { readonly type: "DISABLED" }
  | { readonly type: "DISABLED_LEFTOVER" }
  | { readonly type: "FOREIGN_OBJECT"; readonly message: string }
  | { readonly type: "IN_SYNC"; readonly resource: ResourceRef }
  | { readonly type: "OUT_OF_SYNC" }
  | { readonly type: "APPLY_FAILED"; readonly message: string; readonly retryable: boolean }

export const policyMachine = setup({
  types: {
    context: {} as ChildContext,
    events: {} as PolicyEvent,
    input: {} as ChildContext
  },
  guards: {
    hasExisting: ({ event }) => "existing" in event && event.existing !== null,
    retryable: ({ event }) => event.type === "APPLY_FAILED" && event.retryable
  },
  actions: {
    /** Intent, run by the reconciler: create or update the authentication children to the plan. */
    applyAuthentication: () => {},
    /** Intent, run by the reconciler: delete the authentication children (authentication turned off). */
    deleteAuthentication: () => {},
    rememberExisting: assign({
      resource: ({ event }) => ("existing" in event ? event.existing : null),
      lastError: null
    }),
    rememberResource: assign({
      resource: ({ event }) => (event.type === "IN_SYNC" ? event.resource : null),
      lastError: null
    }),
    /** A child being written (or removed) has no stable version to report until the next pass sees it. */
    forget: assign({ resource: null, lastError: null }),
    recordForeign: assign({
      resource: null,
      lastError: ({ event }) => (event.type === "FOREIGN_OBJECT" ? event.message : null)
    }),
    recordRetry: assign({
      lastError: ({ event }) => (event.type === "APPLY_FAILED" ? `${event.message} (will retry)` : null)
    }),
    recordFailure: assign({
      lastError: ({ event }) => (event.type === "APPLY_FAILED" ? event.message : null)
    })
  }
}).createMachine({
  id: "policy",
  context: ({ input }) => input,
  initial: "NotCreated",
  on: {
    SPEC_BLOCKED: [
      { guard: "hasExisting", target: ".Created", actions: "rememberExisting" },
      { target: ".NotCreated", actions: "rememberExisting" }
    ],
    DISABLED: { target: ".NotCreated", actions: "forget" },
    DISABLED_LEFTOVER: { target: ".InProgress", actions: ["forget", "deleteAuthentication"] },
    FOREIGN_OBJECT: { target: ".Error", actions: "recordForeign" },
    IN_SYNC: { target: ".Created", actions: "rememberResource" },
    OUT_OF_SYNC: { target: ".InProgress", actions: ["forget", "applyAuthentication"] }
  },
  states: {
    NotCreated: { description: "No authentication children exist (authentication off, or not created yet)." },
    InProgress: {
      description: "The Policy is being written or, after authentication was turned off, deleted; not yet seen as planned.",
      on: {
        APPLY_FAILED: [
          { guard: "retryable", target: "InProgress", actions: "recordRetry" },
          { target: "Error", actions: "recordFailure" }
        ]
      }
    },
    Created: { description: "The Policy exists as planned (or, for a blocked Api, as last planned)." },
    Error: { description: "The Policy cannot be written: a permanent API error, or its name is taken by an object this Api does not own." }
  }
})

export type PolicyState = "NotCreated" | "InProgress" | "Created" | "Error"

export const policyCodes = codeTable<PolicyState>(
  { NotCreated: 0, InProgress: 1, Created: 2, Error: 3 },
  "NotCreated"
)
