import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestConsole } from "effect/testing"
import { vi } from "vitest"
import * as Logging from "../../src/runtime/Logging.ts"

/**
 * Runs `self` with the logging layer, the Effect console swapped for a recording one (fresh per
 * call: layers are memoized within a test).
 */
const captured = <A, E>(options: Logging.LoggingOptions, self: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    yield* self
    return (yield* TestConsole.logLines).map(String)
  }).pipe(Effect.provide(Layer.merge(Logging.layer(options), Layer.fresh(TestConsole.layer))))

const parse = (line: string): Record<string, unknown> => {
  assert.notInclude(line, "\n", "one entry, one line")
  return JSON.parse(line) as Record<string, unknown>
}

/** What the reconciler does: annotate a pass with its Api key, log inside it. */
const pass = Effect.gen(function*() {
  yield* Effect.logInfo("pass started")
  yield* Effect.logDebug("read from cache", { generation: 3 })
  yield* Effect.logWarning("hostname occupied")
}).pipe(Effect.annotateLogs({ api: "team-a/orders" }))

describe("Logging", () => {
  it.effect("json: one JSON object per line, with the api annotation as a top-level key on every line", () =>
    Effect.gen(function*() {
      const lines = yield* captured({ format: "json", level: "Debug" }, pass)
      assert.strictEqual(lines.length, 3)
      const entries = lines.map(parse)
      for (const e of entries) {
        assert.strictEqual(e["api"], "team-a/orders")
        assert.isString(e["timestamp"])
        assert.isFalse(Number.isNaN(Date.parse(e["timestamp"] as string)))
        assert.isString(e["fiberId"])
      }
      assert.deepStrictEqual(entries.map((e) => e["level"]), ["INFO", "DEBUG", "WARN"])
      assert.strictEqual(entries[0]!["message"], "pass started")
      // extra values passed to the log call stay structured
      assert.deepStrictEqual(entries[1]!["message"], ["read from cache", { generation: 3 }])
      // the fixed keys come first, so a line reads naturally
      assert.deepStrictEqual(Object.keys(entries[0]!).slice(0, 4), ["timestamp", "level", "message", "api"])
    }))

  it.effect("json is the default, Info the default minimum level", () =>
    Effect.gen(function*() {
      const lines = yield* captured({}, pass)
      assert.deepStrictEqual(lines.map(parse).map((e) => e["level"]), ["INFO", "WARN"])
    }))

  it.effect("the minimum level drops lower lines", () =>
    Effect.gen(function*() {
      const log = Effect.gen(function*() {
        yield* Effect.logTrace("t")
        yield* Effect.logDebug("d")
        yield* Effect.logInfo("i")
        yield* Effect.logWarning("w")
        yield* Effect.logError("e")
      })
      const levels = (level: Logging.LoggingOptions["level"]) =>
        Effect.map(captured({ level }, log), (lines) => lines.map(parse).map((e) => e["message"]))
      assert.deepStrictEqual(yield* levels("Trace"), ["t", "d", "i", "w", "e"])
      assert.deepStrictEqual(yield* levels("Debug"), ["d", "i", "w", "e"])
      assert.deepStrictEqual(yield* levels("Info"), ["i", "w", "e"])
      assert.deepStrictEqual(yield* levels("Warn"), ["w", "e"])
      assert.deepStrictEqual(yield* levels("Error"), ["e"])
    }))

  it.effect("json: spans and a failure's cause are included; an annotation named like a fixed key does not overwrite it", () =>
    Effect.gen(function*() {
      const lines = yield* captured(
        {},
        Effect.gen(function*() {
          yield* Effect.logInfo("plain")
          yield* Effect.logError("write failed", new Error("409 Conflict")).pipe(
            Effect.withLogSpan("reconcile"),
            Effect.annotateLogs({ level: "sneaky", message: "also sneaky" })
          )
          yield* Effect.fail("patch refused").pipe(Effect.tapCause((cause) => Effect.logError("pass failed", cause)), Effect.ignore)
        })
      )
      const [plain, failed, withCause] = lines.map(parse)
      assert.isUndefined(plain!["spans"])
      assert.isUndefined(plain!["cause"])
      assert.isUndefined(plain!["annotations"])
      assert.strictEqual(failed!["level"], "ERROR")
      assert.strictEqual((failed!["message"] as Array<unknown>)[0], "write failed")
      assert.deepStrictEqual(failed!["annotations"], { level: "sneaky", message: "also sneaky" })
      assert.isNumber((failed!["spans"] as Record<string, unknown>)["reconcile"])
      assert.include(String(withCause!["cause"]), "patch refused")
    }))

  it.effect("pretty: human-readable, not JSON, still carries the message and the api annotation", () =>
    Effect.gen(function*() {
      const lines = yield* captured({ format: "pretty" }, pass)
      const text = lines.join("\n")
      assert.include(text, "pass started")
      assert.include(text, "team-a/orders")
      assert.throws(() => JSON.parse(lines[0]!))
    }))

  it.live("json lines go to stdout through console.log when the console is not swapped", () =>
    Effect.gen(function*() {
      const spy = vi.spyOn(console, "log").mockImplementation(() => {})
      try {
        yield* Effect.logInfo("to stdout").pipe(Effect.annotateLogs({ api: "ns/a" }), Effect.provide(Logging.layer()))
        const lines = spy.mock.calls.map((args) => String(args[0]))
        assert.strictEqual(lines.length, 1)
        const e = parse(lines[0]!)
        assert.strictEqual(e["message"], "to stdout")
        assert.strictEqual(e["api"], "ns/a")
      } finally {
        spy.mockRestore()
      }
    }))
})
