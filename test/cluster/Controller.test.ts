/**
 * The whole controller (src/runtime/App.ts: informers, work queue, workers, leader election)
 * against a real kube-apiserver + etcd, in real time: it converges many Apis, stays silent on a
 * no-op resync, heals from watch events alone, survives a restart mid-way and, with two
 * instances, only the leader writes.
 *
 * Every test runs its own app in its own namespace(s). The app watches ALL namespaces, so the
 * assertions look only at the test's namespaces; hostnames carry the namespace name so no two
 * tests (or leftovers) compete for one.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Layer, Metric, Scope } from "effect"
import { Controller, type ControllerOptions } from "../../src/controller/Controller.ts"
import { LeaderElection, type LeaderElectionConfig } from "../../src/k8s/LeaderElection.ts"
import { decodeStatus } from "../../src/domain/Api.ts"
import { Kinds, type KubeObject } from "../../src/domain/Kube.ts"
import { makeRequestTally } from "../../src/k8s/InstrumentedKubeApi.ts"
import { KubeApi, orAbsent } from "../../src/k8s/KubeApi.ts"
import { appWith } from "../../src/runtime/App.ts"
import * as Logging from "../../src/runtime/Logging.ts"
import * as Metrics from "../../src/runtime/Metrics.ts"
import { parseExposition, valueOf } from "../runtime/prometheus.ts"
import { awaitGone, liveKubeApi, testNamespace } from "../support/ClusterTest.ts"
import { eventually } from "../support/Eventually.ts"
import { apiObject, googleJwt, testConfig } from "../support/Fixtures.ts"

// ---------------------------------------------------------------------------------------------
// a running app, started and stopped inside a test

type Tally = ReturnType<typeof makeRequestTally>

interface RunningApp {
  readonly controller: Controller["Service"]
  readonly election: LeaderElection["Service"]
  /** Every Kubernetes request this app made. */
  readonly tally: Tally
  /** Requests that succeeded, by `verb resource` (the tally also counts failed ones). */
  readonly succeeded: (key: string) => number
  /** Reconcile passes by result, from this app's own metric registry. */
  readonly passes: Effect.Effect<number>
  readonly passesBy: Effect.Effect<Readonly<Record<Metrics.ResultLabel, number>>>
  /** Close the app's scope (graceful: workers stop, in-flight passes finish, Lease released). */
  readonly stop: Effect.Effect<void>
}

const quietLogs = Logging.layer({ format: "pretty", level: "Error" })

/** The app on the live API server, in a scope of its own (also closed with the test's scope). */
const startApp = (options: {
  readonly controller?: Partial<ControllerOptions>
  readonly leaderElection?: LeaderElectionConfig
} = {}) =>
  Effect.gen(function*() {
    const tally = makeRequestTally()
    const ok = new Map<string, number>()
    // Metrics default to one registry per process; each app gets its own so passes can be counted.
    const registry: Metric.MetricRegistry = new Map()
    const scope = yield* Scope.make()
    const stop = Scope.close(scope, Exit.void)
    yield* Effect.addFinalizer(() => stop)
    const context = yield* Layer.buildWithScope(
      appWith(liveKubeApi(), {
        config: testConfig,
        controller: { workers: 4, resyncPeriod: Duration.hours(1), ...options.controller },
        ...(options.leaderElection !== undefined ? { leaderElection: options.leaderElection } : {}),
        onRequest: (r) =>
          Effect.andThen(
            tally.listener(r),
            Effect.sync(() => {
              const key = `${r.verb} ${r.resource}`
              if (r.outcome === "ok") ok.set(key, (ok.get(key) ?? 0) + 1)
            })
          )
      }).pipe(Layer.provide(Layer.mergeAll(quietLogs, Layer.succeed(Metric.MetricRegistry, registry)))),
      scope
    )
    const passesBy = Metrics.metricsText.pipe(
      Effect.map(parseExposition),
      Effect.map((x) =>
        Object.fromEntries(Metrics.RESULT_LABELS.map((result) => [result, valueOf(x, Metrics.MetricNames.reconcileTotal, { result }) ?? 0])) as Record<Metrics.ResultLabel, number>
      ),
      Effect.provideService(Metric.MetricRegistry, registry)
    )
    const passes = Effect.map(passesBy, (by) => Metrics.RESULT_LABELS.reduce((n, result) => n + by[result], 0))
    return {
      controller: Context.get(context, Controller),
      election: Context.get(context, LeaderElection),
      tally,
      succeeded: (key) => ok.get(key) ?? 0,
      passes,
      passesBy,
      stop
    } satisfies RunningApp
  })

/** Waits until the queue has been empty with nothing in flight for `quietMillis` in a row. */
const idle = (controller: Controller["Service"], quietMillis = 1_500, limitMillis = 30_000) =>
  Effect.gen(function*() {
    const start = Date.now()
    let quietSince: number | undefined
    while (true) {
      const busy = (yield* controller.queue.depth) + (yield* controller.queue.inFlight)
      const now = Date.now()
      if (busy > 0) quietSince = undefined
      else if (quietSince === undefined) quietSince = now
      else if (now - quietSince >= quietMillis) return
      if (now - start > limitMillis) return assert.fail(`the work queue was not idle within ${limitMillis}ms`)
      yield* Effect.sleep("50 millis")
    }
  })

// ---------------------------------------------------------------------------------------------
// Apis and what "converged" means

/** Writes to what the controller manages (Apis, children, Events): not the Lease. */
const CONTROLLER_RESOURCES = ["apis", "virtualservices", "policies", "events"]

const writesTo = (tally: Tally, resources: ReadonlyArray<string> = CONTROLLER_RESOURCES) =>
  [...tally.snapshot()]
    .filter(([k]) => {
      const [verb, resource] = k.split(" ")
      return ["create", "replace", "patch", "patchStatus", "delete"].includes(verb!) && resources.includes(resource!)
    })
    .reduce((n, [, c]) => n + c, 0)

const show = (tally: Tally) => JSON.stringify(Object.fromEntries(tally.snapshot()))

const securedApi = (namespace: string, name: string, hostname = `${namespace}-${name}`) =>
  apiObject(namespace, name, { service: { name: `svc-${name}`, port: 8080 }, hostname, authentication: [googleJwt] })

const createApis = (namespace: string, count: number, prefix = "api") =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`)
    yield* Effect.forEach(names, (name) => kube.create(Kinds.Api, securedApi(namespace, name)), {
      concurrency: 8,
      discard: true
    })
    return names
  })

/** Every field of the status says the Api and both its children exist, for the current generation. */
const readyProblem = (api: KubeObject, withAuth = true): string | undefined => {
  const s = decodeStatus(api["status"])
  const ready = s.conditions?.find((c) => c.type === "Ready")
  const name = api.metadata.name
  if (s.validationStatus !== 2) return `${name}: validationStatus ${s.validationStatus}`
  if (s.virtualService?.code !== 2) return `${name}: virtualService.code ${s.virtualService?.code}`
  if (withAuth && s.authenticationStatus?.code !== 2) return `${name}: authenticationStatus.code ${s.authenticationStatus?.code}`
  if (ready?.status !== "True") return `${name}: Ready ${ready?.status} ${ready?.reason}`
  if (s.observedGeneration !== api.metadata.generation) return `${name}: observedGeneration ${s.observedGeneration}`
  return undefined
}

/** Every Api of the namespace is Ready (and there are `count` of them). */
const allReady = (namespace: string, count: number, withAuth = true) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const apis = (yield* kube.list(Kinds.Api, { namespace })).items
    assert.strictEqual(apis.length, count, `Apis in ${namespace}`)
    const problems = apis.flatMap((a) => readyProblem(a, withAuth) ?? [])
    assert.deepStrictEqual(problems.slice(0, 5), [], `${problems.length} of ${count} Apis not ready`)
    return apis
  })

const waitAllReady = (namespace: string, count: number, seconds = 60) =>
  eventually(allReady(namespace, count), { live: true, step: "250 millis", steps: seconds * 4 })

const apiStatus = (namespace: string, name: string) =>
  Effect.flatMap(Effect.service(KubeApi), (kube) => kube.get(Kinds.Api, namespace, name)).pipe(
    Effect.map((a) => decodeStatus(a["status"]))
  )

const getOrUndefined = (kind: typeof Kinds.VirtualService | typeof Kinds.Policy | typeof Kinds.Api, namespace: string, name: string) =>
  Effect.flatMap(Effect.service(KubeApi), (kube) => orAbsent(kube.get(kind, namespace, name)))

const hostsOf = (vs: KubeObject | undefined) => (vs?.["spec"] as { hosts?: ReadonlyArray<string> } | undefined)?.hosts

/**
 * The namespace holds exactly one VirtualService and one Policy per Api, each named after it and
 * owned (controller ownerReference) by that Api's uid; the Api's status names the child that is
 * really there (uid and resourceVersion).
 */
const exactlyOwnedChildren = (namespace: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const apis = (yield* kube.list(Kinds.Api, { namespace })).items
    for (const [kind, statusKey] of [[Kinds.VirtualService, "virtualService"], [Kinds.Policy, "authenticationStatus"]] as const) {
      const children = (yield* kube.list(kind, { namespace })).items
      assert.deepStrictEqual(
        children.map((c) => c.metadata.name).sort(),
        apis.map((a) => a.metadata.name).sort(),
        `one ${kind.kind} per Api, nothing else`
      )
      for (const child of children) {
        const api = apis.find((a) => a.metadata.name === child.metadata.name)!
        const owners = (child.metadata.ownerReferences ?? []).filter((r) => r.controller === true)
        assert.deepStrictEqual(owners.map((r) => r.uid), [api.metadata.uid], `${kind.kind} ${child.metadata.name} owner`)
        const ref = decodeStatus(api["status"])[statusKey]?.resource
        assert.strictEqual(ref?.uid, child.metadata.uid, `${api.metadata.name} status names the ${kind.kind} that exists`)
        assert.strictEqual(ref?.version, child.metadata.resourceVersion, `${api.metadata.name} ${kind.kind} version`)
      }
    }
    for (const api of apis) assert.isUndefined(api.metadata.finalizers, `${api.metadata.name}: no finalizer (garbage collection)`)
  })

const world = liveKubeApi()

describe("the controller on a real kube-apiserver", () => {
  it.live("converges 60 Apis with authentication to Created, Ready=True", () =>
    Effect.gen(function*() {
      const ns = yield* testNamespace("ctl-many")
      yield* startApp()
      const started = Date.now()
      const names = yield* createApis(ns, 60)
      yield* waitAllReady(ns, names.length)
      console.log(`[controller] ${names.length} Apis with authentication converged in ${Date.now() - started}ms`)
      yield* exactlyOwnedChildren(ns)
    }).pipe(Effect.scoped, Effect.provide(world)), 90_000)

  it.live("a new Api costs one pass and four writes: its two children, one status patch and one Event; the echoes of those writes are only looked up", () =>
    Effect.gen(function*() {
      const ns = yield* testNamespace("ctl-one")
      const app = yield* startApp()
      yield* idle(app.controller)
      app.tally.reset()
      const before = yield* app.passesBy
      yield* createApis(ns, 1)
      yield* waitAllReady(ns, 1)
      yield* idle(app.controller)
      // The Ready Event is written once no pass waits (src/k8s/EventRecorder.ts).
      yield* eventually(Effect.sync(() => assert.strictEqual(app.succeeded("create events"), 1, show(app.tally))), { live: true })
      const after = yield* app.passesBy
      assert.strictEqual(after.done - before.done, 1, "full passes")
      // Its writes wake the Api while its pass runs (their answers go into the cache at once, and
      // their watch events may come first): the pass after it finds the world as the pass left
      // it and is skipped. A watch event that comes after the answer changes nothing in the cache.
      assert.isAtMost(after.skipped - before.skipped, 3, "echoes of the pass's own writes")
      assert.strictEqual(after.requeue + after.error - before.requeue - before.error, 0, "passes requeued or failed")
      assert.deepStrictEqual(
        ["create virtualservices", "create policies", "patchStatus apis", "create events"].map((k) => [k, app.succeeded(k)]),
        [["create virtualservices", 1], ["create policies", 1], ["patchStatus apis", 1], ["create events", 1]]
      )
      assert.strictEqual(writesTo(app.tally), 4, `every write: ${show(app.tally)}`)
    }).pipe(Effect.scoped, Effect.provide(world)))

  it.live("a namespace deleted under converged Apis: the controller lets them go, with no status write, Event or retry", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const ns = yield* testNamespace("ctl-nsgone")
      const app = yield* startApp()
      const names = yield* createApis(ns, 10)
      yield* waitAllReady(ns, names.length)
      yield* idle(app.controller)
      yield* eventually(Effect.sync(() => assert.strictEqual(app.succeeded("create events"), names.length)), { live: true })
      app.tally.reset()
      const before = yield* app.passesBy
      const children = (yield* kube.list(Kinds.VirtualService, { namespace: ns })).items.length +
        (yield* kube.list(Kinds.Policy, { namespace: ns })).items.length
      assert.strictEqual(children, 2 * names.length, "a VirtualService and a Policy per Api")

      yield* kube.delete(Kinds.Namespace, "", ns)
      yield* awaitGone(Kinds.Namespace, "", ns, { timeoutMs: 80_000 })
      yield* idle(app.controller)
      const after = yield* app.passesBy
      const attempts = (k: string) => app.tally.snapshot().get(k) ?? 0
      // The namespace controller deletes kind after kind, in an order of its own (it walks a Go
      // map). Each child deleted before its Api wakes the Api; its first pass tries the one create
      // that secure-before-expose allows, the server refuses it (403, NamespaceTerminating), and the
      // reconciler leaves that Api to the namespace controller from then on: one create per Api at
      // most, whichever kind goes first, and nothing after the 403s.
      const creates = attempts("create virtualservices") + attempts("create policies")
      assert.isAtMost(creates, names.length, `one create per Api at most: ${show(app.tally)}`)
      assert.isAtMost(attempts("create virtualservices"), names.length, show(app.tally))
      assert.strictEqual(attempts("patchStatus apis"), 0, show(app.tally))
      assert.strictEqual(attempts("create events"), 0, show(app.tally))
      assert.strictEqual(after.error + after.requeue - before.error - before.requeue, 0, "passes failed or requeued")
    }).pipe(Effect.scoped, Effect.provide(world)), 120_000)

  it.live("a resync of converged Apis makes no write at all", () =>
    Effect.gen(function*() {
      const ns = yield* testNamespace("ctl-quiet")
      const app = yield* startApp()
      const names = yield* createApis(ns, 20)
      yield* waitAllReady(ns, names.length)
      yield* idle(app.controller)

      app.tally.reset()
      const passesBefore = yield* app.passes
      yield* app.controller.resyncAll
      yield* idle(app.controller)
      const passes = (yield* app.passes) - passesBefore
      assert.isAtLeast(passes, names.length, "the resync ran a pass for every Api")
      assert.strictEqual(app.tally.writes(), 0, `writes during the no-op resync: ${show(app.tally)}`)
      yield* allReady(ns, names.length)
    }).pipe(Effect.scoped, Effect.provide(world)))

  it.live("a freed hostname heals the blocked Api from the watch event, without a resync", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const ns = yield* testNamespace("ctl-host")
      const other = yield* testNamespace("ctl-host-other")
      yield* startApp({ controller: { resyncPeriod: Duration.hours(1) } })
      const squatter = (name: string, host: string): KubeObject => ({
        apiVersion: "networking.istio.io/v1alpha3",
        kind: "VirtualService",
        metadata: { name, namespace: other },
        spec: { hosts: [host], gateways: ["kyma-gateway.kyma-system.svc.cluster.local"] }
      })
      // Two holders: one goes away, the other moves to another host.
      yield* kube.create(Kinds.VirtualService, squatter("deleted-later", `${ns}-a.kyma.local`))
      const mover = yield* kube.create(Kinds.VirtualService, squatter("moves-later", `${ns}-b.kyma.local`))
      yield* kube.create(Kinds.Api, securedApi(ns, "a", `${ns}-a`))
      yield* kube.create(Kinds.Api, securedApi(ns, "b", `${ns}-b`))
      for (const name of ["a", "b"]) {
        yield* eventually(Effect.gen(function*() {
          const s = yield* apiStatus(ns, name)
          assert.strictEqual(s.virtualService?.code, 4)
          assert.include(s.virtualService?.lastError ?? "", `${other}/`)
        }), { live: true, steps: 100 })
        assert.isUndefined(yield* getOrUndefined(Kinds.VirtualService, ns, name), "nothing created while blocked")
      }

      let t = Date.now()
      yield* kube.delete(Kinds.VirtualService, other, "deleted-later")
      yield* eventually(allReadyByName(ns, ["a"]), { live: true, steps: 100 })
      console.log(`[controller] healed ${Date.now() - t}ms after the holder was deleted`)

      t = Date.now()
      yield* kube.replace(Kinds.VirtualService, { ...mover, spec: { ...(mover["spec"] as object), hosts: [`${ns}-elsewhere.kyma.local`] } })
      yield* eventually(allReadyByName(ns, ["b"]), { live: true, steps: 100 })
      console.log(`[controller] healed ${Date.now() - t}ms after the holder changed host`)
      assert.deepStrictEqual(hostsOf(yield* getOrUndefined(Kinds.VirtualService, ns, "b")), [`${ns}-b.kyma.local`])
    }).pipe(Effect.scoped, Effect.provide(world)))

  it.live("a child deleted or edited by hand is restored from its watch event", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const ns = yield* testNamespace("ctl-drift")
      yield* startApp({ controller: { resyncPeriod: Duration.hours(1) } })
      yield* kube.create(Kinds.Api, securedApi(ns, "drift"))
      yield* waitAllReady(ns, 1)
      const host = `${ns}-drift.kyma.local`
      const original = (yield* kube.get(Kinds.VirtualService, ns, "drift"))

      // Deleted by hand: a new one is created, and the status names the new one.
      yield* kube.delete(Kinds.VirtualService, ns, "drift")
      yield* eventually(Effect.gen(function*() {
        const vs = yield* kube.get(Kinds.VirtualService, ns, "drift")
        assert.notStrictEqual(vs.metadata.uid, original.metadata.uid)
        yield* allReady(ns, 1)
        yield* exactlyOwnedChildren(ns)
      }), { live: true, steps: 100 })

      // Edited by hand: put back.
      const vs = yield* kube.get(Kinds.VirtualService, ns, "drift")
      yield* kube.replace(Kinds.VirtualService, { ...vs, spec: { ...(vs["spec"] as object), hosts: ["evil.kyma.local"] } })
      yield* eventually(Effect.gen(function*() {
        assert.deepStrictEqual(hostsOf(yield* kube.get(Kinds.VirtualService, ns, "drift")), [host])
        yield* allReady(ns, 1)
        yield* exactlyOwnedChildren(ns)
      }), { live: true, steps: 100 })

      // The Policy too: deleted, then its issuer edited.
      yield* kube.delete(Kinds.Policy, ns, "drift")
      yield* eventually(Effect.andThen(kube.get(Kinds.Policy, ns, "drift"), exactlyOwnedChildren(ns)), { live: true, steps: 100 })
      const policy = yield* kube.get(Kinds.Policy, ns, "drift")
      const spec = policy["spec"] as { origins: Array<{ jwt: Record<string, unknown> }> }
      yield* kube.replace(Kinds.Policy, {
        ...policy,
        spec: { ...spec, origins: [{ jwt: { ...spec.origins[0]!.jwt, issuer: "https://evil.example" } }] }
      })
      yield* eventually(Effect.gen(function*() {
        const now = (yield* kube.get(Kinds.Policy, ns, "drift"))["spec"] as typeof spec
        assert.strictEqual(now.origins[0]?.jwt["issuer"], googleJwt.jwt.issuer)
        yield* allReady(ns, 1)
        yield* exactlyOwnedChildren(ns)
      }), { live: true, steps: 100 })
    }).pipe(Effect.scoped, Effect.provide(world)))

  it.live("a restart mid-way rebuilds from the cluster: everything converges, nothing duplicated or leaked, a deletion during the downtime is finished", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const ns = yield* testNamespace("ctl-restart")

      // First run: one Api fully done (to be deleted while nobody watches), then 30 more, and
      // the app stops hard (no grace for in-flight passes) after a few children exist.
      const first = yield* startApp({ controller: { workers: 2, shutdownGrace: Duration.zero } })
      yield* kube.create(Kinds.Api, securedApi(ns, "victim"))
      yield* waitAllReady(ns, 1)
      const victim = yield* kube.get(Kinds.Api, ns, "victim")
      const names = yield* createApis(ns, 30)
      yield* eventually(Effect.sync(() => {
        const created = first.tally.snapshot().get("create virtualservices") ?? 0
        assert.isAtLeast(created, 6)
      }), { live: true, step: "10 millis", steps: 3_000 })
      yield* first.stop
      const halfDone = (yield* kube.list(Kinds.Api, { namespace: ns })).items.filter((a) => a.metadata.name !== "victim")
      const notReady = halfDone.filter((a) => readyProblem(a) !== undefined).length
      console.log(`[controller] stopped with ${notReady} of ${names.length} Apis not yet converged (${show(first.tally)})`)
      assert.isAbove(notReady, 0, "stopped mid-way")

      // While down: the first Api is deleted. No finalizer holds it, and kube-controller-manager's
      // garbage collector removes its children though no controller runs (SPEC 2, 8).
      yield* kube.delete(Kinds.Api, ns, "victim")
      assert.isUndefined(yield* getOrUndefined(Kinds.Api, ns, "victim"), "gone at once: nothing holds it")
      yield* eventually(Effect.gen(function*() {
        assert.isUndefined(yield* getOrUndefined(Kinds.VirtualService, ns, "victim"))
        assert.isUndefined(yield* getOrUndefined(Kinds.Policy, ns, "victim"))
      }), { live: true, step: "250 millis", steps: 240 })

      // Second run, from scratch.
      const second = yield* startApp({ controller: { workers: 2 } })
      yield* eventually(allReady(ns, names.length), { live: true, step: "250 millis", steps: 240 })
      yield* idle(second.controller)
      yield* exactlyOwnedChildren(ns)
      assert.notInclude(
        (yield* kube.list(Kinds.VirtualService, { namespace: ns })).items.flatMap((v) => v.metadata.ownerReferences ?? [])
          .map((r) => r.uid),
        victim.metadata.uid
      )
      // No child was created twice (deleted and created again): the second run adopted what the
      // first one left. (A create cut off by the hard stop may have landed uncounted, hence at most.)
      for (const plural of ["virtualservices", "policies"]) {
        const creates = [first, second].map((app) => app.succeeded(`create ${plural}`))
        assert.isAtMost(creates[0]! + creates[1]!, names.length + 1, `${plural} created over both runs: ${creates}`)
        assert.strictEqual(second.succeeded(`delete ${plural}`), 0, `the controller deleted no ${plural}: garbage collection did`)
      }
    }).pipe(Effect.scoped, Effect.provide(world)), 90_000)

  it.live("two instances with leader election: only the leader writes; after a graceful stop the other takes over", () =>
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const ns = yield* testNamespace("ctl-leader")
      const election = (identity: string): LeaderElectionConfig => ({
        namespace: ns,
        name: "api-controller",
        identity,
        leaseDuration: "3 seconds",
        renewDeadline: "2 seconds",
        retryPeriod: "500 millis"
      })
      const a = yield* startApp({ leaderElection: election("a") })
      yield* eventually(Effect.flatMap(a.election.isLeader, (l) => Effect.sync(() => assert.isTrue(l))), { live: true })
      const b = yield* startApp({ leaderElection: election("b") })

      const names = yield* createApis(ns, 10)
      yield* waitAllReady(ns, names.length)
      yield* idle(a.controller)
      assert.isFalse(yield* b.election.isLeader)
      assert.isAbove(writesTo(a.tally), 0, "the leader wrote")
      assert.strictEqual(writesTo(b.tally), 0, `the follower wrote nothing but Lease attempts: ${show(b.tally)}`)
      assert.strictEqual(b.tally.snapshot().get("replace leases") ?? 0, 0, "and never won a Lease write")
      assert.isAbove(b.tally.snapshot().get("get leases") ?? 0, 0, "while it kept reading the Lease")

      // The leader stops gracefully: it releases the Lease and the follower takes over at its next retry.
      const stopped = Date.now()
      yield* a.stop
      yield* eventually(Effect.flatMap(b.election.isLeader, (l) => Effect.sync(() => assert.isTrue(l))), { live: true, step: "50 millis" })
      console.log(`[controller] the follower took over ${Date.now() - stopped}ms after the leader stopped`)
      a.tally.reset()

      // And keeps reconciling: a new Api converges, an existing one follows a spec change.
      yield* kube.create(Kinds.Api, securedApi(ns, "after-handover"))
      const changed = yield* kube.get(Kinds.Api, ns, names[0]!)
      yield* kube.replace(Kinds.Api, { ...changed, spec: { ...(changed["spec"] as object), hostname: `${ns}-moved` } })
      yield* waitAllReady(ns, names.length + 1)
      assert.deepStrictEqual(hostsOf(yield* kube.get(Kinds.VirtualService, ns, names[0]!)), [`${ns}-moved.kyma.local`])
      yield* exactlyOwnedChildren(ns)
      assert.isAbove(writesTo(b.tally), 0, "the new leader wrote")
      assert.strictEqual(a.tally.total(), 0, "the stopped instance made no request at all")
    }).pipe(Effect.scoped, Effect.provide(world)))
})

/** The named Apis of the namespace are Ready. */
const allReadyByName = (namespace: string, names: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    for (const name of names) {
      const api = yield* kube.get(Kinds.Api, namespace, name)
      assert.isUndefined(readyProblem(api))
    }
  })
