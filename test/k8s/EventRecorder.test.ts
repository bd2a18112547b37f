/**
 * The Event writer yields the API server to convergence: while passes wait in the work queue it
 * holds Events back (each for at most HOLD_LIMIT, and only while fewer than HOLD_ROOM wait), and
 * writes them once the queue has drained.
 * In-memory cluster, TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Latch, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Kinds } from "../../src/domain/Kube.ts"
import { EventRecorder, HOLD_LIMIT, HOLD_ROOM } from "../../src/k8s/EventRecorder.ts"
import { MemoryCluster } from "../support/MemoryCluster.ts"
import { apiObject } from "../support/Fixtures.ts"

const world = EventRecorder.layer.pipe(Layer.provideMerge(MemoryCluster.layer()))

const api = apiObject("ns", "orders", { service: { name: "orders", port: 80 }, hostname: "orders" })
const ready = { type: "Normal", reason: "Ready", message: "exposed" } as const

/** Lets the writer fiber run without moving the clock. */
const settleFibers = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

/** A work queue's `idle` latch (open while no key waits), as the app hands it over. */
const queueOf = (depth: number) => Latch.makeUnsafe(depth === 0)

const written = Effect.gen(function*() {
  yield* settleFibers
  return (yield* (yield* MemoryCluster).objects(Kinds.Event, "ns")).length
})

describe("event recorder", () => {
  it.effect("an Event is written at once when no pass waits", () =>
    Effect.gen(function*() {
      const events = yield* EventRecorder
      yield* events.holdWhileBusy(queueOf(0))
      yield* events.record(api, ready)
      assert.strictEqual(yield* written, 1)
    }).pipe(Effect.provide(world)))

  it.effect("while passes wait, Events are held, and written once the queue has drained", () =>
    Effect.gen(function*() {
      const events = yield* EventRecorder
      const idle = queueOf(12)
      yield* events.holdWhileBusy(idle)
      yield* events.record(api, ready)
      yield* events.record(api, { type: "Warning", reason: "HostnameTaken", message: "taken" })
      yield* TestClock.adjust(Duration.seconds(5))
      assert.strictEqual(yield* written, 0, "held while 12 passes wait")
      idle.openUnsafe()
      assert.strictEqual(yield* written, 2, "both written once the queue drained, without the clock moving")
    }).pipe(Effect.provide(world)))

  it.effect("a held Event is written after HOLD_LIMIT even if passes keep waiting", () =>
    Effect.gen(function*() {
      const events = yield* EventRecorder
      yield* events.holdWhileBusy(queueOf(3))
      yield* events.record(api, ready)
      yield* TestClock.adjust(Duration.subtract(HOLD_LIMIT, Duration.seconds(1)))
      assert.strictEqual(yield* written, 0)
      yield* TestClock.adjust(Duration.seconds(1))
      assert.strictEqual(yield* written, 1)
    }).pipe(Effect.provide(world)))

  it.effect("with HOLD_ROOM Events waiting, the oldest are written however busy the work queue is: none is dropped for holding", () =>
    Effect.gen(function*() {
      const events = yield* EventRecorder
      yield* events.holdWhileBusy(queueOf(500))
      const recorded = HOLD_ROOM + 5
      for (let i = 0; i < recorded; i++) yield* events.record(api, { type: "Normal", reason: "Ready", message: `exposed ${i}` })
      // Written until fewer than HOLD_ROOM wait (the one held counts): the 6 oldest.
      assert.strictEqual(yield* written, recorded - HOLD_ROOM + 1)
      yield* TestClock.adjust(Duration.seconds(30))
      assert.strictEqual(yield* written, recorded - HOLD_ROOM + 1, "the rest are still held")
    }).pipe(Effect.provide(world)))

  it.effect("flush writes held Events without waiting for the queue (shutdown)", () =>
    Effect.gen(function*() {
      const events = yield* EventRecorder
      yield* events.holdWhileBusy(queueOf(7))
      yield* events.record(api, ready)
      yield* events.flush
      assert.strictEqual((yield* (yield* MemoryCluster).objects(Kinds.Event, "ns")).length, 1)
    }).pipe(Effect.provide(world)))

  it.effect("on shutdown, Events still held are written", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const events = Context.get(yield* Layer.build(EventRecorder.layer), EventRecorder)
        yield* events.holdWhileBusy(queueOf(40))
        yield* events.record(api, ready)
        assert.strictEqual(yield* written, 0, "held")
      }))
      assert.strictEqual((yield* (yield* MemoryCluster).objects(Kinds.Event, "ns")).length, 1, "written as the recorder stopped")
    }).pipe(Effect.provide(MemoryCluster.layer())))

  it.effect("a repeat of the same Event on the same Api counts up the Event already written", () =>
    Effect.gen(function*() {
      const events = yield* EventRecorder
      const warning = { type: "Warning", reason: "HostnameTaken", message: "taken" } as const
      yield* events.record(api, warning)
      yield* events.record(api, warning)
      yield* events.flush
      const all = yield* (yield* MemoryCluster).objects(Kinds.Event, "ns")
      assert.deepStrictEqual(all.map((e) => e["count"]), [2])
    }).pipe(Effect.provide(world)))
})
