/**
 * Readiness (src/runtime/Reachability.ts): /readyz is 200 only while the caches are synced AND the
 * API server answers; after `unreachableAfter` in which every request failed it is 503 with the
 * reason, and it comes back by itself. Also: the health server binds 127.0.0.1 unless told.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Command } from "effect/cli"
import { runFlags } from "../../src/cli/Run.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { MemoryCluster } from "../support/MemoryCluster.ts"
import { appWith } from "../../src/runtime/App.ts"
import { HealthServer } from "../../src/runtime/HealthServer.ts"
import * as Logging from "../../src/runtime/Logging.ts"
import { isAnswer, Reachability, ReachabilityState } from "../../src/runtime/Reachability.ts"
import { testConfig } from "../support/Fixtures.ts"

describe("the reachability rule", () => {
  it("an answer of any kind is reachable; no connection, 5xx, 429 and timeouts are not", () => {
    for (const o of ["ok", "NotFound", "Conflict", "AlreadyExists", "Invalid", "Forbidden", "Gone"]) assert.isTrue(isAnswer(o), o)
    for (const o of ["Transport", "ServerError", "TooManyRequests", "timeout"]) assert.isFalse(isAnswer(o), o)
  })

  it("is unreachable only once every request has failed for unreachableAfter, and reachable again at the next answer", () => {
    const s = new ReachabilityState(5_000)
    assert.isUndefined(s.problem(0), "nothing known yet")
    s.record("ok", 1_000)
    s.record("Transport", 2_000)
    assert.isUndefined(s.problem(6_999), "failing for 4.999 s")
    s.record("ServerError", 6_000)
    assert.include(s.problem(7_000) ?? "", "has not answered for 5.0s")
    s.record("NotFound", 8_000)
    assert.isUndefined(s.problem(8_000))
    assert.strictEqual(s.quietFor(9_000), 1_000)
  })

  it("a server never reached since the start says so", () => {
    const s = new ReachabilityState(1_000)
    s.record("Transport", 0)
    assert.include(s.problem(1_000) ?? "", "since start")
  })
})

const get = (url: string) =>
  Effect.promise(() => fetch(url).then(async (r) => ({ status: r.status, body: (await r.text()).trim() })))

describe("the probe of a quiet controller", () => {
  it.effect("sends one request at a time: one the server never answers is waited for, not sent again and again", () =>
    Effect.gen(function*() {
      const memory = yield* Layer.build(MemoryCluster.layer())
      const kube = Context.get(memory, KubeApi)
      let lists = 0
      const hanging = KubeApi.of({ ...kube, list: () => Effect.andThen(Effect.sync(() => void lists++), Effect.never) })
      const reachability = Context.get(
        yield* Layer.build(
          Reachability.layer({ unreachableAfter: "200 millis", probeEvery: "20 millis", probeTimeout: "20 millis" })
            .pipe(Layer.provide(Layer.succeed(KubeApi, hanging)))
        ),
        Reachability
      )
      // Twenty probe periods on the test clock, one at a time: the probe loop gets every turn it would.
      for (let i = 0; i < 20; i++) {
        yield* TestClock.adjust("20 millis")
        yield* Effect.yieldNow
      }
      assert.strictEqual(lists, 1, "the unanswered probe was not sent again")
      assert.include((yield* reachability.problem) ?? "", "has not answered")
    }).pipe(Effect.scoped))
})

describe("/readyz of the running app", () => {
  it.live("goes 503 while the API server does not answer, with the reason, and 200 again when it does", () =>
    Effect.gen(function*() {
      const memory = yield* Layer.build(MemoryCluster.layer())
      const cluster = Context.get(memory, MemoryCluster)
      const app = yield* Layer.build(
        appWith(Layer.succeed(KubeApi, Context.get(memory, KubeApi)), {
          config: testConfig,
          controller: { workers: 1, resyncPeriod: Duration.hours(1), shutdownGrace: Duration.zero },
          health: {
            host: "127.0.0.1",
            port: 0,
            reachability: { unreachableAfter: "300 millis", probeEvery: "50 millis", probeTimeout: "50 millis" }
          }
        }).pipe(Layer.provide(Logging.layer({ format: "pretty", level: "Error" })))
      )
      const { url } = Context.get(app, HealthServer)
      const readyz = get(`${url}/readyz`)
      const until = (status: number) =>
        Effect.gen(function*() {
          for (let i = 0; i < 100; i++) {
            const r = yield* readyz
            if (r.status === status) return r
            yield* Effect.sleep("50 millis")
          }
          return assert.fail(`/readyz never answered ${status}`)
        })

      yield* until(200)
      // Every request fails as if the server were gone; the quiet controller's probe notices.
      yield* cluster.injectFault({ reason: "Transport", times: 1_000_000 })
      const down = yield* until(503)
      assert.include(down.body, "the API server has not answered")
      assert.strictEqual((yield* get(`${url}/healthz`)).status, 200, "liveness does not follow readiness")
      yield* cluster.clearFaults
      yield* until(200)
    }).pipe(Effect.scoped))
})

describe("where the health server listens", () => {
  it.effect("`run` binds /healthz, /readyz and /metrics to 127.0.0.1 unless --health-host says otherwise", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const probe = Command.make("run", runFlags, (flags) => Effect.sync(() => void seen.push(flags.healthHost)))
      yield* Command.runWith(probe, { version: "test" })([])
      yield* Command.runWith(probe, { version: "test" })(["--health-host", "0.0.0.0"])
      assert.deepStrictEqual(seen, ["127.0.0.1", "0.0.0.0"])
    }).pipe(Effect.provide(NodeServices.layer)))
})
