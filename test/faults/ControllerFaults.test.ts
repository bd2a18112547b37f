/**
 * Controller faults on the real kube-apiserver + etcd, the controller being the production bundle
 * in processes of its own:
 *
 *   - SIGKILL in the middle of converging Apis (sizes: support/Sizes.ts), then a restart
 *   - Apis deleted while the controller is down
 *   - two replicas under leader election, the leader SIGKILLed while Apis converge: the
 *     hand-over time, and no double writes (a child created twice, rewritten, a 409 storm)
 *   - two replicas, the leader SIGSTOPped: the standby takes over, the stopped one comes back
 *     while the new leader works, then the new leader dies and the old one leads again
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Kinds, type KubeObject } from "../../src/domain/Kube.ts"
import { defaultControllerOptions } from "../../src/controller/Controller.ts"
import { IstioPolicyBackend } from "../../src/plan/IstioPolicyBackend.ts"
import { type ControllerProcess, metricSum } from "./support/ControllerProcess.ts"
import { figureOf, report, sampleReadiness, snapshot, waitFor } from "./support/Figures.ts"
import {
  convergeFresh,
  figure,
  judge,
  LEADER_ARGS,
  names,
  securedApi,
  sleep,
  startWorld,
  whileConverging,
  type World
} from "./support/Scenario.ts"
import { Sizes } from "./support/Sizes.ts"

const COUNT = Sizes.apis

let w: World

beforeAll(async () => {
  w = await startWorld("controller faults")
})

afterAll(async () => {
  await w?.stop()
})

const holder = async (): Promise<string> => {
  const lease = await w.client.retry((k) => k.get(Kinds.Lease, "kube-system", "api-controller"))
  return (lease["spec"] as { holderIdentity?: string } | undefined)?.holderIdentity ?? ""
}

/** Polls the Lease until `who` holds it; the time it happened. */
const untilHolder = async (who: (identity: string) => boolean, timeoutMs = 90_000) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (who(await holder().catch(() => ""))) return Date.now()
    if (Date.now() > deadline) throw new Error(`the Lease did not move within ${timeoutMs} ms (holder ${await holder()})`)
    await sleep(100)
  }
}

/** Children of the namespace written more often than their spec changed (generation above `expected`). */
const rewrittenChildren = (children: ReadonlyArray<KubeObject>, namespace: string, expected = 1) =>
  children.filter((c) => c.metadata.namespace === namespace && (c.metadata.generation ?? 1) > expected).length

/** Writes that lost a race: a create of something that exists, an update over a newer version. */
const lostRaces = async (c: ControllerProcess) => {
  const text = await c.metrics()
  return metricSum(text, "api_controller_kube_requests_total", /outcome="(AlreadyExists|Conflict)"/)
}

describe("controller faults", () => {
  it(`SIGKILL while ${COUNT} Apis converge, then a restart`, async () => {
    const ns = "ctl-kill"
    const c = await w.controller("killed", LEADER_ARGS)
    await c.start()
    const o = await whileConverging(w, c, {
      namespace: ns,
      count: COUNT,
      fault: async () => {
        const start = Date.now()
        await c.kill()
        await sleep(3_000)
        await c.start()
        return { start, end: Date.now() }
      }
    })
    const s = await snapshot(w.client)
    figure("controller SIGKILLed, converging", o, {
      "rewritten children": rewrittenChildren([...s.virtualServices, ...s.policies], ns),
      restarts: c.unexpectedExits().length
    })
    assert.deepStrictEqual(judge(o, [c]), [])
    await c.kill()
    await w.client.wipe(ns)
  })

  it("Apis deleted while the controller is down are cleaned up when it is back", async () => {
    const ns = "ctl-deleted"
    const count = Math.min(COUNT, 200)
    // A single replica without leader election: the restart need not wait out the old Lease.
    const c = await w.controller("down")
    await c.start()
    await convergeFresh(w, ns, count)
    await c.kill()
    const start = Date.now()
    const gone = names(count).slice(0, count / 2)
    await Promise.all(gone.map((name) => w.client.retry((k) => k.delete(Kinds.Api, ns, name))))
    await sleep(2_000)
    await c.start()
    const end = Date.now()
    const inNs = (a: KubeObject) => a.metadata.namespace === ns
    const { assessment, at } = await waitFor(w.client, {
      select: inNs,
      expected: count / 2,
      timeoutMs: 120_000
    })
    const s = await snapshot(w.client)
    const leftChildren = [...s.virtualServices, ...s.policies].filter((o) => o.metadata.namespace === ns && gone.includes(o.metadata.name))
    report(figureOf("Apis deleted while the controller was down", assessment, at === undefined ? undefined : (at - end) / 1000, {
      deleted: gone.length,
      "children left": leftChildren.length,
      "gc": w.hasGarbageCollector ? "on" : "off"
    }))
    const problems = judge({ assessment, recoverySeconds: undefined, notReadySeconds: 0, fault: { start, end } }, [c])
    assert.deepStrictEqual(problems, [])
    assert.strictEqual(leftChildren.length, 0, "the children of the deleted Apis are gone")
    await c.kill()
    await w.client.wipe(ns)
  })
})

describe("two replicas under leader election", () => {
  it(`the leader SIGKILLed while ${COUNT} Apis converge: the standby takes over, no double writes`, async () => {
    const ns = "ha-kill"
    const a = await w.controller("replica-a", LEADER_ARGS, { POD_NAME: "replica-a" })
    const b = await w.controller("replica-b", LEADER_ARGS, { POD_NAME: "replica-b" })
    await a.start()
    await untilHolder((h) => h.startsWith("replica-a"))
    await b.start()
    let killedAt = 0
    let tookOverAt = 0
    const o = await whileConverging(w, a, {
      namespace: ns,
      count: COUNT,
      fault: async () => {
        killedAt = Date.now()
        await a.kill()
        tookOverAt = await untilHolder((h) => h.startsWith("replica-b"))
        return { start: killedAt, end: tookOverAt }
      }
    })
    const s = await snapshot(w.client)
    const handOver = (tookOverAt - killedAt) / 1000
    const races = await lostRaces(b)
    report(figureOf("leader SIGKILLed, 2 replicas, converging", o.assessment, o.recoverySeconds, {
      "hand-over s": handOver.toFixed(1),
      "lost races (409) of the new leader": races,
      "rewritten children": rewrittenChildren([...s.virtualServices, ...s.policies], ns)
    }))
    assert.deepStrictEqual(judge(o, [b]), [])
    assert.strictEqual(rewrittenChildren([...s.virtualServices, ...s.policies], ns), 0, "no child was written twice")
    // Two leaders writing the same specs leave no generation behind, only lost races. The standby's
    // cache was warm and the Lease outlived A's last write by a lease duration, so only the passes A
    // had in flight can surprise B: one per worker, each a VirtualService, its Policy and a status.
    const writesPerPass = 1 + IstioPolicyBackend.slots.length + 1
    assert.isAtMost(races, defaultControllerOptions.workers * writesPerPass, "the new leader lost no more races than the dead one's passes in flight explain")
    await b.kill()
    await w.client.wipe(ns)
  })

  it("the leader SIGSTOPped: the standby takes over; the stopped one comes back, then leads again when the other dies", async () => {
    const ns = "ha-stop"
    const a = await w.controller("stopped-a", LEADER_ARGS, { POD_NAME: "stopped-a" })
    const b = await w.controller("stopped-b", LEADER_ARGS, { POD_NAME: "stopped-b" })
    await a.start()
    await untilHolder((h) => h.startsWith("stopped-a"))
    await b.start()
    await w.client.ensureNamespace(ns)
    const readinessA = sampleReadiness(a.readyz)
    const creating = w.client.createAll(Kinds.Api, Array.from({ length: COUNT }, (_, i) => securedApi(ns, i)))
    const inNs = (x: KubeObject) => x.metadata.namespace === ns
    await waitFor(w.client, { select: inNs, timeoutMs: 300_000, intervalMs: 250, done: (x) => x.converged >= COUNT * 0.2 })

    const stoppedAt = Date.now()
    a.pause()
    const bLeadsAt = await untilHolder((h) => h.startsWith("stopped-b"))
    await sleep(3_000) // B works a while ...
    a.resume() // ... then A comes back, still believing it leads until its next renewal
    await sleep(5_000)
    const bKilledAt = Date.now()
    await b.kill()
    const aLeadsAgainAt = await untilHolder((h) => h.startsWith("stopped-a"))
    await creating
    // Every Api changed once more: a key left "in flight" in A's queue would never pick it up.
    await w.client.changeApis(ns, names(COUNT), (spec) => ({ ...spec, service: { ...(spec["service"] as object), port: 9443 } }))
    const { assessment, at } = await waitFor(w.client, { select: inNs, expected: COUNT, timeoutMs: 180_000 })
    await readinessA.stop()
    const s = await snapshot(w.client)
    const races = await lostRaces(a)
    report(figureOf("leader SIGSTOPped, comes back, leads again", assessment, at === undefined ? undefined : (at - aLeadsAgainAt) / 1000, {
      "hand-over to B s": ((bLeadsAt - stoppedAt) / 1000).toFixed(1),
      "hand-over back to A s": ((aLeadsAgainAt - bKilledAt) / 1000).toFixed(1),
      "lost races (409) of A": races,
      // The port change rewrites each VirtualService once (generation 2); the Policies not at all.
      "rewritten children": rewrittenChildren(s.virtualServices, ns, 2) + rewrittenChildren(s.policies, ns, 1)
    }))
    const problems = judge({ assessment, recoverySeconds: undefined, notReadySeconds: 0, fault: { start: stoppedAt, end: aLeadsAgainAt } }, [a])
    assert.deepStrictEqual(problems, [])
    await a.kill()
    await w.client.wipe(ns)
  })
})
