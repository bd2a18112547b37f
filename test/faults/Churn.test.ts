/**
 * Churn: Apis created, converged and deleted, round after round, against the controller bundle
 * in a process of its own (with the Deployment's NODE_OPTIONS). Every round converges, and its
 * deletion leaves no Api and no child behind; the controller logs no uncaught error.
 *
 * Memory across the rounds is a measurement, not a verdict: soak runs (`npm run test:soak`:
 * 1,000 Apis, three rounds) print the RSS each round leaves once idle, with V8's heap beside it,
 * and judge nothing, since RSS on a shared two-core machine moves with when V8 last collected.
 * Without a heap cap V8 sizes its heap from the machine (4 GiB here) and let the RSS grow by
 * ~80 MiB per round before collecting; the Deployment's cap is pinned by test/deploy/Manifests.test.ts.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Kinds } from "../../src/domain/Kube.ts"
import { MetricNames } from "../../src/runtime/Metrics.ts"
import { deploymentContainer } from "../deploy/Manifests.ts"
import type { ControllerProcess } from "./support/ControllerProcess.ts"
import { metricSum, uncaughtErrors } from "./support/ControllerProcess.ts"
import { figureOf, report, snapshot } from "./support/Figures.ts"
import { convergeFresh, names, plainApi, sleep, startWorld, type World } from "./support/Scenario.ts"
import { Sizes, SOAK } from "./support/Sizes.ts"

const COUNT = Sizes.churnApis
const ROUNDS = Sizes.churnRounds
const MiB = 2 ** 20

let w: World
let c: ControllerProcess

beforeAll(async () => {
  w = await startWorld("churn")
  // As the Deployment runs it: with its NODE_OPTIONS (the heap cap that goes with its memory limit).
  const nodeOptions = deploymentContainer().env?.find((e) => e.name === "NODE_OPTIONS")?.value
  c = await w.controller("churn", [], nodeOptions !== undefined ? { NODE_OPTIONS: nodeOptions } : {})
  await c.start()
})

afterAll(async () => {
  await w?.stop()
})

/** Until the queue has been empty for `quietMs` (from /metrics): only to read memory at rest. */
const idle = async (quietMs = 3_000) => {
  let since: number | undefined
  for (;;) {
    const depth = metricSum(await c.metrics(), "api_controller_workqueue_depth")
    if (depth > 0) since = undefined
    else if (since === undefined) since = Date.now()
    else if (Date.now() - since >= quietMs) return
    await sleep(250)
  }
}

/**
 * The RSS a round leaves once V8 has had its idle time: the lowest of one reading a second for
 * `SETTLE_MS` (the first reading is reported too). V8 collects an idle heap on its own (its memory
 * reducer starts some seconds after allocation slows down), so one reading taken at a fixed moment
 * measures when the last collection happened as much as what is left: a CI run read
 * 214 / 214 / 269 MiB that way.
 */
const SETTLE_MS = 30_000
const settledRss = async () => {
  const first = c.rss() ?? NaN
  let lowest = first
  for (const end = Date.now() + SETTLE_MS; Date.now() < end;) {
    await sleep(1_000)
    lowest = Math.min(lowest, c.rss() ?? Infinity)
  }
  return { first, lowest }
}

/** What the controller's process holds once a round is over (soak runs only). */
const memoryAtRest = async () => {
  await idle()
  const settled = await settledRss()
  // What V8 holds of it (the controller's /metrics): live heap, and the young generation.
  const m = await c.metrics()
  const mib = (area: string) => (metricSum(m, MetricNames.memoryBytes, new RegExp(`area="${area}"`)) / MiB).toFixed(0)
  return { ...settled, heap: `${mib("heap_used")}/${mib("young_generation")}` }
}

describe("churn", () => {
  it(`${COUNT} Apis created and deleted ${ROUNDS} times: every round converges and leaves no Api or child behind`, async () => {
    const memory: Array<Awaited<ReturnType<typeof memoryAtRest>>> = []
    const seconds: Array<string> = []
    for (let round = 1; round <= ROUNDS; round++) {
      const ns = `churn-${round}`
      const converged = await convergeFresh(w, ns, COUNT, 300_000, plainApi)
      const started = Date.now()
      let next = 0
      const all = names(COUNT)
      await Promise.all(Array.from({ length: 16 }, async () => {
        while (next < all.length) {
          const name = all[next++]!
          await w.client.retry((k) => k.delete(Kinds.Api, ns, name))
        }
      }))
      // The garbage collector removes the children; until then they are not orphans yet.
      for (;;) {
        const s = await snapshot(w.client)
        const left = [...s.apis, ...s.virtualServices, ...s.policies].filter((o) => o.metadata.namespace === ns)
        if (left.length === 0) break
        if (Date.now() - started > 300_000) {
          assert.fail(`round ${round}: still there 300 s after the deletion: ${left.slice(0, 5).map((o) => `${o.kind} ${o.metadata.name}`).join(", ")}`)
        }
        await sleep(1_000)
      }
      seconds.push(`${converged.toFixed(0)}+${((Date.now() - started) / 1000).toFixed(0)}`)
      if (SOAK) memory.push(await memoryAtRest())
    }
    const s = await snapshot(w.client)
    const mib = (n: number) => (n / MiB).toFixed(0)
    const figures = SOAK
      ? {
        "rss after rounds MiB": memory.map((m) => mib(m.lowest)).join(" / "),
        "first reading MiB": memory.map((m) => mib(m.first)).join(" / "),
        "heap used/young gen MiB": memory.map((m) => m.heap).join(" / "),
        [`round ${ROUNDS} vs 1`]: `${((memory.at(-1)!.lowest / memory[0]!.lowest - 1) * 100).toFixed(1)}%`
      }
      : {}
    report(figureOf(`churn: ${COUNT} Apis created and deleted ${ROUNDS} times`, {
      total: 0,
      converged: 0,
      duplicates: [],
      orphans: s.virtualServices.concat(s.policies).filter((o) => (o.metadata.namespace ?? "").startsWith("churn-")).map((o) => o.metadata.name),
      notConverged: []
    }, undefined, { ...figures, "converge+delete s": seconds.join(", ") }))
    assert.deepStrictEqual(uncaughtErrors(c.lines()), [])
    assert.deepStrictEqual(c.stray(), [])
  })
})
