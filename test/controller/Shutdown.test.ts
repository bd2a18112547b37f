/**
 * Graceful shutdown of the whole app (src/runtime/App.ts) on the in-memory cluster: when the
 * app's scope closes, workers stop taking keys, a pass already running finishes (its status is
 * written), and a pass that outlives the grace period is cut off so shutdown stays bounded.
 *
 * A pass is held in flight by a `KubeApi` wrapper that parks the create of one VirtualService
 * until the test lets it go.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { decodeStatus } from "../../src/domain/Api.ts"
import { Kinds } from "../../src/domain/Kube.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { MemoryCluster } from "../support/MemoryCluster.ts"
import { appWith } from "../../src/runtime/App.ts"
import * as Logging from "../../src/runtime/Logging.ts"
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
    yield* Layer.buildWithScope(
      appWith(Layer.succeed(KubeApi, gated), {
        config: testConfig,
        controller: { workers: 1, resyncPeriod: Duration.hours(1), shutdownGrace }
      }).pipe(Layer.provide(Logging.layer({ format: "pretty", level: "Error" }))),
      scope
    )
    return { kube, entered, release, close: Scope.close(scope, Exit.void) }
  })

const spec = (name: string) => ({ service: { name, port: 80 }, hostname: name })

describe("graceful shutdown", () => {
  it.live("a pass in flight when the app stops finishes and writes its status; queued keys are not started", () =>
    Effect.gen(function*() {
      const { kube, entered, release, close } = yield* setup("slow", Duration.seconds(10))
      yield* kube.create(Kinds.Api, apiObject("team", "slow", spec("slow")))
      yield* Deferred.await(entered)
      // The only worker is busy: this one waits in the queue.
      yield* kube.create(Kinds.Api, apiObject("team", "queued", spec("queued")))
      yield* Effect.sleep("50 millis")

      const closing = yield* Effect.forkChild(close)
      yield* Effect.sleep("200 millis")
      assert.isUndefined(closing.pollUnsafe(), "shutdown waits for the pass in flight")

      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(closing)

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

  it.live("a pass that outlives the grace period is cut off: shutdown stays bounded", () =>
    Effect.gen(function*() {
      const { kube, entered, close } = yield* setup("stuck", Duration.millis(300))
      yield* kube.create(Kinds.Api, apiObject("team", "stuck", spec("stuck")))
      yield* Deferred.await(entered)
      const started = Date.now()
      yield* close
      const took = Date.now() - started
      assert.isAtLeast(took, 250, "it waited for the pass")
      assert.isBelow(took, 2_000, "but not past the grace period")
      // The pass never got to its status write; the next controller's first pass does it.
      const stuck = yield* kube.get(Kinds.Api, "team", "stuck")
      assert.isUndefined(decodeStatus(stuck["status"]).virtualService)
    }).pipe(Effect.scoped))
})
