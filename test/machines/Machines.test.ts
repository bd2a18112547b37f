/**
 * The machines' rules, stepped with xstate's pure transition function: which facts lead to which
 * state, the intents they emit, how a write's answer settles a transient state, and what the
 * catalog says about every state. (Every transition is also replayed against the reconciler in
 * ModelBased.test.ts, and the decision of a whole pass is tabled in test/lifecycle/.)
 */
import { assert, describe, it } from "@effect/vitest"
import { type AnyStateMachine, initialTransition, transition } from "xstate"
import type { AuthenticationFacts } from "../../machines/AuthenticationMachine.ts"
import { authenticationMachine } from "../../machines/AuthenticationMachine.ts"
import {
  catalog,
  codeOf,
  initialStateOf,
  isTransient,
  MACHINE_NAMES,
  readinessOf,
  stateForCode,
  storedStates
} from "../../machines/Catalog.ts"
import { MAX_MESSAGE } from "../../machines/Child.ts"
import { validationMachine } from "../../machines/ValidationMachine.ts"
import { type VirtualServiceFacts, virtualServiceMachine } from "../../machines/VirtualServiceMachine.ts"

const empty = { lastError: null, resource: null }
const ref = { name: "a", uid: "u1", version: "7" }

const vsFacts = (over: Partial<VirtualServiceFacts> = {}): VirtualServiceFacts => ({
  specUsable: true,
  fqdn: "a.kyma.local",
  hostHolder: null,
  own: null,
  foreign: null,
  authentication: "Created",
  upToDate: false,
  ...over
})

const authFacts = (over: Partial<AuthenticationFacts> = {}): AuthenticationFacts => ({
  specUsable: true,
  hostnameTaken: false,
  wanted: true,
  own: null,
  foreign: null,
  targetProblem: null,
  upToDate: false,
  ...over
})

const from = <M extends AnyStateMachine>(machine: M, value: string, context: object = empty) =>
  machine.resolveState({ value, context })

const observeVs = (facts: VirtualServiceFacts, state = "NotCreated") =>
  transition(virtualServiceMachine, from(virtualServiceMachine, state), { type: "OBSERVED", facts })

const observeAuth = (facts: AuthenticationFacts, state = "Disabled") =>
  transition(authenticationMachine, from(authenticationMachine, state), { type: "OBSERVED", facts })

describe("the catalog", () => {
  it("gives every stored state a code and a readiness, and every transient state neither", () => {
    for (const name of MACHINE_NAMES) {
      for (const state of Object.keys(catalog[name].machine.root.states)) {
        if (isTransient(name, state)) assert.throws(() => codeOf(name, state), /transient/)
        else assert.doesNotThrow(() => readinessOf(name, state))
      }
    }
  })

  it("maps each stored state to one code and back", () => {
    assert.deepStrictEqual(storedStates("validation").map((s) => codeOf("validation", s)), [0, 2, 3, 5])
    assert.deepStrictEqual(storedStates("authentication").map((s) => codeOf("authentication", s)), [null, 0, 1, 2, 3])
    assert.deepStrictEqual(storedStates("virtualService").map((s) => codeOf("virtualService", s)), [0, 1, 2, 3, 4])
    for (const name of MACHINE_NAMES) {
      for (const state of storedStates(name)) assert.strictEqual(stateForCode(name, codeOf(name, state) ?? undefined), state)
    }
  })

  it("reads an absent or unknown code as the initial state", () => {
    assert.strictEqual(stateForCode("virtualService", 42), "NotCreated")
    assert.strictEqual(stateForCode("validation", undefined), "Pending")
    assert.strictEqual(stateForCode("authentication", undefined), "Disabled", "no authenticationStatus: authentication off")
    for (const name of MACHINE_NAMES) assert.strictEqual(initialStateOf(name), String(initialTransition(catalog[name].machine as AnyStateMachine, catalog[name].emptyContext)[0].value))
  })

  it("lists exactly the intents each machine can emit (assigns are not intents)", () => {
    for (const name of MACHINE_NAMES) {
      const actions = catalog[name].machine.implementations.actions as Record<string, { readonly type?: string }>
      const intents = Object.entries(actions).filter(([, a]) => a.type !== "xstate.assign").map(([n]) => n)
      assert.sameMembers(intents, [...catalog[name].intents], name)
    }
  })

  it("marks the failed states as Warnings with their Ready reason", () => {
    const failed = MACHINE_NAMES.flatMap((n) =>
      storedStates(n).flatMap((s) => {
        const r = readinessOf(n, s)
        return r.kind === "failed" ? [`${n}.${s}: ${r.reason}`] : []
      })
    )
    assert.deepStrictEqual(failed, [
      "validation.Invalid: InvalidSpec",
      "validation.TargetServiceOccupied: TargetServiceOccupied",
      "authentication.Error: AuthenticationFailed",
      "virtualService.Error: VirtualServiceFailed",
      "virtualService.HostnameOccupied: HostnameOccupied"
    ])
  })
})

describe("validation machine", () => {
  it("an invalid spec is Invalid with the problems as lastError, before the Service claim is looked at", () => {
    const [s] = transition(validationMachine, from(validationMachine, "Valid", { lastError: null }), {
      type: "OBSERVED",
      facts: { problems: "spec.hostname: bad", service: "httpbin", serviceHolder: "ns/older" }
    })
    assert.strictEqual(s.value, "Invalid")
    assert.strictEqual(s.context.lastError, "spec.hostname: bad")
  })

  it("a Service held by an older Api is TargetServiceOccupied naming it; a free one is Valid", () => {
    const pending = from(validationMachine, "Pending", { lastError: null })
    const [taken] = transition(validationMachine, pending, {
      type: "OBSERVED",
      facts: { problems: null, service: "httpbin", serviceHolder: "ns/older" }
    })
    assert.strictEqual(taken.value, "TargetServiceOccupied")
    assert.include(taken.context.lastError ?? "", "service httpbin is already exposed by Api ns/older")
    const [free] = transition(validationMachine, taken, { type: "OBSERVED", facts: { problems: null, service: "httpbin", serviceHolder: null } })
    assert.strictEqual(free.value, "Valid")
    assert.isNull(free.context.lastError)
  })

  it("keeps lastError bounded however many problems there are", () => {
    const [s] = transition(validationMachine, from(validationMachine, "Pending", { lastError: null }), {
      type: "OBSERVED",
      facts: { problems: "x".repeat(100_000), service: null, serviceHolder: null }
    })
    assert.isAtMost(s.context.lastError!.length, MAX_MESSAGE)
  })
})

describe("authentication machine", () => {
  it("writes the children when they are not as planned, and the server's answer makes them Created", () => {
    const [applying, intents] = observeAuth(authFacts())
    assert.strictEqual(applying.value, "Applying")
    assert.deepStrictEqual(intents.map((a) => a.type), ["applyAuthentication"])
    const [created] = transition(authenticationMachine, applying, { type: "APPLIED", resource: ref })
    assert.strictEqual(created.value, "Created")
    assert.deepStrictEqual(created.context.resource, ref)
  })

  it("a retryable write failure is InProgress with the error; a permanent one is Error", () => {
    const [applying] = observeAuth(authFacts())
    const [retrying] = transition(authenticationMachine, applying, { type: "WRITE_FAILED", message: "503", retryable: true })
    assert.strictEqual(retrying.value, "InProgress")
    assert.strictEqual(retrying.context.lastError, "503 (will retry)")
    const [failed] = transition(authenticationMachine, applying, { type: "WRITE_FAILED", message: "denied", retryable: false })
    assert.strictEqual(failed.value, "Error")
  })

  it("children as planned are Created without a write", () => {
    const [s, intents] = observeAuth(authFacts({ own: ref, upToDate: true }), "InProgress")
    assert.strictEqual(s.value, "Created")
    assert.deepStrictEqual(intents, [])
  })

  it("authentication turned off removes ours (Removing, then Disabled); with none left it is Disabled", () => {
    const [removing, intents] = observeAuth(authFacts({ wanted: false, own: ref }), "Created")
    assert.strictEqual(removing.value, "Removing")
    assert.deepStrictEqual(intents.map((a) => a.type), ["removeAuthentication"])
    const [gone] = transition(authenticationMachine, removing, { type: "REMOVED" })
    assert.strictEqual(gone.value, "Disabled")
    assert.strictEqual(observeAuth(authFacts({ wanted: false }))[0].value, "Disabled")
  })

  it("an unusable target Service is Error naming it, without a write", () => {
    const [s, intents] = observeAuth(authFacts({ targetProblem: "Service ns/x does not exist" }))
    assert.strictEqual(s.value, "Error")
    assert.strictEqual(s.context.lastError, "Service ns/x does not exist")
    assert.deepStrictEqual(intents, [])
  })

  it("a blocked spec keeps what exists, and writes nothing", () => {
    assert.strictEqual(observeAuth(authFacts({ specUsable: false, own: ref }))[0].value, "Created")
    assert.strictEqual(observeAuth(authFacts({ specUsable: false }))[0].value, "NotCreated")
    assert.strictEqual(observeAuth(authFacts({ hostnameTaken: true, wanted: false }))[0].value, "Disabled")
    assert.deepStrictEqual(observeAuth(authFacts({ specUsable: false }))[1], [])
  })

  it("a state waiting for the server's answer takes no new observation", () => {
    const [applying] = observeAuth(authFacts())
    assert.isFalse(applying.can({ type: "OBSERVED", facts: authFacts() }))
  })
})

describe("VirtualService machine", () => {
  it("writes the VirtualService when it is not as planned; the answer confirms it in the same pass", () => {
    const [applying, intents] = observeVs(vsFacts())
    assert.strictEqual(applying.value, "Applying")
    assert.deepStrictEqual(intents.map((a) => a.type), ["applyVirtualService"])
    const [created] = transition(virtualServiceMachine, applying, { type: "APPLIED", resource: ref })
    assert.strictEqual(created.value, "Created")
    assert.deepStrictEqual(created.context.resource, ref)
  })

  it("secure before expose: while authentication is retried it waits (InProgress), when it is missing nothing is exposed (NotCreated)", () => {
    for (const authentication of ["InProgress"] as const) {
      const [s, intents] = observeVs(vsFacts({ authentication }))
      assert.strictEqual(s.value, "InProgress")
      assert.include(s.context.lastError ?? "", "waiting for authentication")
      assert.deepStrictEqual(intents, [], "no write")
    }
    for (const authentication of ["NotCreated", "Error"] as const) {
      const [s, intents] = observeVs(vsFacts({ authentication, own: ref, upToDate: true }), "Created")
      assert.strictEqual(s.value, "NotCreated")
      assert.deepStrictEqual(intents, [], "no write")
    }
  })

  it("an older VirtualService on the host withdraws ours at once; the answer makes it HostnameOccupied", () => {
    const [withdrawing, intents] = observeVs(vsFacts({ hostHolder: "other/holder", own: ref, upToDate: true }), "Created")
    assert.strictEqual(withdrawing.value, "Withdrawing")
    assert.deepStrictEqual(intents.map((a) => a.type), ["withdrawVirtualService"])
    const [occupied] = transition(virtualServiceMachine, withdrawing, { type: "REMOVED" })
    assert.strictEqual(occupied.value, "HostnameOccupied")
    assert.strictEqual(occupied.context.lastError, "hostname a.kyma.local is already used by VirtualService other/holder")
    assert.isNull(occupied.context.resource)
    const [failed] = transition(virtualServiceMachine, withdrawing, { type: "WRITE_FAILED", message: "503", retryable: true })
    assert.strictEqual(failed.value, "HostnameOccupied", "still 4, with the failed withdrawal said")
    assert.include(failed.context.lastError ?? "", "withdrawing our VirtualService failed: 503")
  })

  it("a taken hostname without a VirtualService of ours is HostnameOccupied at once", () => {
    const [s, intents] = observeVs(vsFacts({ hostHolder: "other/holder" }))
    assert.strictEqual(s.value, "HostnameOccupied")
    assert.deepStrictEqual(intents, [])
  })

  it("a blocked spec keeps the last good VirtualService serving as Created; without one it is NotCreated", () => {
    assert.strictEqual(observeVs(vsFacts({ specUsable: false, own: ref }), "Created")[0].value, "Created")
    assert.strictEqual(observeVs(vsFacts({ specUsable: false }))[0].value, "NotCreated")
  })

  it("an object we do not own under our name is Error, and is not written", () => {
    const [s, intents] = observeVs(vsFacts({ foreign: "VirtualService ns/a" }))
    assert.strictEqual(s.value, "Error")
    assert.include(s.context.lastError ?? "", "not managed by this Api")
    assert.deepStrictEqual(intents, [])
  })

  it("keeps a write's error bounded", () => {
    const [applying] = observeVs(vsFacts())
    const [failed] = transition(virtualServiceMachine, applying, { type: "WRITE_FAILED", message: "x".repeat(50_000), retryable: false })
    assert.isAtMost(failed.context.lastError!.length, MAX_MESSAGE)
  })
})

describe("secure before expose, over every combination of facts (SPEC 5)", () => {
  const bools = [true, false]
  const refs = [null, ref]
  const strings = [null, "x"]

  it("an Api that asks for authentication never has a Created VirtualService while its authentication is not Created", () => {
    // 1. Every state the authentication machine can end a pass in, for an Api that asks for
    //    authentication: from every stored state, every combination of facts, every answer to its write.
    const reachable = new Set<string>() // `${specUsable}|${state}`
    for (const state of storedStates("authentication")) {
      for (const specUsable of bools) for (const hostnameTaken of bools) for (const own of refs) for (const foreign of strings) {
        for (const targetProblem of strings) for (const upToDate of bools) {
          const [observed] = observeAuth({ specUsable, hostnameTaken, wanted: true, own, foreign, targetProblem, upToDate }, state)
          const settled = isTransient("authentication", String(observed.value))
            ? [
              transition(authenticationMachine, observed, { type: "APPLIED", resource: ref })[0],
              transition(authenticationMachine, observed, { type: "WRITE_FAILED", message: "m", retryable: true })[0],
              transition(authenticationMachine, observed, { type: "WRITE_FAILED", message: "m", retryable: false })[0]
            ]
            : [observed]
          for (const auth of settled) reachable.add(`${specUsable}|${String(auth.value)}`)
        }
      }
    }
    assert.sameMembers([...reachable], [
      "false|Created", // blocked spec, ours kept
      "false|NotCreated",
      "true|Created",
      "true|NotCreated", // hostname taken, none of ours
      "true|InProgress",
      "true|Error"
    ], "authentication asked for is never Disabled")

    // 2. The VirtualService machine after each of them, from every stored state, with every
    //    combination of its own facts and a successful write.
    let checked = 0
    for (const r of reachable) {
      const [usable, authState] = r.split("|") as [string, string]
      for (const vsState of storedStates("virtualService")) {
        for (const own of refs) for (const hostHolder of strings) for (const foreign of strings) for (const upToDate of bools) {
          const [vs] = observeVs(
            vsFacts({ specUsable: usable === "true", hostHolder, own, foreign, upToDate, authentication: authState as never }),
            vsState
          )
          const final = isTransient("virtualService", String(vs.value))
            ? transition(virtualServiceMachine, vs, { type: "APPLIED", resource: ref })[0]
            : vs
          if (final.value === "Created") assert.strictEqual(authState, "Created", JSON.stringify({ r, vsState, own, hostHolder }))
          checked++
        }
      }
    }
    assert.strictEqual(checked, reachable.size * storedStates("virtualService").length * 16)
  })
})
