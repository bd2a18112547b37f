/**
 * Validation of the Api as a whole (SPEC 5, 6, 7): `status.validationStatus`.
 *
 *   Pending (0) --SPEC_VALID--> Valid (2)
 *               --SPEC_INVALID--> Invalid (3)
 *               --SERVICE_OCCUPIED--> TargetServiceOccupied (5)
 *
 * Every pass feeds exactly one of the three observations, from any state: validation is
 * level-triggered, so an Api fixed by its user, or whose Service is freed, recovers by itself.
 */
import { assign, setup } from "xstate"
import { codeTable } from "./Snapshot.ts"

export interface ValidationContext {
  readonly lastError: string | null
}

export type ValidationEvent =
  | { readonly type: "SPEC_VALID" }
  | { readonly type: "SPEC_INVALID"; readonly message: string }
  | { readonly type: "SERVICE_OCCUPIED"; readonly service: string; readonly holder: string }

export const validationMachine = setup({
  types: {
    context: {} as ValidationContext,
    events: {} as ValidationEvent,
    input: {} as ValidationContext
  },
  actions: {
    clearError: assign({ lastError: null }),
    recordInvalid: assign({
      lastError: ({ event }) => (event.type === "SPEC_INVALID" ? event.message : null)
    }),
    recordHolder: assign({
      lastError: ({ event }) =>
        event.type === "SERVICE_OCCUPIED"
          ? `service ${event.service} is already exposed by Api ${event.holder}; only the oldest Api for a service is served`
          : null
    })
  }
}).createMachine({
  id: "validation",
  context: ({ input }) => input,
  initial: "Pending",
  on: {
    SPEC_VALID: { target: ".Valid", actions: "clearError" },
    SPEC_INVALID: { target: ".Invalid", actions: "recordInvalid" },
    SERVICE_OCCUPIED: { target: ".TargetServiceOccupied", actions: "recordHolder" }
  },
  states: {
    Pending: { description: "Not looked at yet: no pass has run since the Api was created." },
    Valid: { description: "The spec is valid and this Api holds its target Service." },
    Invalid: { description: "The spec breaks a rule (SPEC 7); lastError says which and how to fix it. Existing children keep serving." },
    TargetServiceOccupied: { description: "An older Api exposes the same Service; this one creates nothing until that one is gone or retargeted." }
  }
})

export type ValidationState = "Pending" | "Valid" | "Invalid" | "TargetServiceOccupied"

export const validationCodes = codeTable<ValidationState>(
  { Pending: 0, Valid: 2, Invalid: 3, TargetServiceOccupied: 5 },
  "Pending"
)
