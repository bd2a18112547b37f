/**
 * Validation of the Api as a whole (SPEC 5, 6, 7, 10): `status.validationStatus`.
 *
 * Every pass observes the spec, the other Apis targeting the same Service and those whose
 * Services may select the same pods, and the guards below pick the state, in order. Validation
 * is level-triggered: an Api fixed by its user, or whose Service is freed, recovers by itself.
 */
import { assign, setup } from "xstate"
import { boundMessage, type StateMeta } from "./Child.ts"

export interface ValidationContext {
  readonly lastError: string | null
}

/** What a pass observes about the Api itself. */
export interface ValidationFacts {
  /** Every problem with the spec (SPEC 7), one sentence each, or null when there is none. */
  readonly problems: string | null
  /** The target Service's name, when the spec names one. */
  readonly service: string | null
  /** The older Api (`namespace/name`) that holds the same Service, if any (SPEC 6). */
  readonly serviceHolder: string | null
  /**
   * What Istio cannot keep apart between this Api and older ones whose Services may select the
   * same pods (SPEC 10, isolation), one sentence naming them; null when nothing is shared.
   */
  readonly sharing: string | null
}

export type ValidationEvent = { readonly type: "OBSERVED"; readonly facts: ValidationFacts }

export const validationMachine = setup({
  types: {
    context: {} as ValidationContext,
    events: {} as ValidationEvent,
    input: {} as ValidationContext
  },
  guards: {
    specInvalid: ({ event }) => event.facts.problems !== null,
    serviceTaken: ({ event }) => event.facts.serviceHolder !== null,
    workloadShared: ({ event }) => event.facts.sharing !== null
  },
  actions: {
    clearError: assign({ lastError: null }),
    recordProblems: assign({
      lastError: ({ event }) => (event.facts.problems === null ? null : boundMessage(event.facts.problems))
    }),
    recordHolder: assign({
      lastError: ({ event }) =>
        boundMessage(
          `service ${event.facts.service ?? "?"} is already exposed by Api ${event.facts.serviceHolder ?? "?"}; ` +
            "only the oldest Api for a service is served"
        )
    }),
    recordSharing: assign({
      lastError: ({ event }) => (event.facts.sharing === null ? null : boundMessage(event.facts.sharing))
    })
  }
}).createMachine({
  id: "validation",
  context: ({ input }) => input,
  initial: "Pending",
  on: {
    OBSERVED: [
      {
        guard: "specInvalid",
        target: ".Invalid",
        description: "the spec breaks a rule: lastError lists the problems",
        actions: "recordProblems"
      },
      {
        guard: "serviceTaken",
        target: ".TargetServiceOccupied",
        description: "an older Api in the namespace targets the same Service",
        actions: "recordHolder"
      },
      {
        guard: "workloadShared",
        target: ".Shared",
        description: "valid, but an older Api's Service may select the same pods in a way Istio applies per pod",
        actions: "recordSharing"
      },
      { target: ".Valid", description: "valid, and this Api holds its target Service", actions: "clearError" }
    ]
  },
  states: {
    Pending: {
      description: "Not looked at yet: no pass has run since the Api was created.",
      meta: { code: 0, readiness: { kind: "unknown" } } satisfies StateMeta
    },
    Valid: {
      description: "The spec is valid and this Api holds its target Service.",
      meta: { code: 2, readiness: { kind: "ready" } } satisfies StateMeta
    },
    Shared: {
      description:
        "Valid and served, but Istio cannot keep it apart from an older Api whose Service may select the same pods " +
        "(mTLS is per pod; one Api's authentication also applies to the other's requests there): lastError names it.",
      meta: {
        code: 2,
        readiness: { kind: "ready", warning: { condition: "WorkloadIsolated", reason: "WorkloadShared" } }
      } satisfies StateMeta
    },
    Invalid: {
      description: "The spec breaks a rule (SPEC 7); lastError says which and how to fix it. Existing children keep serving.",
      meta: { code: 3, readiness: { kind: "failed", reason: "InvalidSpec" } } satisfies StateMeta
    },
    TargetServiceOccupied: {
      description: "An older Api exposes the same Service; this one creates nothing until that one is gone or retargeted.",
      meta: { code: 5, readiness: { kind: "failed", reason: "TargetServiceOccupied" } } satisfies StateMeta
    }
  }
})
