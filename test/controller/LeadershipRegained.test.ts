/**
 * The controller under leader election on the in-memory cluster, under TestClock: a pass that is
 * cut off because leadership was lost must run again once leadership is back. (Found on the real
 * server: with etcd paused 20 s during convergence, the leader lost its Lease and got it back,
 * and the Apis whose passes were in flight at that moment never converged, even when changed
 * again: their keys stayed "in flight" in the work queue, so every later add only marked them
 * dirty.)
 *
 * A pass is held in flight by a `KubeApi` wrapper that parks the first create of one
 * VirtualService forever; leadership is lost by failing every Lease write past renewDeadline.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Controller } from "../../src/controller/Controller.ts"
import { LeaderElection } from "../../src/k8s/LeaderElection.ts"
import { Kinds, objectKey } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { MemoryCluster } from "../support/MemoryCluster.ts"
import { appWith } from "../../src/runtime/App.ts"
import * as Logging from "../../src/runtime/Logging.ts"
import { apiObject, testConfig } from "../support/Fixtures.ts"
import { statusOf } from "../support/World.ts"

const spec = (name: string, port = 80) => ({ service: { name, port }, hostname: name })

/** Advance the clock in steps until `check` holds; fails after `limitMs` of test time. */
const within = (limitMs: number, check: Effect.Effect<boolean, unknown>, what: string) =>
  Effect.gen(function*() {
    for (let t = 0; t <= limitMs; t += 250) {
      if (yield* check) return
      yield* TestClock.adjust(Duration.millis(250))
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
    }
    return assert.fail(`${what}: not within ${limitMs} ms`)
  })

const codeOf = (kube: KubeApi["Service"], namespace: string, name: string) =>
  Effect.map(Effect.provideService(statusOf(objectKey(namespace, name)), KubeApi, kube), (s) => s.virtualService?.code)

describe("leader election and the work queue", () => {
  it.effect("a pass cut off by lost leadership runs again once leadership is back, and after later changes", () =>
    Effect.gen(function*() {
      const memory = yield* Layer.build(MemoryCluster.layer())
      const kube = Context.get(memory, KubeApi)
      const cluster = Context.get(memory, MemoryCluster)
      const parked = yield* Deferred.make<void>()
      let parkedOnce = false
      const gated = KubeApi.of({
        ...kube,
        create: (kind, object) => {
          if (kind.kind === "VirtualService" && object.metadata.name === "cut" && !parkedOnce) {
            parkedOnce = true
            return Deferred.succeed(parked, undefined).pipe(Effect.andThen(Effect.never))
          }
          return kube.create(kind, object)
        }
      })
      const app = yield* Layer.build(
        appWith(Layer.succeed(KubeApi, gated), {
          config: testConfig,
          controller: { workers: 2, resyncPeriod: Duration.hours(1), shutdownGrace: Duration.zero },
          leaderElection: { namespace: "kyma-system", name: "api-controller", identity: "a" }
        }).pipe(Layer.provide(Logging.layer({ format: "pretty", level: "Error" })))
      )
      const elector = Context.get(app, LeaderElection)
      const controller = Context.get(app, Controller)

      yield* kube.create(Kinds.Api, apiObject("team", "cut", spec("cut")))
      yield* kube.create(Kinds.Api, apiObject("team", "fine", spec("fine")))
      yield* within(5_000, Effect.map(Deferred.isDone(parked), (d) => d), "the pass of team/cut is in flight")
      yield* within(5_000, Effect.map(codeOf(kube, "team", "fine"), (c) => c === 2), "team/fine converges")

      // The API server stops accepting Lease writes: renewals fail until renewDeadline passes.
      yield* cluster.injectFault({ verb: "replace", plural: "leases", reason: "ServerError", times: 1_000_000 })
      yield* within(15_000, Effect.map(elector.isLeader, (l) => !l), "leadership is lost")
      yield* cluster.clearFaults
      yield* within(30_000, elector.isLeader, "leadership is back")

      // The cut-off pass owes its work: it runs again by itself ...
      yield* within(10_000, Effect.map(codeOf(kube, "team", "cut"), (c) => c === 2), "team/cut converges after leadership is back")
      assert.strictEqual(yield* controller.queue.inFlight, 0, "no key is left in flight")

      // ... and later changes to it are processed as usual.
      const api = yield* kube.get(Kinds.Api, "team", "cut")
      yield* kube.replace(Kinds.Api, { ...api, spec: spec("cut", 8080) })
      yield* within(10_000, Effect.gen(function*() {
        const vs = yield* kube.get(Kinds.VirtualService, "team", "cut")
        const http = (vs["spec"] as { http: Array<{ route: Array<{ destination: { port: { number: number } } }> }> }).http
        return http[0]?.route[0]?.destination.port.number === 8080
      }), "the changed port reaches the VirtualService")
    }).pipe(Effect.scoped))
})
