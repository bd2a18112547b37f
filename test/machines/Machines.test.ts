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
  storedStates,
  warningOf
} from "../../machines/Catalog.ts"
import { MAX_MESSAGE } from "../../machines/Child.ts"
import { validationMachine } from "../../machines/ValidationMachine.ts"
import { type VirtualServiceFacts, virtualServiceMachine } from "../../machines/VirtualServiceMachine.ts"

const empty = { lastError: null, resource: null }
const ref = { name: "a", uid: "u1", version: "7" }

const vsFacts = (over: Partial<VirtualServiceFacts> = {}): VirtualServiceFacts => ({
  specUsable: true,
  serviceLost: false,
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
  serviceLost: false,
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

  it("maps each stored state to one code and back; a state sharing a code is told apart by its warning condition", () => {
    assert.deepStrictEqual(storedStates("validation").map((s) => codeOf("validation", s)), [0, 2, 2, 3, 5])
    assert.deepStrictEqual(storedStates("authentication").map((s) => codeOf("authentication", s)), [null, 0, 1, 2, 3])
    assert.deepStrictEqual(storedStates("virtualService").map((s) => codeOf("virtualService", s)), [0, 1, 2, 3, 4])
    for (const name of MACHINE_NAMES) {
      for (const state of storedStates(name)) {
        const w = warningOf(name, state)
        const conditions = new Set(w !== undefined ? [w.condition] : [])
        assert.strictEqual(stateForCode(name, codeOf(name, state) ?? undefined, conditions), state, `${name}.${state}`)
      }
    }
    assert.strictEqual(stateForCode("validation", 2), "Valid", "without the warning condition, code 2 is Valid")
    assert.strictEqual(stateForCode("validation", 2, new Set(["WorkloadIsolated"])), "Shared")
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
      facts: { problems: "spec.hostname: bad", service: "httpbin", serviceHolder: "ns/older", sharing: null }
    })
    assert.strictEqual(s.value, "Invalid")
    assert.strictEqual(s.context.lastError, "spec.hostname: bad")
  })

  it("a Service held by an older Api is TargetServiceOccupied naming it; a free one is Valid", () => {
    const pending = from(validationMachine, "Pending", { lastError: null })
    const [taken] = transition(validationMachine, pending, {
      type: "OBSERVED",
      facts: { problems: null, service: "httpbin", serviceHolder: "ns/older", sharing: "shared" }
    })
    assert.strictEqual(taken.value, "TargetServiceOccupied")
    assert.include(taken.context.lastError ?? "", "service httpbin is already exposed by Api ns/older")
    const [free] = transition(validationMachine, taken, { type: "OBSERVED", facts: { problems: null, service: "httpbin", serviceHolder: null, sharing: null } })
    assert.strictEqual(free.value, "Valid")
    assert.isNull(free.context.lastError)
  })

  it("a valid Api whose workload an older Api shares in a way Istio cannot keep apart is Shared: code 2, Ready, with a warning", () => {
    const [s] = transition(validationMachine, from(validationMachine, "Valid", { lastError: null }), {
      type: "OBSERVED",
      facts: { problems: null, service: "orders", serviceHolder: null, sharing: "Istio cannot keep this Api apart from Api ns/a" }
    })
    assert.strictEqual(s.value, "Shared")
    assert.strictEqual(s.context.lastError, "Istio cannot keep this Api apart from Api ns/a")
    assert.strictEqual(codeOf("validation", "Shared"), 2)
    assert.strictEqual(readinessOf("validation", "Shared").kind, "ready")
    assert.deepStrictEqual(warningOf("validation", "Shared"), { condition: "WorkloadIsolated", reason: "WorkloadShared" })
    const [apart] = transition(validationMachine, s, { type: "OBSERVED", facts: { problems: null, service: "orders", serviceHolder: null, sharing: null } })
    assert.strictEqual(apart.value, "Valid")
    assert.isNull(apart.context.lastError)
  })

  it("keeps lastError bounded however many problems there are", () => {
    const [s] = transition(validationMachine, from(validationMachine, "Pending", { lastError: null }), {
      type: "OBSERVED",
      facts: { problems: "x".repeat(100_000), service: null, serviceHolder: null, sharing: null }
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
    const [retrying] = transition(authenticationMachine, applying, { type: "WRITE_FAILED", message: "503", reason: "transient" })
    assert.strictEqual(retrying.value, "InProgress")
    assert.strictEqual(retrying.context.lastError, "503 (will retry)")
    const [failed] = transition(authenticationMachine, applying, { type: "WRITE_FAILED", message: "denied", reason: "permanent" })
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

  it("an Api that lost its Service withdraws ours (Withdrawing, then NotCreated), through the removal intent", () => {
    const [withdrawing, intents] = observeAuth(authFacts({ specUsable: false, serviceLost: true, own: ref }), "Created")
    assert.strictEqual(withdrawing.value, "Withdrawing")
    assert.deepStrictEqual(intents.map((a) => a.type), ["removeAuthentication"])
    const [gone] = transition(authenticationMachine, withdrawing, { type: "REMOVED" })
    assert.strictEqual(gone.value, "NotCreated")
    assert.isNull(gone.context.resource)
    const [retrying] = transition(authenticationMachine, withdrawing, { type: "WRITE_FAILED", message: "503", reason: "transient" })
    assert.strictEqual(retrying.value, "InProgress")
    // Authentication off as well: Removing, then Disabled.
    const [removing] = observeAuth(authFacts({ specUsable: false, serviceLost: true, wanted: false, own: ref }), "Created")
    assert.strictEqual(removing.value, "Removing")
    // Lost, and an invalid spec too: the lost conflict still withdraws.
    assert.strictEqual(observeAuth(authFacts({ specUsable: false, serviceLost: true, own: ref, hostnameTaken: true }), "Created")[0].value, "Withdrawing")
    // Nothing of ours left: NotCreated, no write.
    const [none, noIntents] = observeAuth(authFacts({ specUsable: false, serviceLost: true }), "Created")
    assert.strictEqual(none.value, "NotCreated")
    assert.deepStrictEqual(noIntents, [])
  })

  it("a taken hostname creates nothing new, but keeps ours up to date: the Service is still this Api's (its isolation depends on its neighbours)", () => {
    const [applying, intents] = observeAuth(authFacts({ hostnameTaken: true, own: ref }), "Created")
    assert.strictEqual(applying.value, "Applying")
    assert.deepStrictEqual(intents.map((a) => a.type), ["applyAuthentication"])
    assert.strictEqual(observeAuth(authFacts({ hostnameTaken: true, own: ref, upToDate: true }), "Created")[0].value, "Created")
    assert.strictEqual(observeAuth(authFacts({ hostnameTaken: true }))[0].value, "NotCreated")
  })

  it("an invalid spec or a taken hostname keeps what exists, and writes nothing", () => {
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
    const [failed] = transition(virtualServiceMachine, withdrawing, { type: "WRITE_FAILED", message: "503", reason: "transient" })
    assert.strictEqual(failed.value, "HostnameOccupied", "still 4, with the failed withdrawal said")
    assert.include(failed.context.lastError ?? "", "withdrawing our VirtualService failed: 503")
  })

  it("a taken hostname without a VirtualService of ours is HostnameOccupied at once", () => {
    const [s, intents] = observeVs(vsFacts({ hostHolder: "other/holder" }))
    assert.strictEqual(s.value, "HostnameOccupied")
    assert.deepStrictEqual(intents, [])
  })

  it("an invalid spec keeps the last good VirtualService serving as Created; without one it is NotCreated", () => {
    assert.strictEqual(observeVs(vsFacts({ specUsable: false, own: ref }), "Created")[0].value, "Created")
    assert.strictEqual(observeVs(vsFacts({ specUsable: false }))[0].value, "NotCreated")
  })

  it("an Api that lost its Service withdraws its VirtualService at once (Unexposing, then NotCreated)", () => {
    const [unexposing, intents] = observeVs(vsFacts({ specUsable: false, serviceLost: true, own: ref, upToDate: true }), "Created")
    assert.strictEqual(unexposing.value, "Unexposing")
    assert.deepStrictEqual(intents.map((a) => a.type), ["withdrawVirtualService"])
    const [gone] = transition(virtualServiceMachine, unexposing, { type: "REMOVED" })
    assert.strictEqual(gone.value, "NotCreated")
    assert.isNull(gone.context.resource)
    const [retrying] = transition(virtualServiceMachine, unexposing, { type: "WRITE_FAILED", message: "503", reason: "transient" })
    assert.strictEqual(retrying.value, "InProgress")
    assert.deepStrictEqual(retrying.context.resource, ref, "still exists, and says so")
    assert.strictEqual(observeVs(vsFacts({ specUsable: false, serviceLost: true }), "Created")[0].value, "NotCreated")
  })

  it("an object we do not own under our name is Error, and is not written", () => {
    const [s, intents] = observeVs(vsFacts({ foreign: "VirtualService ns/a" }))
    assert.strictEqual(s.value, "Error")
    assert.include(s.context.lastError ?? "", "not managed by this Api")
    assert.deepStrictEqual(intents, [])
  })

  it("keeps a write's error bounded", () => {
    const [applying] = observeVs(vsFacts())
    const [failed] = transition(virtualServiceMachine, applying, { type: "WRITE_FAILED", message: "x".repeat(50_000), reason: "permanent" })
    assert.isAtMost(failed.context.lastError!.length, MAX_MESSAGE)
  })
})

/** An answer to a write, and whether the write succeeded. */
const answersTo = (intent: string) => {
  const ok = intent.startsWith("apply") ? { type: "APPLIED" as const, resource: ref } : { type: "REMOVED" as const }
  return [
    { event: ok, ok: true },
    { event: { type: "WRITE_FAILED" as const, message: "m", reason: "transient" as const }, ok: false },
    { event: { type: "WRITE_FAILED" as const, message: "m", reason: "permanent" as const }, ok: false }
  ]
}

interface PassOutcome {
  readonly auth: { readonly value: string; readonly resource: unknown }
  readonly vs: { readonly value: string; readonly resource: unknown }
  /** The pass removed (or tried to remove) the authentication children. */
  readonly removal: boolean
  /** Every write of the pass succeeded. */
  readonly succeeded: boolean
}

/**
 * Every way one pass over the two child machines can end, in the order src/lifecycle/Pass.ts runs
 * them: the authentication machine, its apply answered at once; the VirtualService machine; then
 * a removal of the authentication children, held (answered as a retryable failure, without a
 * write) while the spec asks for authentication and a VirtualService of ours is left.
 */
const passOutcomes = (
  auth: { readonly state: string; readonly facts: AuthenticationFacts },
  vsStage: (authState: string) => ReadonlyArray<{ readonly value: string; readonly resource: unknown; readonly ok: boolean }>
): ReadonlyArray<PassOutcome> => {
  const out: Array<PassOutcome> = []
  const [observed, authIntents] = observeAuth(auth.facts, auth.state)
  const removal = authIntents.some((a) => a.type === "removeAuthentication")
  const afterApply = isTransient("authentication", String(observed.value)) && !removal
    ? answersTo(authIntents[0]!.type).map((x) => ({ s: transition(authenticationMachine, observed, x.event)[0], ok: x.ok }))
    : [{ s: observed, ok: true }]
  for (const a of afterApply) {
    for (const v of vsStage(String(a.s.value))) {
      const authFinal = isTransient("authentication", String(a.s.value))
        ? auth.facts.wanted && v.resource !== null
          ? [{ s: transition(authenticationMachine, a.s, { type: "WRITE_FAILED", message: "held", reason: "transient" })[0], ok: v.ok }]
          : answersTo("remove").map((x) => ({ s: transition(authenticationMachine, a.s, x.event)[0], ok: x.ok }))
        : [{ s: a.s, ok: true }]
      for (const f of authFinal) {
        out.push({
          auth: { value: String(f.s.value), resource: f.s.context.resource },
          vs: { value: v.value, resource: v.resource },
          removal,
          succeeded: a.ok && v.ok && f.ok
        })
      }
    }
  }
  return out
}

describe("the lifecycle's invariants, over every combination of facts and answers (SPEC 5, 6)", () => {
  const bools = [true, false]
  const refs = [null, ref]
  const strings = [null, "x"]

  interface Pass {
    readonly facts: AuthenticationFacts
    readonly vsOwn: unknown
    readonly hostTaken: boolean
    readonly outcome: PassOutcome
  }
  /** Every pass: from every stored state of both machines, every consistent combination of facts (computed once). */
  const passes: Array<Pass> = []
  const vsMemo = new Map<string, ReadonlyArray<{ value: string; resource: unknown; ok: boolean }>>()
  const vsStageOf = (vsState: string, facts: Omit<VirtualServiceFacts, "authentication">) => (authState: string) => {
    const key = `${vsState}|${JSON.stringify(facts)}|${authState}`
    let r = vsMemo.get(key)
    if (r === undefined) {
      const [observed, intents] = observeVs({ ...facts, authentication: authState as never }, vsState)
      r = isTransient("virtualService", String(observed.value))
        ? answersTo(intents[0]!.type).map((x) => {
          const [s] = transition(virtualServiceMachine, observed, x.event)
          return { value: String(s.value), resource: s.context.resource, ok: x.ok }
        })
        : [{ value: String(observed.value), resource: observed.context.resource, ok: true }]
      vsMemo.set(key, r)
    }
    return r
  }
  for (const authState of storedStates("authentication")) for (const vsState of storedStates("virtualService")) {
    for (const specUsable of bools) for (const serviceLost of bools) for (const hostnameTaken of bools) for (const wanted of bools) {
      // A lost Service makes the spec unusable (validation TargetServiceOccupied or Invalid).
      if (serviceLost && specUsable) continue
      for (const own of refs) for (const targetProblem of strings) for (const upToDate of bools) for (const vsOwn of refs) for (const vsUpToDate of bools) {
        const facts: AuthenticationFacts = { specUsable, serviceLost, hostnameTaken, wanted, own, foreign: null, targetProblem, upToDate }
        const vsFacts_ = { specUsable, serviceLost, fqdn: "a.kyma.local", hostHolder: hostnameTaken ? "other/holder" : null, own: vsOwn, foreign: null, upToDate: vsUpToDate }
        for (const outcome of passOutcomes({ state: authState, facts }, vsStageOf(vsState, vsFacts_))) {
          passes.push({ facts, vsOwn, hostTaken: hostnameTaken, outcome })
        }
      }
    }
  }

  it("secure before expose: an Api that asks for authentication never ends a pass with a Created VirtualService while its authentication is not Created", () => {
    for (const p of passes) {
      if (!p.facts.wanted || p.outcome.vs.value !== "Created") continue
      assert.strictEqual(p.outcome.auth.value, "Created", JSON.stringify(p))
    }
    assert.isTrue(passes.some((p) => p.facts.wanted && p.outcome.vs.value === "Created"), "the check sees Created VirtualServices")
  })

  it("never exposed without its authentication: a pass that removes the children of an Api that asks for authentication leaves them while a VirtualService of ours is left", () => {
    let held = 0
    for (const p of passes) {
      if (!p.outcome.removal || !p.facts.wanted || p.outcome.vs.resource === null) continue
      assert.notStrictEqual(p.outcome.auth.resource, null, JSON.stringify(p))
      assert.notInclude(["NotCreated", "Disabled"], p.outcome.auth.value, JSON.stringify(p))
      held++
    }
    assert.isAbove(held, 0, "the check sees withdrawals held behind a VirtualService that could not be removed")
  })

  it("the loser withdraws: after a pass whose writes succeed, an Api in a conflict state owns no child for what it lost (code 4: no VirtualService; code 5: no VirtualService and no authentication child)", () => {
    let losers = 0
    for (const p of passes) {
      if (!p.outcome.succeeded) continue
      const where = JSON.stringify(p)
      if (p.facts.serviceLost) {
        assert.isNull(p.outcome.vs.resource, where)
        assert.include(["NotCreated", "HostnameOccupied"], p.outcome.vs.value, where)
        assert.isNull(p.outcome.auth.resource, where)
        assert.include(["NotCreated", "Disabled"], p.outcome.auth.value, where)
        if (p.facts.own !== null && p.vsOwn !== null) losers++
      }
      if (p.hostTaken) {
        assert.isNull(p.outcome.vs.resource, where)
        assert.strictEqual(p.outcome.vs.value, "HostnameOccupied", where)
      }
    }
    assert.isAbove(losers, 0, "the check sees losers with children")
  })
})
