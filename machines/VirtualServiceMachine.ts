/**
 * The Api's VirtualService (SPEC 2, 5, 6): `status.virtualService`.
 *
 * Stepped after the authentication machine, whose resulting state is one of the facts: a
 * VirtualService is never created, changed or reported created for an Api that asks for
 * authentication until its authentication is Created (secure before expose, SPEC 5). The
 * conflict rules come first: an Api whose host an older VirtualService serves, or whose Service
 * an older Api holds, withdraws its own at once (never two of ours for one host, one Api's
 * children per Service, SPEC 6); its authentication children go after it.
 *
 * Each pass feeds one `OBSERVED`; the guards below pick the state, first match wins. A state
 * that asks for a write is transient: the reconciler runs the intent and feeds the answer back
 * in the same pass.
 */
import { and, assign, not, setup } from "xstate"
import type { AuthenticationState } from "./AuthenticationMachine.ts"
import { boundMessage, type ChildContext, type ResourceRef, type StateMeta, type WriteOutcome } from "./Child.ts"
import { isRetryable } from "./WriteFailure.ts"

/** What a pass observes about the VirtualService. */
export interface VirtualServiceFacts {
  /** Validation reached Valid: the plan can be trusted. */
  readonly specUsable: boolean
  /** An older Api holds the target Service (validation TargetServiceOccupied): ours must go (SPEC 6). */
  readonly serviceLost: boolean
  /** The host the Api asks for, when its spec names one. */
  readonly fqdn: string | null
  /** An older VirtualService we do not own that serves the host: `namespace/name`. */
  readonly hostHolder: string | null
  /** Our VirtualService, when it exists. */
  readonly own: ResourceRef | null
  /** An object we do not own sits under our name: `VirtualService namespace/name`. */
  readonly foreign: string | null
  /** Where the authentication machine ended this pass. */
  readonly authentication: AuthenticationState
  /** Ours exists exactly as planned. */
  readonly upToDate: boolean
}

export type VirtualServiceEvent = { readonly type: "OBSERVED"; readonly facts: VirtualServiceFacts } | WriteOutcome

const holderMessage = (facts: VirtualServiceFacts) =>
  `hostname ${facts.fqdn ?? "?"} is already used by VirtualService ${facts.hostHolder ?? "?"}`

export const virtualServiceMachine = setup({
  types: {
    context: {} as ChildContext,
    events: {} as VirtualServiceEvent,
    input: {} as ChildContext
  },
  guards: {
    hostnameTaken: ({ event }) => event.type === "OBSERVED" && event.facts.hostHolder !== null,
    ownExists: ({ event }) => event.type === "OBSERVED" && event.facts.own !== null,
    specBlocked: ({ event }) => event.type === "OBSERVED" && !event.facts.specUsable,
    serviceLost: ({ event }) => event.type === "OBSERVED" && event.facts.serviceLost,
    authenticationRetrying: ({ event }) => event.type === "OBSERVED" && event.facts.authentication === "InProgress",
    authenticationMissing: ({ event }) =>
      event.type === "OBSERVED" && (event.facts.authentication === "NotCreated" || event.facts.authentication === "Error"),
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
    recordHolder: assign({
      resource: ({ event }) => (event.type === "OBSERVED" ? event.facts.own : null),
      lastError: ({ event }) => (event.type === "OBSERVED" ? boundMessage(holderMessage(event.facts)) : null)
    }),
    recordWithdrawFailure: assign({
      lastError: ({ context, event }) =>
        event.type === "WRITE_FAILED"
          ? boundMessage(`${context.lastError ?? "hostname taken"}; withdrawing our VirtualService failed: ${event.message}`)
          : context.lastError
    }),
    recordWaiting: assign({
      resource: ({ event }) => (event.type === "OBSERVED" ? event.facts.own : null),
      lastError: "waiting for authentication (see authenticationStatus) before exposing the service"
    }),
    recordNotSecured: assign({
      resource: ({ event }) => (event.type === "OBSERVED" ? event.facts.own : null),
      lastError: "not exposed until authentication is in place (see authenticationStatus)"
    }),
    recordForeign: assign({
      resource: null,
      lastError: ({ event }) =>
        event.type === "OBSERVED"
          ? boundMessage(`${event.facts.foreign ?? ""} already exists and is not managed by this Api; delete it or rename the Api`)
          : null
    }),
    /** A VirtualService being written has no version to report until the server answers. */
    forget: assign({ resource: null, lastError: null }),
    forgetResource: assign({ resource: null }),
    recordApplied: assign({ resource: ({ event }) => (event.type === "APPLIED" ? event.resource : null), lastError: null }),
    recordRetry: assign({
      lastError: ({ event }) => (event.type === "WRITE_FAILED" ? boundMessage(`${event.message} (will retry)`) : null)
    }),
    recordFailure: assign({
      lastError: ({ event }) => (event.type === "WRITE_FAILED" ? boundMessage(event.message) : null)
    }),
    /** Intent, run by the reconciler: create or update our VirtualService to the plan. */
    applyVirtualService: () => {},
    /** Intent, run by the reconciler: delete our VirtualService, whose host an older one holds or whose Service an older Api holds. */
    withdrawVirtualService: () => {}
  }
}).createMachine({
  id: "virtualService",
  context: ({ input }) => input,
  initial: "NotCreated",
  on: {
    OBSERVED: [
      {
        guard: and(["hostnameTaken", "ownExists"]),
        target: ".Withdrawing",
        description: "an older VirtualService serves the host: ours goes at once",
        actions: ["recordHolder", "withdrawVirtualService"]
      },
      {
        guard: "hostnameTaken",
        target: ".HostnameOccupied",
        description: "an older VirtualService serves the host and none of ours does: lastError names it",
        actions: "recordHolder"
      },
      {
        guard: and(["serviceLost", "ownExists"]),
        target: ".Unexposing",
        description: "an older Api holds the Service: ours goes at once (its authentication children after it)",
        actions: ["recordOwn", "withdrawVirtualService"]
      },
      {
        guard: and(["specBlocked", not("ownExists")]),
        target: ".NotCreated",
        description: "spec invalid or Service held by an older Api, and nothing of ours to keep",
        actions: "recordOwn"
      },
      {
        guard: "authenticationRetrying",
        target: ".InProgress",
        description: "secure before expose: wait for the authentication children",
        actions: "recordWaiting"
      },
      {
        guard: "authenticationMissing",
        target: ".NotCreated",
        description: "secure before expose: nothing is exposed while authentication is missing",
        actions: "recordNotSecured"
      },
      {
        guard: "specBlocked",
        target: ".Created",
        description: "spec invalid: keep the last good VirtualService serving",
        actions: "recordOwn"
      },
      {
        guard: "nameTaken",
        target: ".Error",
        description: "an object we do not own has our name: never overwritten",
        actions: "recordForeign"
      },
      { guard: "upToDate", target: ".Created", description: "ours exists as planned: nothing to write", actions: "recordOwn" },
      {
        target: ".Applying",
        description: "create ours, or put it back to the plan (spec changed, edited by hand)",
        actions: ["forget", "applyVirtualService"]
      }
    ]
  },
  states: {
    NotCreated: {
      description: "No VirtualService is served for this Api (not wanted yet, or not secured yet).",
      meta: { code: 0, readiness: { kind: "waiting" } } satisfies StateMeta
    },
    Applying: {
      description: "Writing our VirtualService to the plan; the server's answer decides (never stored).",
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
      description: "Deleting our VirtualService because an older one serves the host (never stored).",
      meta: { transient: true } satisfies StateMeta,
      on: {
        OBSERVED: {},
        REMOVED: { target: "HostnameOccupied", actions: "forgetResource" },
        WRITE_FAILED: { target: "HostnameOccupied", actions: "recordWithdrawFailure" }
      }
    },
    Unexposing: {
      description: "Deleting our VirtualService because an older Api holds the target Service (never stored).",
      meta: { transient: true } satisfies StateMeta,
      on: {
        OBSERVED: {},
        REMOVED: { target: "NotCreated", actions: "forgetResource" },
        WRITE_FAILED: [
          { guard: "retryable", target: "InProgress", actions: "recordRetry" },
          { target: "Error", actions: "recordFailure" }
        ]
      }
    },
    InProgress: {
      description: "Work is outstanding: a write failed and will be retried, or the authentication children are being retried.",
      meta: { code: 1, readiness: { kind: "waiting" } } satisfies StateMeta
    },
    Created: {
      description: "Our VirtualService exists as planned (or, for an invalid spec, as last planned).",
      meta: { code: 2, readiness: { kind: "ready" } } satisfies StateMeta
    },
    Error: {
      description: "The VirtualService cannot be written: a permanent API error, or its name is taken by an object this Api does not own.",
      meta: { code: 3, readiness: { kind: "failed", reason: "VirtualServiceFailed" } } satisfies StateMeta
    },
    HostnameOccupied: {
      description: "An older VirtualService serves the hostname; lastError names it. Proceeds by itself once it is gone.",
      meta: { code: 4, readiness: { kind: "failed", reason: "HostnameOccupied" } } satisfies StateMeta
    }
  }
})
