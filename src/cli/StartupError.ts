/** A problem found before anything started: printed as one line per problem, exit code 2. */
import { Schema } from "effect"

export class StartupError extends Schema.TaggedError<StartupError>()("StartupError", {
  problems: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return this.problems.join("\n")
  }
}
