/**
 * The web view must never hurt the controller. Measured on the bundle (a process of its own, with
 * the Deployment's NODE_OPTIONS) serving `--web-port`: the time 100 new secured Apis take to
 * converge and the controller's RSS afterwards, first with no page open, then with 50 list pages
 * and 50 Api pages open (server-sent event streams read by this process, as browsers would).
 *
 * Wall time on a shared machine is noisy, so the controller's own CPU seconds over the same
 * window are printed too. Printed as figures; asserted only what must hold whatever the machine: every Api converges,
 * every stream sees the end state, and memory does not run away (the defect this guards against
 * took RSS from 283 to 733 MiB). The target, within 10% of none open, is in the figures.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Kinds } from "../../src/domain/Kube.ts"
import { deploymentContainer } from "../deploy/Manifests.ts"
import type { ControllerProcess } from "./support/ControllerProcess.ts"
import { freePort, uncaughtErrors } from "./support/ControllerProcess.ts"
import { figureOf, report, waitFor } from "./support/Figures.ts"
import { securedApi, sleep, startWorld, type World } from "./support/Scenario.ts"

const COUNT = 100
const MiB = 2 ** 20

let w: World
let c: ControllerProcess
let webPort = 0

beforeAll(async () => {
  w = await startWorld("web view load")
  webPort = await freePort()
  const nodeOptions = deploymentContainer().env?.find((e) => e.name === "NODE_OPTIONS")?.value
  c = await w.controller("web", ["--web-port", String(webPort)], nodeOptions !== undefined ? { NODE_OPTIONS: nodeOptions } : {})
  await c.start()
})

afterAll(async () => {
  await w?.stop()
})

/** A server-sent event stream read to the end: how many updates, and the last one. */
const openStream = (path: string) => {
  const abort = new AbortController()
  let updates = 0
  let lastData = ""
  let failed: string | undefined
  const done = (async () => {
    const res = await fetch(`http://127.0.0.1:${webPort}${path}`, { signal: abort.signal })
    if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`)
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ""
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      buffer += value
      let end: number
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const data = block.split("\n").find((l) => l.startsWith("data: "))
        // Counted now, parsed only when asked: the readers should cost little next to the controller.
        if (block.startsWith("event: update") && data !== undefined) {
          updates++
          lastData = data
        }
      }
    }
  })().catch((e: unknown) => {
    if (!abort.signal.aborted) failed = String(e)
  })
  const last = () => (lastData === "" ? "" : (JSON.parse(lastData.slice(6)) as { html: string }).html)
  return { updates: () => updates, last, failed: () => failed, close: () => abort.abort(), done }
}

/** Creates the Apis and waits for them; the seconds it took and the RSS once the queue is quiet. */
const converge = async (namespace: string) => {
  await w.client.ensureNamespace(namespace)
  const started = Date.now()
  const cpuBefore = c.cpuSeconds() ?? NaN
  await w.client.createAll(Kinds.Api, Array.from({ length: COUNT }, (_, i) => securedApi(namespace, i)))
  const { assessment, at } = await waitFor(w.client, {
    select: (a) => a.metadata.namespace === namespace,
    expected: COUNT,
    timeoutMs: 180_000,
    intervalMs: 250
  })
  assert.isDefined(at, assessment.notConverged.slice(0, 3).join("; "))
  const seconds = (at! - started) / 1000
  const cpu = (c.cpuSeconds() ?? NaN) - cpuBefore
  await sleep(3_000)
  return { seconds, cpu, rss: c.rss() ?? NaN, assessment }
}

describe("the web view under load", () => {
  it("100 Apis converge as fast, and in as little memory, with 100 pages open as with none", async () => {
    // Warm up (first Api of a kind, JIT), then the baseline with no page open.
    await converge("warm")
    await w.client.wipe("warm")
    const none = await converge("none")
    await w.client.wipe("none")
    await sleep(3_000)

    const ns = "pages"
    const streams = [
      ...Array.from({ length: 50 }, () => openStream("/events")),
      ...Array.from({ length: 50 }, (_, i) => openStream(`/apis/${ns}/api-${i}/events`))
    ]
    await sleep(2_000)
    const open = await converge(ns)
    // Every page reaches the end state: the list shows 100 Apis, each Api page its Ready.
    const deadline = Date.now() + 30_000
    const behind = () =>
      streams.filter((s, i) =>
        i < 50 ? !s.last().includes(`<span class="muted" id="count">${COUNT}</span>`) : !s.last().includes(`data-ready="True"`)
      ).length
    while (behind() > 0 && Date.now() < deadline) await sleep(250)
    const updates = streams.map((s) => s.updates())
    const failed = streams.map((s) => s.failed()).filter((f) => f !== undefined)
    for (const s of streams) s.close()

    const timeRatio = open.seconds / none.seconds
    const rssRatio = open.rss / none.rss
    report(figureOf("web view: 100 Apis with 100 pages open", open.assessment, open.seconds, {
      "none open s": none.seconds.toFixed(1),
      "100 open s": open.seconds.toFixed(1),
      "time vs none": `${((timeRatio - 1) * 100).toFixed(0)}%`,
      "controller cpu none/open s": `${none.cpu.toFixed(1)}/${open.cpu.toFixed(1)}`,
      "cpu vs none": `${((open.cpu / none.cpu - 1) * 100).toFixed(0)}%`,
      "rss none/open MiB": `${(none.rss / MiB).toFixed(0)}/${(open.rss / MiB).toFixed(0)}`,
      "rss vs none": `${((rssRatio - 1) * 100).toFixed(0)}%`,
      "updates per stream": `${Math.min(...updates)}-${Math.max(...updates)}`
    }))
    assert.deepStrictEqual(failed, [])
    assert.strictEqual(behind(), 0, "every page shows the end state")
    assert.isAtMost(rssRatio, 1.25, "memory does not run away with open pages")
    assert.deepStrictEqual(uncaughtErrors(c.lines()), [])
  })
})
