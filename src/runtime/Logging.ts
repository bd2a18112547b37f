/**
 * How the controller logs: one JSON object per line on stdout for machines (the default in a
 * cluster), or Effect's pretty console output for humans (`--log-format pretty`), with a
 * minimum level (SPEC 9 `LOG_LEVEL`).
 *
 * A JSON line carries `timestamp`, `level`, `message`, then every log annotation as a top-level
 * key (the reconciler's `Effect.annotateLogs({ api: "ns/name" })` becomes `"api":"ns/name"`, so
 * `jq 'select(.api == "ns/name")'` or a log store's field filter finds one Api's lines), then
 * `spans` and `cause` when there are any, and `fiberId`. An annotation whose name is one of those
 * fixed keys is kept under `annotations` instead of overwriting it.
 *
 * Provide the layer outermost (`App.pipe(Layer.provide(Logging.layer(...)))`), so logs from
 * layer construction and finalizers use it too.
 */
import { Formatter, Layer, Logger, References, Schema } from "effect"
import type { LogLevel } from "../domain/ControllerConfig.ts"

export const LogFormat = Schema.Literals(["json", "pretty"])
export type LogFormat = typeof LogFormat.Type

export interface LoggingOptions {
  /** Default `json`. */
  readonly format?: LogFormat | undefined
  /** Lines below this level are dropped. Default `Info`. */
  readonly level?: LogLevel | undefined
}

const FIXED_KEYS = new Set(["timestamp", "level", "message", "spans", "cause", "fiberId", "annotations"])

/** The JSON line of one log entry (without the newline); a pure formatter, for reuse and tests. */
export const formatJsonLine: Logger.Logger<unknown, string> = Logger.map(Logger.formatStructured, (entry) => {
  const line: Record<string, unknown> = {
    timestamp: entry.timestamp,
    level: entry.level,
    message: entry.message
  }
  const clashing: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(entry.annotations)) {
    if (FIXED_KEYS.has(key)) clashing[key] = value
    else line[key] = value
  }
  if (Object.keys(clashing).length > 0) line["annotations"] = clashing
  if (Object.keys(entry.spans).length > 0) line["spans"] = entry.spans
  if (entry.cause !== undefined) line["cause"] = entry.cause
  line["fiberId"] = entry.fiberId
  return Formatter.formatJson(line)
})

/** Writes one JSON line per entry to the Effect `Console` (stdout by default). */
export const jsonLogger: Logger.Logger<unknown, void> = Logger.withConsoleLog(formatJsonLine)

/** Effect's pretty console logger (colours when the output is a terminal). */
export const prettyLogger: Logger.Logger<unknown, void> = Logger.consolePretty()

/**
 * Replaces the default logger with the JSON or pretty one and sets the minimum level.
 *
 *   program.pipe(Effect.provide(Logging.layer({ format: "json", level: config.logLevel })))
 */
export const layer = (options: LoggingOptions = {}): Layer.Layer<never> =>
  Layer.mergeAll(
    Logger.layer([options.format === "pretty" ? prettyLogger : jsonLogger]),
    Layer.succeed(References.MinimumLogLevel, options.level ?? "Info")
  )
