/**
 * The Api's VirtualService (SPEC 2, 5, 6): `status.virtualService`.
 *
 * Each pass observes the world once and feeds one event; if that asks for a write
 * (`applyVirtualService`) and the write fails, `APPLY_FAILED` follows in the same pass.
 * A successful write is confirmed by the next pass observing the child (`IN_SYNC`), so
 * InProgress (1) means "written or being retried, not yet seen as wanted".
 *
 *   any --SPEC_BLOCKED [hasExisting]--> Created (2)    spec invalid: keep serving what exists
 *   any --SPEC_BLOCKED--> NotCreated (0)
 *   any --HOSTNAME_OCCUPIED--> HostnameOccupied (4)    another VirtualService serves the host
 *   any --FOREIGN_OBJECT--> Error (3)                  our name is taken by an object we do not own
 *   any --IN_SYNC--> Created (2)
 *   any --OUT_OF_SYNC / applyVirtualService--> InProgress (1)
 *   InProgress --APPLY_FAILED [retryable]--> InProgress (1), with lastError
 *   InProgress --APPLY_FAILED--> Error (3)
 */
import { assign, setup } from "xstate"
import { childActions, childGuards, type SharedChildEvent } from "./ChildActions.ts"
import { type ChildContext, codeTable, type ResourceRef } from "./Snapshot.ts"

export type VirtualServiceEvent =
  | SharedChildEvent
  | { readonly type: "HOSTNAME_OCCUPIED"; readonly fqdn: string; readonly holder: string; readonly existing: ResourceRef | null }

export const virtualServiceMachine = setup({
  types: {
    context: {} as ChildContext,
    events: {} as VirtualServiceEvent,
    input: {} as ChildContext
  },
  guards: childGuards,
  actions: {
    ...childActions<VirtualServiceEvent>(),
    /** Intent, run by the reconciler: create or update the VirtualService to the plan. */
    applyVirtualService: () => {},
    recordHolder: assign({
      resource: ({ event }) => ("existing" in event ? event.existing : null),
      lastError: ({ event }) =>
        event.type === "HOSTNAME_OCCUPIED"
          ? `hostname ${event.fqdn} is already used by VirtualService ${event.holder}`
          : null
    })
  }
}).createMachine({
  id: "virtualService",
  context: ({ input }) => input,
  initial: "NotCreated",
  on: {
    SPEC_BLOCKED: [
      { guard: "hasExisting", target: ".Created", actions: "rememberExisting" },
      { target: ".NotCreated", actions: "rememberExisting" }
    ],
    HOSTNAME_OCCUPIED: { target: ".HostnameOccupied", actions: "recordHolder" },
    FOREIGN_OBJECT: { target: ".Error", actions: "recordForeign" },
    IN_SYNC: { target: ".Created", actions: "rememberResource" },
    OUT_OF_SYNC: { target: ".InProgress", actions: ["forget", "applyVirtualService"] }
  },
  states: {
    NotCreated: { description: "No VirtualService exists for this Api." },
    InProgress: {
      description: "The VirtualService was written (or a write is being retried) and is not yet seen as planned.",
      on: {
        APPLY_FAILED: [
          { guard: "retryable", target: "InProgress", actions: "recordRetry" },
          { target: "Error", actions: "recordFailure" }
        ]
      }
    },
    Created: { description: "The VirtualService exists as planned (or, for a blocked Api, as last planned)." },
    Error: { description: "The VirtualService cannot be written: a permanent API error, or its name is taken by an object this Api does not own." },
    HostnameOccupied: { description: "Another VirtualService serves the hostname; lastError names it. Proceeds by itself once it is gone." }
  }
})

export type VirtualServiceState = "NotCreated" | "InProgress" | "Created" | "Error" | "HostnameOccupied"

export const virtualServiceCodes = codeTable<VirtualServiceState>(
  { NotCreated: 0, InProgress: 1, Created: 2, Error: 3, HostnameOccupied: 4 },
  "NotCreated"
)
