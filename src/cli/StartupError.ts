/** A problem found before anything started: printed as one line per problem, exit code 2. */
import { Schema } from "effect"

export class StartupError extends Schema.TaggedError<StartupError>()("StartupError", {
  problems: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return this.problems.join("\n")
  }
}

/** `15s`, `2m`, `1h30m`, `500ms`: the Go-style durations Kubernetes users know. */
export const parseDuration = (raw: string): number | undefined => {
  const s = raw.trim()
  if (/^\d+$/.test(s)) return Number(s) * 1000
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy
  let total = 0
  let matched = 0
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    const n = Number(m[1])
    total += m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : m[2] === "m" ? n * 60_000 : n * 3_600_000
    matched += m[0].length
  }
  return matched === s.length && matched > 0 ? total : undefined
}
