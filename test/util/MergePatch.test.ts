import { assert, describe, it } from "@effect/vitest"
import { applyMergePatch, diffMergePatch, jsonEqual } from "../../src/util/MergePatch.ts"

/** RFC 7386 Appendix A, every row: original, patch, result. */
const rfc7386: ReadonlyArray<readonly [unknown, unknown, unknown]> = [
  [{ a: "b" }, { a: "c" }, { a: "c" }],
  [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
  [{ a: "b" }, { a: null }, {}],
  [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
  [{ a: ["b"] }, { a: "c" }, { a: "c" }],
  [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
  [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
  [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
  [["a", "b"], ["c", "d"], ["c", "d"]],
  [{ a: "b" }, ["c"], ["c"]],
  [{ a: "foo" }, null, null],
  [{ a: "foo" }, "bar", "bar"],
  [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  [[1, 2], { a: "b", c: null }, { a: "b" }],
  [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }]
]

describe("applyMergePatch", () => {
  rfc7386.forEach(([original, patch, result], i) => {
    it(`follows RFC 7386 example ${i + 1}: ${JSON.stringify(original)} + ${JSON.stringify(patch)}`, () => {
      assert.deepStrictEqual(applyMergePatch(original, patch), result)
    })
  })

  it("does not change its inputs", () => {
    const target = { a: { b: 1 }, c: [1, 2] }
    const patch = { a: { b: 2 }, c: null }
    applyMergePatch(target, patch)
    assert.deepStrictEqual(target, { a: { b: 1 }, c: [1, 2] })
    assert.deepStrictEqual(patch, { a: { b: 2 }, c: null })
  })

  it("returns a copy of a replacing value, not the patch's own object", () => {
    const patch = { a: [{ b: 1 }] }
    const out = applyMergePatch({}, patch) as { a: Array<{ b: number }> }
    out.a[0]!.b = 2
    assert.strictEqual(patch.a[0]!.b, 1)
  })
})

describe("jsonEqual", () => {
  it("ignores key order", () => {
    assert.isTrue(jsonEqual({ a: 1, b: { c: 2, d: 3 } }, { b: { d: 3, c: 2 }, a: 1 }))
  })

  it("treats an undefined key as absent", () => {
    assert.isTrue(jsonEqual({ a: 1, b: undefined }, { a: 1 }))
    assert.isTrue(jsonEqual({ a: 1 }, { a: 1, b: undefined }))
  })

  it("respects array order and length", () => {
    assert.isFalse(jsonEqual([1, 2], [2, 1]))
    assert.isFalse(jsonEqual([1, 2], [1, 2, 3]))
    assert.isTrue(jsonEqual([{ a: 1 }], [{ a: 1 }]))
  })

  it("tells null, absent, empty object and empty array apart", () => {
    assert.isFalse(jsonEqual({ a: null }, {}))
    assert.isFalse(jsonEqual({}, []))
    assert.isFalse(jsonEqual(null, {}))
    assert.isFalse(jsonEqual(0, "0"))
  })
})

describe("diffMergePatch", () => {
  it("is undefined when nothing changed, whatever the key order", () => {
    assert.isUndefined(diffMergePatch({ a: 1, b: { c: [1] } }, { b: { c: [1] }, a: 1 }))
  })

  it("contains only the changed keys", () => {
    assert.deepStrictEqual(diffMergePatch({ a: 1, b: 2, c: { d: 1, e: 1 } }, { a: 1, b: 3, c: { d: 1, e: 2 } }), {
      b: 3,
      c: { e: 2 }
    })
  })

  it("removes a key with null", () => {
    assert.deepStrictEqual(diffMergePatch({ a: 1, b: 2 }, { a: 1 }), { b: null })
  })

  it("replaces an array whole, as merge patch requires", () => {
    assert.deepStrictEqual(diffMergePatch({ a: [1, 2, 3] }, { a: [1, 2] }), { a: [1, 2] })
  })

  it("replaces a value of another type whole", () => {
    assert.deepStrictEqual(diffMergePatch({ a: { b: 1 } }, { a: "x" }), { a: "x" })
    assert.deepStrictEqual(diffMergePatch({ a: "x" }, { a: { b: 1 } }), { a: { b: 1 } })
  })

  it("turns a whole removed value into null", () => {
    assert.strictEqual(diffMergePatch({ a: 1 }, undefined), null)
  })

  it("shares no object with the target it was made from", () => {
    const to = { status: { conditions: [{ type: "Ready", status: "True" }], resource: { name: "a" } } }
    const patch = diffMergePatch({}, to) as typeof to
    assert.deepStrictEqual(patch, to)
    assert.notStrictEqual(patch.status, to.status)
    assert.notStrictEqual(patch.status.conditions, to.status.conditions)
    assert.notStrictEqual(patch.status.conditions[0], to.status.conditions[0])
    assert.notStrictEqual(patch.status.resource, to.status.resource)
  })

  it("applied to the original gives the target (round trip)", () => {
    const pairs: ReadonlyArray<readonly [unknown, unknown]> = [
      [{ metadata: { labels: { a: "1", b: "2" } }, spec: { hosts: ["x"] } }, {
        metadata: { labels: { a: "1", c: "3" } },
        spec: { hosts: ["y"], gateways: ["g"] }
      }],
      [{ status: { code: 1, lastError: "boom" } }, { status: { code: 2 } }],
      [{ a: [1] }, { a: { b: [2] } }],
      [{}, { a: { b: { c: "d" } } }]
    ]
    for (const [from, to] of pairs) {
      const patch = diffMergePatch(from, to)
      assert.deepStrictEqual(patch === undefined ? from : applyMergePatch(from, patch), to)
    }
  })

  it("gives the same patch for the same input (determinism)", () => {
    const from = { a: 1, b: { c: 2 } }
    const to = { a: 2, b: { d: 3 } }
    assert.deepStrictEqual(diffMergePatch(from, to), diffMergePatch(from, to))
  })
})
