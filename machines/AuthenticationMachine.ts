/**
 * The Api's authentication children (SPEC 2, 4, 10): `status.authenticationStatus`. Which
 * objects they are depends on the backend (a legacy Istio Policy, or RequestAuthentication +
 * AuthorizationPolicies + PeerAuthentication); the machine only knows "ours", "as planned" and
 * "in the way".
 *
 * Each pass feeds one `OBSERVED`; the guards below pick the state, first match wins. A state
 * that asks for a write is transient: the reconciler runs the intent and feeds the answer back
 * in the same pass. The VirtualService machine is stepped after this one and waits for it
 * (secure before expose, SPEC 5). Removals go the other way: an intent that deletes our
 * children (`removeAuthentication`) runs only after the VirtualService step, and only once no
 * VirtualService of ours is left exposing the Service (SPEC 6: the VirtualService goes first).
 */
import { and, assign, not, or, setup, type StateValueFrom } from "xstate"
import { boundMessage, type ChildContext, type ResourceRef, type StateMeta, type WriteOutcome } from "./Child.ts"
import { isRetryable } from "./WriteFailure.ts"

/** What a pass observes about the authentication children. */
export interface AuthenticationFacts {
  /** Validation reached Valid: the plan can be trusted. */
  readonly specUsable: boolean
  /** An older Api holds the target Service (validation TargetServiceOccupied): ours must go (SPEC 6). */
  readonly serviceLost: boolean
  /** Another VirtualService holds the Api's hostname: nothing new is created for it. */
  readonly hostnameTaken: boolean
  /** The spec asks for authentication (SPEC 4); false when the spec cannot be read. */
  readonly wanted: boolean
  /** Our child that status reports (the first the backend renders), when any of ours exists. */
  readonly own: ResourceRef | null
  /** An object we do not own sits under one of our children's names: `Kind namespace/name`. */
  readonly foreign: string | null
  /** Why the children cannot select their workload (missing Service, no selector), if so. */
  readonly targetProblem: string | null
  /** Ours are exactly the planned set: every planned child as planned, nothing left over. */
  readonly upToDate: boolean
}

export type AuthenticationEvent = { readonly type: "OBSERVED"; readonly facts: AuthenticationFacts } | WriteOutcome

const foreignMessage = (what: string) => `${what} already exists and is not managed by this Api; delete it or rename the Api`

export const authenticationMachine = setup({
  types: {
    context: {} as ChildContext,
    events: {} as AuthenticationEvent,
    input: {} as ChildContext
  },
  guards: {
    specBlocked: ({ event }) => event.type === "OBSERVED" && !event.facts.specUsable,
    serviceLost: ({ event }) => event.type === "OBSERVED" && event.facts.serviceLost,
    hostnameTaken: ({ event }) => event.type === "OBSERVED" && event.facts.hostnameTaken,
    wanted: ({ event }) => event.type === "OBSERVED" && event.facts.wanted,
    ownExists: ({ event }) => event.type === "OBSERVED" && event.facts.own !== null,
    targetUnusable: ({ event }) => event.type === "OBSERVED" && event.facts.targetProblem !== null,
    nameTaken: ({ event }) => event.type === "OBSERVED" && event.facts.foreign !== null,
    upToDate: ({ event }) => event.type === "OBSERVED" && event.facts.upToDate,
    retryable: ({ event }) => event.type === "WRITE_FAILED" && isRetryable(event.reason)
  },
  actions: {
    /** Report what exists now (nothing, or ours), with no error. */
    recordOwn: assign({
      resource: ({ event }) => (event.type === "OBSERVED" ? event.facts.own : null),
      lastError: null
    }),
    recordTargetProblem: assign({
      resource: ({ event }) => (event.type === "OBSERVED" ? event.facts.own : null),
      lastError: ({ event }) => (event.type === "OBSERVED" ? boundMessage(event.facts.targetProblem ?? "") : null)
    }),
    recordForeign: assign({
      resource: null,
      lastError: ({ event }) => (event.type === "OBSERVED" ? boundMessage(foreignMessage(event.facts.foreign ?? "")) : null)
    }),
    /** A child being written has no version to report until the server answers; one removed has none at all. */
    forget: assign({ resource: null, lastError: null }),
    recordApplied: assign({ resource: ({ event }) => (event.type === "APPLIED" ? event.resource : null), lastError: null }),
    recordRetry: assign({
      lastError: ({ event }) => (event.type === "WRITE_FAILED" ? boundMessage(`${event.message} (will retry)`) : null)
    }),
    recordFailure: assign({
      lastError: ({ event }) => (event.type === "WRITE_FAILED" ? boundMessage(event.message) : null)
    }),
    /** Intent, run by the reconciler: create or update our children to the plan, then remove leftovers. */
    applyAuthentication: () => {},
    /** Intent, run by the reconciler after the VirtualService step: remove our children (authentication off, or the Service lost). */
    removeAuthentication: () => {}
  }
}).createMachine({
  id: "authentication",
  context: ({ input }) => input,
  initial: "Disabled",
  on: {
    OBSERVED: [
      {
        guard: and(["serviceLost", "ownExists", "wanted"]),
        target: ".Withdrawing",
        description: "an older Api holds the Service: ours go, after our VirtualService",
        actions: ["recordOwn", "removeAuthentication"]
      },
      {
        guard: and(["serviceLost", "ownExists"]),
        target: ".Removing",
        description: "an older Api holds the Service, and authentication is off: ours go, after our VirtualService",
        actions: ["recordOwn", "removeAuthentication"]
      },
      {
        guard: and(["specBlocked", "ownExists"]),
        target: ".Created",
        description: "spec invalid: keep the last good children (there is no plan to write)",
        actions: "recordOwn"
      },
      {
        guard: and([or(["specBlocked", "hostnameTaken"]), "wanted", not("ownExists")]),
        target: ".NotCreated",
        description: "blocked (spec invalid, Service lost, or hostname taken), authentication asked for, nothing of ours: nothing new is created",
        actions: "recordOwn"
      },
      {
        guard: and([or(["specBlocked", "hostnameTaken"]), not("ownExists")]),
        target: ".Disabled",
        description: "blocked, and the spec does not ask for authentication",
        actions: "recordOwn"
      },
      {
        guard: and([not("wanted"), "ownExists"]),
        target: ".Removing",
        description: "authentication turned off",
        actions: ["recordOwn", "removeAuthentication"]
      },
      { guard: not("wanted"), target: ".Disabled", description: "authentication off, nothing of ours left", actions: "recordOwn" },
      {
        guard: "targetUnusable",
        target: ".Error",
        description: "the target Service is missing or has no selector (istio-security): lastError names it",
        actions: "recordTargetProblem"
      },
      {
        guard: "nameTaken",
        target: ".Error",
        description: "an object we do not own has one of our names: never overwritten",
        actions: "recordForeign"
      },
      {
        guard: "upToDate",
        target: ".Created",
        description: "ours are exactly the planned set: nothing to write",
        actions: "recordOwn"
      },
      {
        target: ".Applying",
        description: "create or update ours to the plan, then remove leftovers (e.g. the other backend's)",
        actions: ["forget", "applyAuthentication"]
      }
    ]
  },
  states: {
    Disabled: {
      description: "Authentication is off and none of our children exist; status leaves authenticationStatus out.",
      meta: { code: null, readiness: { kind: "ready", note: "exposed without authentication" } } satisfies StateMeta
    },
    NotCreated: {
      description: "Authentication is asked for, but the spec is blocked (or the Service held by an older Api) and none of our children exist.",
      meta: { code: 0, readiness: { kind: "waiting" } } satisfies StateMeta
    },
    Applying: {
      description: "Writing our children to the plan; the server's answer decides (never stored).",
      meta: { transient: true } satisfies StateMeta,
      on: {
        OBSERVED: {},
        APPLIED: { target: "Created", actions: "recordApplied" },
        WRITE_FAILED: [
          { guard: "retryable", target: "InProgress", actions: "recordRetry" },
          { target: "Error", actions: "recordFailure" }
        ]
      }
    },
    Withdrawing: {
      description: "Deleting our children because an older Api holds the target Service, after our VirtualService is gone (never stored).",
      meta: { transient: true } satisfies StateMeta,
      on: {
        OBSERVED: {},
        REMOVED: { target: "NotCreated", actions: "forget" },
        WRITE_FAILED: [
          { guard: "retryable", target: "InProgress", actions: "recordRetry" },
          { target: "Error", actions: "recordFailure" }
        ]
      }
    },
    Removing: {
      description: "Deleting our children: authentication turned off, or the target Service lost (never stored).",
      meta: { transient: true } satisfies StateMeta,
      on: {
        OBSERVED: {},
        REMOVED: { target: "Disabled", actions: "forget" },
        WRITE_FAILED: [
          { guard: "retryable", target: "InProgress", actions: "recordRetry" },
          { target: "Error", actions: "recordFailure" }
        ]
      }
    },
    InProgress: {
      description: "A write failed in a way worth retrying; the next pass tries again (lastError says what failed).",
      meta: { code: 1, readiness: { kind: "waiting" } } satisfies StateMeta
    },
    Created: {
      description: "Our children exist as planned (or, for an invalid spec, as last planned). An Api whose hostname an older VirtualService serves keeps its children up to date: its Service is still its own.",
      meta: { code: 2, readiness: { kind: "ready", note: "exposed, authentication enforced" } } satisfies StateMeta
    },
    Error: {
      description: "The children cannot be written: a permanent API error, an unusable target Service, or a name taken by an object this Api does not own.",
      meta: { code: 3, readiness: { kind: "failed", reason: "AuthenticationFailed" } } satisfies StateMeta
    }
  }
})

/** Every state of the machine, transient ones included. */
export type AuthenticationState = StateValueFrom<typeof authenticationMachine>
