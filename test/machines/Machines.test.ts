/**
 * The machines' rules, stepped with xstate's pure transition function: the intents each
 * observation emits, and what the machines refuse. (Every transition is also replayed against
 * the reconciler in ModelBased.test.ts.)
 */
import { assert, describe, it } from "@effect/vitest"
import { initialTransition, transition } from "xstate"
import { policyCodes, policyMachine } from "../../machines/PolicyMachine.ts"
import { validationCodes, validationMachine } from "../../machines/ValidationMachine.ts"
import { virtualServiceCodes, virtualServiceMachine } from "../../machines/VirtualServiceMachine.ts"

const empty = { lastError: null, resource: null }
const ref = { name: "a", uid: "u1", version: "7" }

describe("lifecycle machines", () => {
  it("start in the state that projects to code 0", () => {
    assert.strictEqual(virtualServiceCodes.codeOf(initialTransition(virtualServiceMachine, empty)[0].value as never), 0)
    assert.strictEqual(policyCodes.codeOf(initialTransition(policyMachine, empty)[0].value as never), 0)
    assert.strictEqual(validationCodes.codeOf(initialTransition(validationMachine, { lastError: null })[0].value as never), 0)
  })

  it("map every state to one code and back", () => {
    for (const table of [virtualServiceCodes, policyCodes, validationCodes]) {
      for (const [state, code] of Object.entries(table.codes)) assert.strictEqual(table.stateOf(code as number), state)
    }
    assert.deepStrictEqual(Object.values(virtualServiceCodes.codes).sort(), [0, 1, 2, 3, 4])
    assert.deepStrictEqual(Object.values(policyCodes.codes).sort(), [0, 1, 2, 3])
    assert.deepStrictEqual(Object.values(validationCodes.codes).sort(), [0, 2, 3, 5])
  })

  it("treat an unknown stored code as the initial state", () => {
    assert.strictEqual(virtualServiceCodes.stateOf(42), "NotCreated")
    assert.strictEqual(validationCodes.stateOf(undefined), "Pending")
  })

  it("ask for a VirtualService write when the child is out of sync, and only then", () => {
    const created = virtualServiceMachine.resolveState({ value: "Created", context: { lastError: null, resource: ref } })
    const [next, actions] = transition(virtualServiceMachine, created, { type: "OUT_OF_SYNC" })
    assert.strictEqual(next.value, "InProgress")
    assert.deepStrictEqual(actions.map((a) => a.type), ["applyVirtualService"])
    assert.isNull(next.context.resource, "a child being rewritten has no stable version")
    const [, quiet] = transition(virtualServiceMachine, created, { type: "IN_SYNC", resource: ref })
    assert.deepStrictEqual(quiet.map((a) => a.type), [])
  })

  it("keep a blocked Api's existing VirtualService reported as created", () => {
    const [s] = transition(virtualServiceMachine, initialTransition(virtualServiceMachine, empty)[0], {
      type: "SPEC_BLOCKED",
      existing: ref
    })
    assert.strictEqual(s.value, "Created")
    assert.deepStrictEqual(s.context.resource, ref)
  })

  it("name the holder of a taken hostname", () => {
    const [s] = transition(virtualServiceMachine, initialTransition(virtualServiceMachine, empty)[0], {
      type: "HOSTNAME_OCCUPIED",
      fqdn: "a.kyma.local",
      holder: "ns/holder",
      existing: null
    })
    assert.strictEqual(s.value, "HostnameOccupied")
    assert.strictEqual(s.context.lastError, "hostname a.kyma.local is already used by VirtualService ns/holder")
  })

  it("stay in progress on a retryable write failure and fail on a permanent one", () => {
    const inProgress = virtualServiceMachine.resolveState({ value: "InProgress", context: empty })
    const [retry] = transition(virtualServiceMachine, inProgress, { type: "APPLY_FAILED", message: "timeout", retryable: true })
    assert.strictEqual(retry.value, "InProgress")
    assert.strictEqual(retry.context.lastError, "timeout (will retry)")
    const [failed] = transition(virtualServiceMachine, inProgress, { type: "APPLY_FAILED", message: "forbidden", retryable: false })
    assert.strictEqual(failed.value, "Error")
    assert.strictEqual(failed.context.lastError, "forbidden")
  })

  it("ignore a write failure outside InProgress (no write was asked for)", () => {
    const created = policyMachine.resolveState({ value: "Created", context: { lastError: null, resource: ref } })
    const [s] = transition(policyMachine, created, { type: "APPLY_FAILED", message: "x", retryable: false })
    assert.strictEqual(s, created)
  })

  it("delete leftover authentication when it is turned off, and forget its resource", () => {
    const created = policyMachine.resolveState({ value: "Created", context: { lastError: null, resource: ref } })
    const [s, actions] = transition(policyMachine, created, { type: "DISABLED_LEFTOVER" })
    assert.strictEqual(s.value, "InProgress")
    assert.deepStrictEqual(actions.map((a) => a.type), ["deleteAuthentication"])
    assert.isNull(s.context.resource)
    const [gone] = transition(policyMachine, s, { type: "DISABLED" })
    assert.strictEqual(gone.value, "NotCreated")
  })

  it("recover validation from any state when the facts change", () => {
    const occupied = validationMachine.resolveState({ value: "TargetServiceOccupied", context: { lastError: "x" } })
    const [valid] = transition(validationMachine, occupied, { type: "SPEC_VALID" })
    assert.strictEqual(valid.value, "Valid")
    assert.isNull(valid.context.lastError)
  })
})
