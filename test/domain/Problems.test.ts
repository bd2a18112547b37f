import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { formatProblem, formatProblems, type Problem, problemsOf } from "../../src/domain/Problems.ts"

/** Decode as the controller does (all errors, input reported) and return the problems. */
const problems = <S extends Schema.Top>(
  schema: S,
  input: unknown,
  options: { readonly onExcessProperty?: "error" } = {}
): ReadonlyArray<Problem> => {
  const r = Schema.decodeUnknownResult(schema as unknown as Schema.Decoder<unknown>)(input, {
    errors: "all",
    reportInput: true,
    ...options
  })
  return Result.isFailure(r) ? problemsOf(r.failure.issue, "spec") : []
}

const lines = (ps: ReadonlyArray<Problem>): ReadonlyArray<string> => ps.map(formatProblem)

describe("formatProblem", () => {
  it("puts the field first, then the sentence", () => {
    assert.strictEqual(formatProblem({ path: "spec.hostname", message: "is required" }), "spec.hostname: is required")
  })

  it("omits the colon when there is no field", () => {
    assert.strictEqual(formatProblem({ path: "", message: "something is wrong" }), "something is wrong")
  })

  it("joins several problems with '; ' in order", () => {
    assert.strictEqual(
      formatProblems([{ path: "a", message: "is required" }, { path: "b", message: "is required" }]),
      "a: is required; b: is required"
    )
  })

  it("renders no problems as the empty string", () => {
    assert.strictEqual(formatProblems([]), "")
  })
})

describe("problemsOf", () => {
  const Port = Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 65535 }))).annotate({
    expected: "an integer between 1 and 65535"
  })

  it("says what was expected and what was given, using the schema author's words", () => {
    assert.deepStrictEqual(lines(problems(Schema.Struct({ port: Port }), { port: "http" })), [
      "spec.port: expected an integer between 1 and 65535, got \"http\""
    ])
  })

  it("uses the same words when the type is right but a check fails", () => {
    assert.deepStrictEqual(lines(problems(Schema.Struct({ port: Port }), { port: 70000 })), [
      "spec.port: expected an integer between 1 and 65535, got 70000"
    ])
  })

  it("reports a missing field as required", () => {
    assert.deepStrictEqual(lines(problems(Schema.Struct({ name: Schema.String }), {})), ["spec.name: is required"])
  })

  it("names nested fields with dots and list items with [index]", () => {
    const S = Schema.Struct({ a: Schema.Struct({ b: Schema.Array(Schema.Struct({ c: Schema.Number })) }) })
    assert.deepStrictEqual(lines(problems(S, { a: { b: [{ c: 1 }, { c: "x" }] } })), [
      "spec.a.b[1].c: expected number, got \"x\""
    ])
  })

  it("reports every problem, one per field, not just the first", () => {
    const S = Schema.Struct({ a: Schema.String, b: Schema.Number, c: Schema.Boolean })
    assert.deepStrictEqual(lines(problems(S, { a: 1, c: "no" })), [
      "spec.a: expected string, got 1",
      "spec.b: is required",
      "spec.c: expected boolean, got \"no\""
    ])
  })

  it("uses the root as the path when the whole value is wrong", () => {
    assert.deepStrictEqual(lines(problems(Schema.Struct({ a: Schema.String }), "nope")), [
      "spec: expected object, got \"nope\""
    ])
  })

  it("an empty root gives paths without a leading dot", () => {
    const r = Schema.decodeUnknownResult(Schema.Struct({ a: Schema.String }))({}, { errors: "all" })
    assert.isTrue(Result.isFailure(r))
    if (Result.isFailure(r)) assert.deepStrictEqual(problemsOf(r.failure.issue), [{ path: "a", message: "is required" }])
  })

  it("uses a filter's own message when it has one", () => {
    const S = Schema.String.pipe(Schema.check(Schema.makeFilter((s: string) => s.length > 3, { message: "must be longer than 3" })))
    assert.deepStrictEqual(lines(problems(S, "ab")), ["spec: must be longer than 3"])
  })

  it("reports a structural failure inside a checked object at the member, not as the object's check", () => {
    const OneOf = Schema.Struct({ a: Schema.optionalKey(Schema.String), b: Schema.optionalKey(Schema.String) }).pipe(
      Schema.check(Schema.makeFilter((o: { a?: string; b?: string }) => (o.a === undefined) !== (o.b === undefined), {
        expected: "exactly one of a or b"
      }))
    )
    assert.deepStrictEqual(lines(problems(OneOf, { a: 5 })), ["spec.a: expected string, got 5"])
    assert.deepStrictEqual(lines(problems(OneOf, {})), ["spec: expected exactly one of a or b, got {}"])
  })

  it("lists the allowed values of a literal union", () => {
    assert.deepStrictEqual(lines(problems(Schema.Literals(["Info", "Debug"]), "loud")), [
      "spec: expected one of \"Info\", \"Debug\", got \"loud\""
    ])
  })

  it("says no shape matched for a union of objects", () => {
    const U = Schema.Union([Schema.Struct({ a: Schema.String }), Schema.Struct({ b: Schema.String })])
    assert.deepStrictEqual(lines(problems(U, { c: 1 })), ["spec: does not match any allowed shape, got {\"c\":1}"])
  })

  it("calls an unexpected key an unknown field when excess keys are errors", () => {
    const S = Schema.Struct({ a: Schema.String })
    assert.deepStrictEqual(lines(problems(S, { a: "x", b: 1 }, { onExcessProperty: "error" })), [
      "spec.b: is not a known field"
    ])
  })

  it("shortens long inputs so one problem stays one readable line", () => {
    const [line] = lines(problems(Schema.Number, "x".repeat(500)))
    assert.isDefined(line)
    assert.isBelow(line!.length, 120)
    assert.isTrue(line!.endsWith("...\""), line)
  })

  it("gives the same problems for the same input (determinism)", () => {
    const S = Schema.Struct({ a: Schema.String, b: Port })
    assert.deepStrictEqual(problems(S, { b: 0 }), problems(S, { b: 0 }))
  })
})

describe("formatProblems keeps lastError bounded (SPEC 6)", () => {
  it("spells out five problems, each at most 196 characters, then says how many more there are", () => {
    const many = Array.from({ length: 1024 }, (_, i) => ({ path: `spec.x[${i}]`, message: `${"(".repeat(300)} is not a valid regular expression` }))
    const text = formatProblems(many)
    assert.match(text, /; and 1019 more$/)
    assert.isAtMost(text.length, 1024, "fits the bounded lastError (machines/Child.ts MAX_MESSAGE)")
    assert.strictEqual(text.split("; ").length, 6)
  })
})
