/**
 * The world side of model-based replay (test/support/ModelReplay.ts), written once for every
 * cluster: for each sample event of each machine, how to arrange the cluster so that the next
 * reconcile pass observes exactly those facts and its writes get exactly that answer, and how to
 * check that the persisted status is the projection of the machine's state. The in-memory tier
 * (test/machines/ModelBased.test.ts) and the real API server (test/cluster/ModelBased.test.ts)
 * replay the same paths with it.
 *
 * Each path runs in a namespace of its own; names that depend on it are written `{ns}` in the
 * samples and filled in when checked. The Api under test is `{ns}/api`, its host `{ns}.kyma.local`.
 */
import { assert } from "@effect/vitest"
import { Effect, Layer, Result } from "effect"
import type { AnyMachineSnapshot, AnyStateMachine, EventObject } from "xstate"
import type { AuthenticationFacts } from "../../machines/AuthenticationMachine.ts"
import { catalog, isTransient, type MachineName, stateForCode } from "../../machines/Catalog.ts"
import type { ChildContext } from "../../machines/Child.ts"
import type { ValidationFacts } from "../../machines/ValidationMachine.ts"
import type { VirtualServiceFacts } from "../../machines/VirtualServiceMachine.ts"
import { ClusterView } from "../../src/controller/ClusterView.ts"
import { Reconciler } from "../../src/controller/Reconciler.ts"
import { Settings } from "../../src/controller/Settings.ts"
import { type GatewayResourceStatus, decodeStatus } from "../../src/domain/Api.ts"
import { Kinds, type KubeObject, objectKey, type ResourceKind } from "../../src/domain/Kube.ts"
import { EventRecorder } from "../../src/k8s/EventRecorder.ts"
import { KubeApi, type KubeApiErrorReason, orAbsent } from "../../src/k8s/KubeApi.ts"
import { ownerOf, refOf, targetProblemText } from "../../src/lifecycle/Observation.ts"
import { type AuthenticationBackend, childName } from "../../src/plan/AuthenticationBackend.ts"
import { authenticationPlan } from "../../src/plan/AuthenticationPlan.ts"
import { checkSpec } from "../../src/plan/Validation.ts"
import { desiredVirtualService } from "../../src/plan/VirtualServicePlan.ts"
import { workloadOf } from "../../src/plan/Workload.ts"
import { ALL_AUTHENTICATION_KINDS } from "../../src/plan/Backends.ts"
import { faultError, Faults } from "./Faults.ts"
import { googleJwt, testConfig } from "./Fixtures.ts"
import { edgeName, pathsCoveringEveryTransition, type Replayer, replayAll, transitionsOf } from "./ModelReplay.ts"

type Ev = EventObject & { readonly sample?: string; readonly [k: string]: unknown }

const NAME = "api"
const HOLDER = "aaa-holder" // sorts before NAME: wins a same-second tie on age (SPEC 6)
const NEIGHBOUR = "aaa-neighbour" // older too: an Api on another Service, which may select the same pods (SPEC 10)
const SERVICE = "httpbin"
const SHARED_SERVICE = "httpbin-public"
const ref = { name: NAME, uid: "sample-uid", version: "1" }

// --- specs -------------------------------------------------------------------------------------

const validSpec = (ns: string) => ({
  service: { name: SERVICE, port: 8000 },
  hostname: ns,
  authentication: [googleJwt]
})
/** Invalid for a reason no admission rule catches: the same issuer with two key sets (SPEC 7). */
const invalidSpec = (ns: string, authenticationEnabled = true) => ({
  ...validSpec(ns),
  authenticationEnabled,
  authentication: [googleJwt, { type: "JWT", jwt: { ...googleJwt.jwt, jwksUri: "https://other.example.com/keys" } }]
})
const authOffSpec = (ns: string) => ({ ...validSpec(ns), authenticationEnabled: false })

const invalidMessage = (() => {
  const r = checkSpec(invalidSpec("x"), "x", testConfig)
  if (Result.isSuccess(r)) throw new Error("invalidSpec must be invalid")
  return r.failure
})()

const message = (verb: "create" | "replace" | "delete", kind: ResourceKind, reason: KubeApiErrorReason) =>
  faultError(verb, kind.plural, "{ns}", NAME, reason).message

// --- samples: one event per guard branch, plus the answers a write can get --------------------

/** The neighbour: an older Api without authentication on another Service selecting the same pods. */
const neighbourApi = (ns: string): KubeObject => ({
  apiVersion: "gateway.kyma-project.io/v1alpha2",
  kind: "Api",
  metadata: { name: NEIGHBOUR, namespace: ns, uid: "neighbour-uid", creationTimestamp: "2020-01-01T00:00:00Z" },
  spec: { service: { name: SHARED_SERVICE, port: 80 }, hostname: `public-${ns}` }
})
const serviceObject = (ns: string, name: string, selector: Record<string, string> | undefined): KubeObject => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: ns },
  spec: { ...(selector !== undefined ? { selector } : {}), ports: [{ port: 80 }] }
})
/** What the Api reports while the neighbour shares its pods, as plan/Workload.ts words it. */
const sharingMessage = (() => {
  const ns = "placeholder" // a valid namespace for the spec; "{ns}" in the message
  const self: KubeObject = {
    apiVersion: "gateway.kyma-project.io/v1alpha2",
    kind: "Api",
    metadata: { name: NAME, namespace: ns, uid: "self-uid", creationTimestamp: "2030-01-01T00:00:00Z" },
    spec: validSpec(ns)
  }
  const w = workloadOf(self, { app: SERVICE }, [{ service: serviceObject(ns, SHARED_SERVICE, { app: SERVICE }), apis: [neighbourApi(ns)] }], testConfig)
  if (w.sharing === null) throw new Error("the neighbour must share the pods in a way Istio cannot keep apart")
  return w.sharing.replaceAll(ns, "{ns}")
})()

const validation = (facts: ValidationFacts, sample: string): Ev => ({ type: "OBSERVED", facts, sample })
const validationSamples = (backend: AuthenticationBackend): ReadonlyArray<Ev> => [
  validation({ problems: invalidMessage, service: SERVICE, serviceHolder: null, sharing: null }, "invalid"),
  validation({ problems: null, service: SERVICE, serviceHolder: `{ns}/${HOLDER}`, sharing: null }, "occupied"),
  ...(backend.selectsWorkload ? [validation({ problems: null, service: SERVICE, serviceHolder: null, sharing: sharingMessage }, "shared")] : []),
  validation({ problems: null, service: SERVICE, serviceHolder: null, sharing: null }, "valid")
]

const auth = (over: Partial<AuthenticationFacts>, sample: string): Ev => ({
  type: "OBSERVED",
  sample,
  facts: { specUsable: true, serviceLost: false, hostnameTaken: false, wanted: true, own: null, foreign: null, targetProblem: null, upToDate: false, ...over }
})
const authenticationSamples = (backend: AuthenticationBackend): ReadonlyArray<Ev> => [
  auth({ specUsable: false, serviceLost: true, own: ref }, "withdraw"),
  auth({ specUsable: false, serviceLost: true, wanted: false, own: ref }, "lost-off"),
  auth({ specUsable: false, own: ref }, "keep"),
  auth({ specUsable: false }, "blocked"),
  auth({ specUsable: false, wanted: false }, "blocked-off"),
  auth({ wanted: false, own: ref }, "remove"),
  auth({ wanted: false }, "off"),
  ...(backend.selectsWorkload ? [auth({ targetProblem: targetProblemText("{ns}", SERVICE, "missing") }, "target")] : []),
  auth({ foreign: `${backend.kinds[0]!.kind} {ns}/${NAME}` }, "foreign"),
  auth({ own: ref, upToDate: true }, "up-to-date"),
  auth({}, "apply"),
  { type: "APPLIED", resource: ref },
  { type: "REMOVED" },
  { type: "WRITE_FAILED", message: "{failure}", reason: "transient", sample: "ServerError" },
  { type: "WRITE_FAILED", message: "{failure}", reason: "permanent", sample: "Forbidden" }
]

const vs = (over: Partial<VirtualServiceFacts>, sample: string): Ev => ({
  type: "OBSERVED",
  sample,
  facts: {
    specUsable: true,
    serviceLost: false,
    fqdn: "{ns}.kyma.local",
    hostHolder: null,
    own: null,
    foreign: null,
    authentication: "Created",
    upToDate: false,
    ...over
  }
})
const virtualServiceSamples: ReadonlyArray<Ev> = [
  vs({ hostHolder: `{ns}/${HOLDER}`, own: ref, upToDate: true }, "withdraw"),
  vs({ hostHolder: `{ns}/${HOLDER}` }, "occupied"),
  vs({ specUsable: false, serviceLost: true, own: ref, upToDate: true }, "unexpose"),
  vs({ specUsable: false }, "blocked"),
  vs({ authentication: "InProgress" }, "auth-retrying"),
  vs({ authentication: "Error" }, "auth-failed"),
  vs({ specUsable: false, own: ref }, "keep"),
  vs({ foreign: `VirtualService {ns}/${NAME}` }, "foreign"),
  vs({ own: ref, upToDate: true }, "up-to-date"),
  vs({}, "apply"),
  { type: "APPLIED", resource: ref },
  { type: "REMOVED" },
  { type: "WRITE_FAILED", message: "{failure}", reason: "transient", sample: "ServerError" },
  { type: "WRITE_FAILED", message: "{failure}", reason: "permanent", sample: "Forbidden" }
]

// --- the world ---------------------------------------------------------------------------------

export type ModelEnv = KubeApi | Faults | Reconciler

/** The reconciler the replay drives: fresh settings per world, faults injectable. */
export const modelWorldLayer = (backend: AuthenticationBackend) =>
  Layer.fresh(Reconciler.layer).pipe(
    Layer.provideMerge(Layer.mergeAll(
      ClusterView.layerDirect,
      EventRecorder.layerTest,
      Settings.layer(testConfig, {
        backend,
        authenticationKinds: [...backend.kinds, ...ALL_AUTHENTICATION_KINDS.filter((k) => !backend.kinds.includes(k))]
      })
    )),
    Layer.provideMerge(Faults.layer)
  )

/**
 * Replays every transition of every machine; returns "covered/total" per machine.
 * `newNamespace` gives each path a namespace of its own; `run` runs a path in the world.
 */
export const replayEveryMachine = <R>(options: {
  readonly backend: AuthenticationBackend
  readonly newNamespace: Effect.Effect<string, unknown, R | ModelEnv>
  readonly run: <A>(effect: Effect.Effect<A, unknown, R | ModelEnv>) => Effect.Effect<A, unknown>
  readonly report: (line: string) => void
}) =>
  Effect.gen(function*() {
    const { backend } = options
    let ns = ""
    let failure = "" // the message the pass's injected fault produces
    const fill = (s: string | null) => (s === null ? null : s.replaceAll("{ns}", ns).replaceAll("{failure}", failure))

    const kube = Effect.service(KubeApi)
    const find = (kind: ResourceKind, name = NAME) =>
      Effect.flatMap(kube, (k) => orAbsent(k.get(kind, ns, name)))
    const remove = (kind: ResourceKind, name = NAME) =>
      Effect.flatMap(kube, (k) => Effect.asVoid(orAbsent(k.delete(kind, ns, name))))
    const upsert = (kind: ResourceKind, object: KubeObject) =>
      Effect.gen(function*() {
        const k = yield* kube
        const existing = yield* find(kind, object.metadata.name)
        if (existing === undefined) yield* k.create(kind, object)
        else {
          yield* k.replace(kind, {
            ...existing,
            metadata: { ...existing.metadata, ...object.metadata, resourceVersion: existing.metadata.resourceVersion ?? "" },
            spec: object["spec"]
          })
        }
      })
    const api = Effect.flatMap(kube, (k) => k.get(Kinds.Api, ns, NAME))
    const setSpec = (spec: object) => Effect.gen(function*() {
      const k = yield* kube
      yield* k.replace(Kinds.Api, { ...(yield* api), spec })
    })
    const service = (selector: Record<string, string> | undefined) =>
      upsert(Kinds.Service, { apiVersion: "v1", kind: "Service", metadata: { name: SERVICE, namespace: ns }, spec: { ...(selector !== undefined ? { selector } : {}), ports: [{ port: 80 }] } })
    const ownerNow = Effect.map(api, (a) => ownerOf(a as never))

    /** Ours, exactly as planned, created or restored by hand. */
    const ownVirtualService = Effect.gen(function*() {
      const spec = validSpec(ns)
      yield* upsert(Kinds.VirtualService, desiredVirtualService(yield* ownerNow, spec as never, testConfig, Kinds.VirtualService))
    })
    const ownAuthentication = Effect.gen(function*() {
      const plan = authenticationPlan(validSpec(ns) as never, testConfig)!
      for (const child of backend.render(yield* ownerNow, plan, { selector: { app: SERVICE }, delegatedHosts: [] })) {
        yield* upsert(backend.kinds.find((k) => k.kind === child.kind)!, child)
      }
    })
    const noAuthentication = Effect.forEach(backend.slots, (slot) => remove(slot.kind, childName(NAME, slot)), { discard: true })
    const foreign = (kind: ResourceKind) =>
      Effect.flatMap(kube, (k) =>
        k.create(kind, {
          apiVersion: `${kind.group}/${kind.version}`,
          kind: kind.kind,
          metadata: { name: NAME, namespace: ns },
          spec: kind.kind === "VirtualService" ? { hosts: [`foreign-${ns}.kyma.local`] } : {}
        }))
    /** The holder of our host: created in setup, so older than ours; here it takes our host or gives it back. */
    const holderServes = (host: string) =>
      upsert(Kinds.VirtualService, {
        apiVersion: "networking.istio.io/v1alpha3",
        kind: "VirtualService",
        metadata: { name: HOLDER, namespace: ns },
        spec: { hosts: [host], gateways: ["mesh"] }
      })
    const holderApiTargets = (svc: string) =>
      Effect.gen(function*() {
        const k = yield* kube
        const existing = yield* find(Kinds.Api, HOLDER)
        if (existing !== undefined) yield* k.replace(Kinds.Api, { ...existing, spec: { ...validSpec(ns), hostname: `h-${ns}`, service: { name: svc, port: 80 } } })
      })
    /** Foreign objects under our names go; the holders let go. */
    const clearForeign = Effect.gen(function*() {
      yield* Effect.flatMap(Effect.service(Faults), (f) => f.clear)
      yield* holderServes(`elsewhere-${ns}.kyma.local`)
      yield* holderApiTargets("elsewhere")
      yield* remove(Kinds.Service, SHARED_SERVICE)
      for (const kind of [Kinds.VirtualService, ...backend.kinds]) {
        const o = yield* find(kind)
        if (o !== undefined && o.metadata.labels?.["createdBy"] !== "api-controller") yield* remove(kind)
      }
    })

    /** Arranges the answer a pass's write gets. */
    const answer = (outcome: Ev | undefined, verb: "create" | "delete", kind: ResourceKind) =>
      Effect.gen(function*() {
        if (outcome?.type !== "WRITE_FAILED") return
        const reason = outcome.sample as KubeApiErrorReason
        failure = message(verb, kind, reason).replaceAll("{ns}", ns)
        yield* Effect.flatMap(Effect.service(Faults), (f) => f.inject({ verb, plural: kind.plural, reason }))
      })

    const setup = Effect.gen(function*() {
      ns = yield* options.newNamespace
      failure = ""
      const k = yield* kube
      yield* service({ app: SERVICE })
      // Both holders exist before the Api, so they are the older ones whenever they claim.
      yield* holderServes(`elsewhere-${ns}.kyma.local`)
      yield* k.create(Kinds.Api, { apiVersion: "gateway.kyma-project.io/v1alpha2", kind: "Api", metadata: { name: HOLDER, namespace: ns }, spec: { ...validSpec(ns), hostname: `h-${ns}`, service: { name: "elsewhere", port: 80 } } })
      const { uid: _uid, creationTimestamp: _created, ...neighbourMetadata } = neighbourApi(ns).metadata
      yield* k.create(Kinds.Api, { ...neighbourApi(ns), metadata: neighbourMetadata })
      yield* k.create(Kinds.Api, { apiVersion: "gateway.kyma-project.io/v1alpha2", kind: "Api", metadata: { name: NAME, namespace: ns }, spec: validSpec(ns) })
    })

    const pass = Effect.gen(function*() {
      const reconciler = yield* Reconciler
      yield* Effect.ignore(reconciler.reconcile(objectKey(ns, NAME)))
    })

    const statusNow = Effect.map(api, (a) => decodeStatus(a["status"]))

    const checkChild = (actual: GatewayResourceStatus | undefined, machine: MachineName, state: AnyMachineSnapshot, child: KubeObject | undefined, where: string) => {
      const context = state.context as ChildContext
      assert.strictEqual(stateForCode(machine, actual?.code), String(state.value), `${where}: state (code ${actual?.code})`)
      assert.strictEqual(actual?.lastError ?? null, fill(context.lastError), `${where}: lastError`)
      if (context.resource === null) assert.isUndefined(actual?.resource, `${where}: no resource expected`)
      else {
        assert.isDefined(child, `${where}: the child must exist`)
        assert.deepStrictEqual(actual?.resource, refOf(child!), `${where}: resource names the real child`)
      }
    }

    // --- per machine: drive and check --------------------------------------------------------

    const validationReplayer: Replayer<R | ModelEnv> = {
      setup,
      pass,
      drive: ([event]) =>
        Effect.gen(function*() {
          yield* clearForeign
          const e = event as Ev
          yield* setSpec(e.sample === "invalid" ? invalidSpec(ns) : validSpec(ns))
          if (e.sample === "occupied") yield* holderApiTargets(SERVICE)
          // The neighbour Api (created in setup, so older) gets a Service over our pods.
          if (e.sample === "shared") yield* upsert(Kinds.Service, serviceObject(ns, SHARED_SERVICE, { app: SERVICE }))
        }),
      check: (state, where) =>
        Effect.gen(function*() {
          const s = yield* statusNow
          const warnings = new Set((s.conditions ?? []).filter((c) => c.status === "False" && c.type !== "Ready").map((c) => c.type))
          assert.strictEqual(stateForCode("validation", s.validationStatus, warnings), String(state.value), `${where}: state`)
          assert.strictEqual(s.lastError ?? null, fill(state.context.lastError), `${where}: lastError`)
        })
    }

    const authenticationReplayer: Replayer<R | ModelEnv> = {
      setup,
      pass,
      drive: ([observed, outcome]) =>
        Effect.gen(function*() {
          yield* clearForeign
          yield* service({ app: SERVICE })
          const sample = (observed as Ev).sample
          const spec = sample === "keep" || sample === "blocked" ? invalidSpec(ns)
            : sample === "blocked-off" ? invalidSpec(ns, false)
            : sample === "remove" || sample === "off" || sample === "lost-off" ? authOffSpec(ns)
            : validSpec(ns)
          yield* setSpec(spec)
          const lost = sample === "withdraw" || sample === "lost-off"
          if (lost) {
            // An older Api takes the Service; no VirtualService of ours is left to withdraw first.
            yield* holderApiTargets(SERVICE)
            yield* remove(Kinds.VirtualService)
          }
          if (sample === "keep" || sample === "remove" || sample === "up-to-date" || lost) yield* ownAuthentication
          else yield* noAuthentication
          if (sample === "target") yield* remove(Kinds.Service, SERVICE)
          if (sample === "foreign") yield* foreign(backend.kinds[0]!)
          yield* answer(outcome as Ev | undefined, sample === "remove" || lost ? "delete" : "create", backend.kinds[0]!)
        }),
      check: (state, where) =>
        Effect.gen(function*() {
          const s = yield* statusNow
          checkChild(s.authenticationStatus, "authentication", state, yield* find(backend.kinds[0]!), where)
        })
    }

    const virtualServiceReplayer: Replayer<R | ModelEnv> = {
      setup,
      pass,
      drive: ([observed, outcome]) =>
        Effect.gen(function*() {
          yield* clearForeign
          const sample = (observed as Ev).sample
          yield* setSpec(sample === "blocked" || sample === "keep" ? invalidSpec(ns) : validSpec(ns))
          // Authentication as the sample says: in place, retried, or refused.
          if (sample === "auth-retrying" || sample === "auth-failed") {
            yield* noAuthentication
            yield* Effect.flatMap(Effect.service(Faults), (f) =>
              f.inject({ verb: "create", plural: backend.kinds[0]!.plural, reason: sample === "auth-retrying" ? "ServerError" : "Forbidden" }))
          } else yield* ownAuthentication
          const own = sample === "withdraw" || sample === "keep" || sample === "up-to-date" || sample === "unexpose"
          if (own) yield* ownVirtualService
          else yield* remove(Kinds.VirtualService)
          if (sample === "withdraw" || sample === "occupied") yield* holderServes(`${ns}.kyma.local`)
          if (sample === "unexpose") yield* holderApiTargets(SERVICE)
          if (sample === "foreign") yield* foreign(Kinds.VirtualService)
          yield* answer(outcome as Ev | undefined, sample === "withdraw" || sample === "unexpose" ? "delete" : "create", Kinds.VirtualService)
        }),
      check: (state, where) =>
        Effect.gen(function*() {
          const s = yield* statusNow
          checkChild(s.virtualService, "virtualService", state, yield* find(Kinds.VirtualService), where)
        })
    }

    const machines: ReadonlyArray<readonly [MachineName, ReadonlyArray<Ev>, Replayer<R | ModelEnv>]> = [
      ["validation", validationSamples(backend), validationReplayer],
      ["authentication", authenticationSamples(backend), authenticationReplayer],
      ["virtualService", virtualServiceSamples, virtualServiceReplayer]
    ]
    const lines: Array<{ machine: MachineName; covered: number; total: number }> = []
    for (const [name, events, replayer] of machines) {
      const machine = catalog[name].machine as AnyStateMachine
      const transient = (state: string) => isTransient(name, state)
      const input = catalog[name].emptyContext
      const paths = pathsCoveringEveryTransition(machine, input, events, transient)
      const all = transitionsOf(machine, input, events).map(edgeName)
      const covered = yield* replayAll(paths, transient, replayer, options.run)
      const missing = all.filter((t) => !covered.has(t))
      assert.deepStrictEqual(missing, [], `${name}: every transition is replayed`)
      lines.push({ machine: name, covered: covered.size, total: all.length })
      options.report(`${name}: ${covered.size}/${all.length} transitions covered by ${paths.length} replayed paths`)
    }
    return lines
  })
