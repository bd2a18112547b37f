/**
 * Graceful shutdown of the whole app (src/runtime/App.ts) on the in-memory cluster: when the
 * app's scope closes, workers stop taking keys, a pass already running finishes (its status is
 * written), and a pass that outlives the grace period is cut off so shutdown stays bounded.
 *
 * A pass is held in flight by a `KubeApi` wrapper that parks the create of one VirtualService
 * until the test lets it go. The app runs under TestClock: the grace period passes when the test
 * moves the clock, so what is asserted is the order of things, never how long they took.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import { Controller } from "../../src/controller/Controller.ts"
import { decodeStatus } from "../../src/domain/Api.ts"
import { Kinds } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { MemoryCluster } from "../support/MemoryCluster.ts"
import { appWith } from "../../src/runtime/App.ts"
import * as Logging from "../../src/runtime/Logging.ts"
import { eventually } from "../support/Eventually.ts"
import { apiObject, testConfig } from "../support/Fixtures.ts"

/** The memory cluster (outliving the app), and the app on it with `create virtualservices <name>` parked. */
const setup = (parked: string, shutdownGrace: Duration.Duration) =>
  Effect.gen(function*() {
    const memory = yield* Layer.build(MemoryCluster.layer())
    const kube = Context.get(memory, KubeApi)
    const entered = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const gated = KubeApi.of({
      ...kube,
      create: (kind, object) =>
        kind.kind === "VirtualService" && object.metadata.name === parked
          ? Deferred.succeed(entered, undefined).pipe(
            Effect.andThen(Deferred.await(release)),
            Effect.andThen(kube.create(kind, object))
          )
          : kube.create(kind, object)
    })
    const scope = yield* Scope.make()
    const app = yield* Layer.buildWithScope(
      appWith(Layer.succeed(KubeApi, gated), {
        config: testConfig,
        controller: { workers: 1, resyncPeriod: Duration.hours(1), shutdownGrace }
      }).pipe(Layer.provide(Logging.layer({ format: "pretty", level: "Error" }))),
      scope
    )
    return { kube, controller: Context.get(app, Controller), entered, release, close: Scope.close(scope, Exit.void) }
  })

const spec = (name: string) => ({ service: { name, port: 80 }, hostname: name })

/** Until the parked create has been entered (the clock moves: the app's start waits on it too). */
const parked = (entered: Deferred.Deferred<void>) =>
  eventually(Effect.map(Deferred.isDone(entered), (done) => assert.isTrue(done, "the pass reached the parked create")))

describe("graceful shutdown", () => {
  it.effect("a pass in flight when the app stops finishes and writes its status; queued keys are not started", () =>
    Effect.gen(function*() {
      const { controller, kube, entered, release, close } = yield* setup("slow", Duration.seconds(10))
      yield* kube.create(Kinds.Api, apiObject("team", "slow", spec("slow")))
      yield* parked(entered)
      // The only worker is busy: this one waits in the queue (checked, or the last assertion proves nothing).
      yield* kube.create(Kinds.Api, apiObject("team", "queued", spec("queued")))
      yield* eventually(Effect.map(controller.queue.depth, (depth) => assert.strictEqual(depth, 1, "the second Api's key is queued")))

      const closing = yield* Effect.forkChild(close)
      // Half the grace period: the stop has long been signalled, the pass is still parked.
      yield* TestClock.adjust("5 seconds")
      assert.isUndefined(closing.pollUnsafe(), "shutdown waits for the pass in flight")

      yield* Deferred.succeed(release, undefined)
      // The shutdown waits on the workers themselves (no look on the clock): it ends as the pass does.
      yield* Fiber.await(closing)

      const slow = yield* kube.get(Kinds.Api, "team", "slow")
      const status = decodeStatus(slow["status"])
      yield* kube.get(Kinds.VirtualService, "team", "slow")
      // The server's answer to the create confirmed it: the pass wrote Created (SPEC 5).
      assert.strictEqual(status.virtualService?.code, 2, "the finished pass wrote its status")
      assert.isTrue(
        (status.transitions ?? []).some((t) => t.machine === "virtualService" && t.to === "Created"),
        "with the transition it made"
      )

      const queued = yield* kube.get(Kinds.Api, "team", "queued")
      assert.isUndefined(queued["status"], "no pass started after the stop")
    }).pipe(Effect.scoped))

  it.effect("a pass that outlives the grace period is cut off: shutdown ends when the grace period does", () =>
    Effect.gen(function*() {
      const { kube, entered, close } = yield* setup("stuck", Duration.millis(300))
      yield* kube.create(Kinds.Api, apiObject("team", "stuck", spec("stuck")))
      yield* parked(entered)
      const closing = yield* Effect.forkChild(close)
      yield* TestClock.adjust("299 millis")
      assert.isUndefined(closing.pollUnsafe(), "it waits for the pass while the grace period lasts")
      // The pass is never let go: only the end of the grace period can end the shutdown.
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(closing)
      // The pass never got to its status write; the next controller's first pass does it.
      const stuck = yield* kube.get(Kinds.Api, "team", "stuck")
      assert.isUndefined(decodeStatus(stuck["status"]).virtualService)
    }).pipe(Effect.scoped))
})
