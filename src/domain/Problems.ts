/**
 * Turns a schema decoding failure into short human sentences, one per problem, each naming the
 * field: `spec.service.port: expected an integer between 1 and 65535, got "http"`.
 * Users read these in `status.*.lastError` and at controller start, so they must say what is
 * wrong and where, without the schema library's internal vocabulary.
 */
import { SchemaIssue } from "effect"
import type { SchemaAST } from "effect"

export interface Problem {
  readonly path: string
  readonly message: string
}

export const formatProblem = (p: Problem): string => (p.path === "" ? p.message : `${p.path}: ${p.message}`)

/** Problems spelled out in one message before the rest are counted (SPEC 6: `lastError` stays bounded). */
export const MAX_PROBLEMS_SPELLED_OUT = 5

/** How long one spelled-out problem may be, so five of them and the count fit in a bounded lastError. */
export const MAX_PROBLEM_LENGTH = 196

const capped = (text: string) => (text.length <= MAX_PROBLEM_LENGTH ? text : `${text.slice(0, MAX_PROBLEM_LENGTH - 1)}…`)

/** `a: ...; b: ...`, the first few spelled out (each at most 196 characters), then "and N more". */
export const formatProblems = (ps: ReadonlyArray<Problem>, limit: number = MAX_PROBLEMS_SPELLED_OUT): string => {
  const shown = ps.slice(0, limit).map((p) => capped(formatProblem(p))).join("; ")
  const rest = ps.length - limit
  return rest > 0 ? `${shown}; and ${rest} more` : shown
}

const joinPath = (base: string, key: PropertyKey): string =>
  typeof key === "number" ? `${base}[${key}]` : base === "" ? String(key) : `${base}.${String(key)}`

const show = (u: unknown): string => {
  if (u === undefined) return "nothing"
  if (typeof u === "string") return JSON.stringify(u.length > 80 ? `${u.slice(0, 77)}...` : u)
  try {
    const s = JSON.stringify(u)
    return s.length > 80 ? `${s.slice(0, 77)}...` : s
  } catch {
    return String(u)
  }
}

const got = (issue: SchemaIssue.Issue): string => (SchemaIssue.hasInput(issue) ? `, got ${show(issue.input)}` : "")

/** The `expected` text a schema author attached, on the node or on its last check. */
const expectedOf = (ast: SchemaAST.AST | undefined): string | undefined => {
  if (ast === undefined) return undefined
  const own = ast.annotations?.["expected"]
  if (typeof own === "string") return own
  const checks = ast.checks
  if (checks !== undefined) {
    for (let i = checks.length - 1; i >= 0; i--) {
      const e = checks[i]?.annotations?.["expected"]
      if (typeof e === "string") return e
    }
  }
  return undefined
}

/** `one of "a", "b"` for a union of literals, so the reader sees the allowed values. */
const literalsOf = (ast: SchemaAST.Union): string | undefined => {
  const values: Array<string> = []
  for (const t of ast.types) {
    if (t._tag !== "Literal") return undefined
    values.push(typeof t.literal === "bigint" ? `${t.literal}n` : JSON.stringify(t.literal))
  }
  return values.length === 0 ? undefined : `one of ${values.join(", ")}`
}

const lowerFirst = (s: string): string => (s.length === 0 ? s : s[0]!.toLowerCase() + s.slice(1))

const walk = (issue: SchemaIssue.Issue, path: string, out: Array<Problem>): void => {
  switch (issue._tag) {
    case "Pointer": {
      let p = path
      for (const k of issue.path) p = joinPath(p, k)
      return walk(issue.issue, p, out)
    }
    case "Composite": {
      // Only when the value has the right shape and a check on it failed does the node's own
      // description fit; a member that is wrong is reported at the member, where it is.
      const expected = expectedOf(issue.ast)
      if (expected !== undefined && issue.issues.every((i) => i._tag === "Filter")) {
        out.push({ path, message: `expected ${expected}${got(issue)}` })
        return
      }
      for (const i of issue.issues) walk(i, path, out)
      return
    }
    case "AnyOf": {
      const expected = expectedOf(issue.ast) ?? literalsOf(issue.ast)
      if (expected !== undefined) out.push({ path, message: `expected ${expected}${got(issue)}` })
      else if (issue.issues.length === 1) walk(issue.issues[0]!, path, out)
      else out.push({ path, message: `does not match any allowed shape${got(issue)}` })
      return
    }
    case "Filter": {
      const e = issue.filter.annotations?.["expected"]
      const message = issue.filter.annotations?.["message"]
      if (typeof message === "string") out.push({ path, message })
      else if (typeof e === "string") out.push({ path, message: `expected ${e}${got(issue)}` })
      else walk(issue.issue, path, out)
      return
    }
    case "Encoding":
      return walk(issue.issue, path, out)
    case "MissingKey": {
      const message = issue.annotations?.messageMissingKey
      out.push({ path, message: typeof message === "string" ? message : "is required" })
      return
    }
    case "UnexpectedKey":
      out.push({ path, message: "is not a known field" })
      return
    case "InvalidType": {
      const expected = expectedOf(issue.ast)
      // The library's own wording ("Expected string"), with the input shown our (shortened) way.
      const what = expected !== undefined
        ? `expected ${expected}`
        : lowerFirst(SchemaIssue.defaultLeafHook(new SchemaIssue.InvalidType(issue.ast)))
      out.push({ path, message: `${what}${got(issue)}` })
      return
    }
    default:
      out.push({ path, message: lowerFirst(SchemaIssue.defaultLeafHook(issue)) })
  }
}

/** Every problem in an issue tree, paths prefixed with `root` (e.g. `"spec"`). */
export const problemsOf = (issue: SchemaIssue.Issue, root = ""): ReadonlyArray<Problem> => {
  const out: Array<Problem> = []
  walk(issue, root, out)
  return out
}
