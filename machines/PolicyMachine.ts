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
import { setup } from "xstate"
import { childActions, childGuards, type SharedChildEvent } from "./ChildActions.ts"
import { type ChildContext, codeTable } from "./Snapshot.ts"

export type PolicyEvent =
  | SharedChildEvent
  | { readonly type: "DISABLED" }
  | { readonly type: "DISABLED_LEFTOVER" }

export const policyMachine = setup({
  types: {
    context: {} as ChildContext,
    events: {} as PolicyEvent,
    input: {} as ChildContext
  },
  guards: childGuards,
  actions: {
    ...childActions<PolicyEvent>(),
    /** Intent, run by the reconciler: create or update the authentication children to the plan. */
    applyAuthentication: () => {},
    /** Intent, run by the reconciler: delete the authentication children (authentication turned off). */
    deleteAuthentication: () => {}
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
