import { assert, describe, it } from "@effect/vitest"
import { hash53 } from "../../src/util/Hash.ts"

describe("hash53", () => {
  it("is the same for the same string and differs for strings one character apart, within 53 bits", () => {
    const base = "Api/shop/orders@225|VirtualService/shop/orders@227|Policy/shop/orders@226"
    assert.strictEqual(hash53(base), hash53(`${base}`))
    const seen = new Set<number>()
    for (let i = 0; i < 20_000; i++) seen.add(hash53(`${base}|${i}`))
    assert.strictEqual(seen.size, 20_000, "no two of 20,000 near-identical strings collide")
    assert.notStrictEqual(hash53("a@10"), hash53("a@01"))
    for (const h of seen) assert.isTrue(Number.isSafeInteger(h) && h >= 0)
  })
})
