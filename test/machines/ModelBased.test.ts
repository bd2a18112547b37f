/**
 * Model-based tests: every transition of every lifecycle machine, replayed against the
 * reconciler on the in-memory cluster (see test/support/ModelReplay.ts). Prints the coverage.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import type { AnyMachineSnapshot, EventObject } from "xstate"
import { policyCodes, policyMachine, type PolicyEvent } from "../../machines/PolicyMachine.ts"
import type { ChildContext } from "../../machines/Snapshot.ts"
import { validationCodes, validationMachine, type ValidationEvent } from "../../machines/ValidationMachine.ts"
import {
  virtualServiceCodes,
  virtualServiceMachine,
  type VirtualServiceEvent
} from "../../machines/VirtualServiceMachine.ts"
import { type ApiSpec, type GatewayResourceStatus, decodeSpec } from "../../src/domain/Api.ts"
import { Kinds, type KubeObject, objectKey } from "../../src/domain/Kube.ts"
import { Reconciler } from "../../src/controller/Reconciler.ts"
import { KubeApi, KubeApiError } from "../../src/k8s/KubeApi.ts"
import { MemoryCluster } from "../../src/k8s/MemoryCluster.ts"
import { authenticationPlan } from "../../src/plan/AuthenticationPlan.ts"
import { ownerOf, refOf } from "../../src/plan/Decide.ts"
import { desiredPolicy } from "../../src/plan/IstioPolicyBackend.ts"
import { checkSpec } from "../../src/plan/Validation.ts"
import { desiredVirtualService } from "../../src/plan/VirtualServicePlan.ts"
import { apiObject, googleJwt, testConfig } from "../support/Fixtures.ts"
import { edgeName, pathsCoveringEveryTransition, type Replayer, replayAll, transitionsOf } from "../support/ModelReplay.ts"
import { memoryWorld, statusOf } from "../support/World.ts"

const NS = "mbt"
const NAME = "api"
const KEY = objectKey(NS, NAME)
const FQDN = "mbt-api.kyma.local"
const HOLDER_NS = "other"
const HOLDER = "holder"

const validSpec = {
  service: { name: "httpbin", port: 8000 },
  hostname: "mbt-api",
  authenticationEnabled: true,
  authentication: [googleJwt]
}
const invalidSpec = { ...validSpec, hostname: "mbt-api.example.com" }
const authOffSpec = { ...validSpec, authenticationEnabled: false }

const invalidMessage = (() => {
  const r = checkSpec(invalidSpec, NS, testConfig)
  if (Result.isSuccess(r)) throw new Error("invalidSpec must be invalid")
  return r.failure
})()

const injectedMessage = (verb: string, plural: string, reason: "ServerError" | "Forbidden") =>
  new KubeApiError({ reason, operation: `${verb} ${plural} ${NS}/${NAME}`, detail: `injected fault (${reason})` }).message

const fakeRef = { name: NAME, uid: "model-uid", version: "1" }

// --- world helpers -----------------------------------------------------------------------------

type AnyKind = typeof Kinds[keyof typeof Kinds]

const getOrUndefined = (kind: AnyKind, namespace: string, name: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    return yield* kube.get(kind, namespace, name).pipe(
      Effect.catchIf((e) => e.reason === "NotFound", () => Effect.succeed(undefined))
    )
  })

const remove = (kind: AnyKind, namespace: string, name: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    yield* kube.delete(kind, namespace, name).pipe(Effect.catchIf((e) => e.reason === "NotFound", () => Effect.void))
  })

const currentApi = Effect.gen(function*() {
  const kube = yield* KubeApi
  return yield* kube.get(Kinds.Api, NS, NAME)
})

const setSpec = (spec: object) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const api = yield* currentApi
    yield* kube.replace(Kinds.Api, { ...api, spec })
  })

const decodedValid = (): ApiSpec => {
  const r = decodeSpec(validSpec)
  if (Result.isFailure(r)) throw new Error("validSpec must decode")
  return r.success
}

/** Our child, exactly as the plan wants it, created or restored by hand. */
const ensureOwnedChild = (which: "virtualService" | "policy") =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const api = yield* currentApi
    const owner = ownerOf(api as never)
    const spec = decodedValid()
    const desired: KubeObject = which === "virtualService"
      ? desiredVirtualService(owner, spec, testConfig)
      : desiredPolicy(owner, authenticationPlan(spec, testConfig)!)
    const kind = which === "virtualService" ? Kinds.VirtualService : Kinds.Policy
    const existing = yield* getOrUndefined(kind, NS, NAME)
    if (existing === undefined) yield* kube.create(kind, desired)
    else yield* kube.replace(kind, { ...existing, metadata: { ...existing.metadata, ...desired.metadata }, spec: desired["spec"] })
  })

const clearForeign = Effect.gen(function*() {
  yield* remove(Kinds.VirtualService, HOLDER_NS, HOLDER)
  yield* remove(Kinds.Api, NS, "aaa-holder")
  const vs = yield* getOrUndefined(Kinds.VirtualService, NS, NAME)
  if (vs !== undefined && vs.metadata.labels?.["createdBy"] !== "api-controller") yield* remove(Kinds.VirtualService, NS, NAME)
  const p = yield* getOrUndefined(Kinds.Policy, NS, NAME)
  if (p !== undefined && p.metadata.labels?.["createdBy"] !== "api-controller") yield* remove(Kinds.Policy, NS, NAME)
  const cluster = yield* MemoryCluster
  yield* cluster.clearFaults
})

const foreignChild = (kind: typeof Kinds.VirtualService | typeof Kinds.Policy) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    yield* kube.create(kind, {
      apiVersion: `${kind.group}/${kind.version}`,
      kind: kind.kind,
      metadata: { name: NAME, namespace: NS },
      spec: kind === Kinds.VirtualService ? { hosts: ["somebody-else.kyma.local"] } : { targets: [{ name: "x" }] }
    })
  })

const hostnameHolder = Effect.gen(function*() {
  const kube = yield* KubeApi
  yield* kube.create(Kinds.VirtualService, {
    apiVersion: "networking.istio.io/v1alpha3",
    kind: "VirtualService",
    metadata: { name: HOLDER, namespace: HOLDER_NS },
    spec: { hosts: [FQDN.toUpperCase()] }
  })
})

const serviceHolder = Effect.gen(function*() {
  const kube = yield* KubeApi
  yield* kube.create(Kinds.Api, apiObject(NS, "aaa-holder", { service: { name: "httpbin", port: 80 }, hostname: "elsewhere" }))
})

const injectFault = (plural: string, reason: "ServerError" | "Forbidden") =>
  Effect.gen(function*() {
    const cluster = yield* MemoryCluster
    yield* cluster.injectFault({ verb: "create", plural, reason })
  })

const setup = Effect.gen(function*() {
  const kube = yield* KubeApi
  yield* kube.create(Kinds.Api, apiObject(NS, NAME, validSpec))
})

const pass = Effect.gen(function*() {
  const reconciler = yield* Reconciler
  yield* Effect.ignore(reconciler.reconcile(KEY))
})

// --- checks ----------------------------------------------------------------------------------

const checkChild = (
  actual: GatewayResourceStatus | undefined,
  code: number,
  context: ChildContext,
  child: KubeObject | undefined,
  where: string
) => {
  assert.strictEqual(actual?.code ?? 0, code, `${where}: code`)
  assert.strictEqual(actual?.lastError ?? null, context.lastError, `${where}: lastError`)
  if (context.resource === null) assert.isUndefined(actual?.resource, `${where}: no resource expected`)
  else {
    assert.isDefined(child, `${where}: the child must exist`)
    assert.deepStrictEqual(actual?.resource, refOf(child!), `${where}: resource names the real child`)
  }
}

const coverage: Array<string> = []

const runMachine = <E extends EventObject>(
  name: string,
  machine: Parameters<typeof pathsCoveringEveryTransition>[0],
  input: unknown,
  events: ReadonlyArray<E>,
  replayer: Replayer<KubeApi | MemoryCluster | Reconciler>
) =>
  Effect.gen(function*() {
    const paths = pathsCoveringEveryTransition(machine, input, events)
    const all = transitionsOf(machine, input, events).map(edgeName)
    const covered = yield* replayAll(paths, replayer, (e) => Effect.provide(e, memoryWorld()))
    const missing = all.filter((t) => !covered.has(t))
    coverage.push(`${name}: ${covered.size}/${all.length} transitions covered by ${paths.length} replayed paths`)
    console.log(coverage[coverage.length - 1])
    assert.deepStrictEqual(missing, [], "every transition is replayed")
    return covered.size
  })

describe("model-based: every machine transition, replayed against the reconciler", () => {
  it.effect("validation machine", () => {
    const events: ReadonlyArray<ValidationEvent> = [
      { type: "SPEC_VALID" },
      { type: "SPEC_INVALID", message: invalidMessage },
      { type: "SERVICE_OCCUPIED", service: "httpbin", holder: `${NS}/aaa-holder` }
    ]
    return runMachine("validation", validationMachine, { lastError: null }, events, {
      setup,
      pass,
      drive: (event) =>
        Effect.gen(function*() {
          yield* clearForeign
          const e = event as ValidationEvent
          if (e.type === "SPEC_INVALID") yield* setSpec(invalidSpec)
          else yield* setSpec(validSpec)
          if (e.type === "SERVICE_OCCUPIED") yield* serviceHolder
        }),
      check: (state: AnyMachineSnapshot, where) =>
        Effect.gen(function*() {
          const status = yield* statusOf(KEY)
          assert.strictEqual(status.validationStatus, validationCodes.codeOf(state.value as never), `${where}: code`)
          assert.strictEqual(status.lastError ?? null, state.context.lastError, `${where}: lastError`)
        })
    })
  })

  it.effect("VirtualService machine", () => {
    const events: ReadonlyArray<VirtualServiceEvent> = [
      { type: "SPEC_BLOCKED", existing: null },
      { type: "SPEC_BLOCKED", existing: fakeRef },
      { type: "HOSTNAME_OCCUPIED", fqdn: FQDN, holder: `${HOLDER_NS}/${HOLDER}`, existing: null },
      {
        type: "FOREIGN_OBJECT",
        message: `VirtualService ${NS}/${NAME} already exists and is not managed by this Api; delete it or rename the Api`
      },
      { type: "IN_SYNC", resource: fakeRef },
      { type: "OUT_OF_SYNC" },
      { type: "APPLY_FAILED", message: injectedMessage("create", "virtualservices", "ServerError"), retryable: true },
      { type: "APPLY_FAILED", message: injectedMessage("create", "virtualservices", "Forbidden"), retryable: false }
    ]
    return runMachine("virtualService", virtualServiceMachine, { lastError: null, resource: null }, events, {
      setup,
      pass,
      drive: (event) =>
        Effect.gen(function*() {
          yield* clearForeign
          const e = event as VirtualServiceEvent
          yield* setSpec(e.type === "SPEC_BLOCKED" ? invalidSpec : validSpec)
          const ownVsWanted = (e.type === "SPEC_BLOCKED" && e.existing !== null) || e.type === "IN_SYNC"
          if (ownVsWanted) yield* ensureOwnedChild("virtualService")
          else yield* remove(Kinds.VirtualService, NS, NAME)
          if (e.type === "HOSTNAME_OCCUPIED") yield* hostnameHolder
          if (e.type === "FOREIGN_OBJECT") yield* foreignChild(Kinds.VirtualService)
          if (e.type === "APPLY_FAILED") yield* injectFault("virtualservices", e.retryable ? "ServerError" : "Forbidden")
        }),
      check: (state: AnyMachineSnapshot, where) =>
        Effect.gen(function*() {
          const status = yield* statusOf(KEY)
          const child = yield* getOrUndefined(Kinds.VirtualService, NS, NAME)
          checkChild(status.virtualService, virtualServiceCodes.codeOf(state.value as never), state.context, child, where)
        })
    })
  })

  it.effect("Policy machine", () => {
    const events: ReadonlyArray<PolicyEvent> = [
      { type: "SPEC_BLOCKED", existing: null },
      { type: "SPEC_BLOCKED", existing: fakeRef },
      { type: "DISABLED" },
      { type: "DISABLED_LEFTOVER" },
      {
        type: "FOREIGN_OBJECT",
        message: `Policy ${NS}/${NAME} already exists and is not managed by this Api; delete it or rename the Api`
      },
      { type: "IN_SYNC", resource: fakeRef },
      { type: "OUT_OF_SYNC" },
      { type: "APPLY_FAILED", message: injectedMessage("create", "policies", "ServerError"), retryable: true },
      { type: "APPLY_FAILED", message: injectedMessage("create", "policies", "Forbidden"), retryable: false }
    ]
    return runMachine("policy", policyMachine, { lastError: null, resource: null }, events, {
      setup,
      pass,
      drive: (event) =>
        Effect.gen(function*() {
          yield* clearForeign
          const e = event as PolicyEvent
          yield* setSpec(
            e.type === "SPEC_BLOCKED" ? invalidSpec : e.type === "DISABLED" || e.type === "DISABLED_LEFTOVER" ? authOffSpec : validSpec
          )
          const ownPolicyWanted = (e.type === "SPEC_BLOCKED" && e.existing !== null) || e.type === "IN_SYNC" ||
            e.type === "DISABLED_LEFTOVER"
          if (ownPolicyWanted) yield* ensureOwnedChild("policy")
          else yield* remove(Kinds.Policy, NS, NAME)
          if (e.type === "FOREIGN_OBJECT") yield* foreignChild(Kinds.Policy)
          if (e.type === "APPLY_FAILED") yield* injectFault("policies", e.retryable ? "ServerError" : "Forbidden")
        }),
      check: (state: AnyMachineSnapshot, where) =>
        Effect.gen(function*() {
          const status = yield* statusOf(KEY)
          const child = yield* getOrUndefined(Kinds.Policy, NS, NAME)
          checkChild(status.authenticationStatus, policyCodes.codeOf(state.value as never), state.context, child, where)
        })
    })
  })

  it("prints the total transition coverage", () => {
    // Runs after the three machine tests in this file (vitest runs a file's tests in order).
    assert.strictEqual(coverage.length, 3)
    const totals = coverage.map((c) => c.match(/(\d+)\/(\d+)/)!.slice(1).map(Number) as [number, number])
    const covered = totals.reduce((s, [c]) => s + c, 0)
    const total = totals.reduce((s, [, t]) => s + t, 0)
    console.log(`model-based coverage: ${covered}/${total} transitions (${((covered / total) * 100).toFixed(0)}%)`)
    assert.strictEqual(covered, total)
  })
})
