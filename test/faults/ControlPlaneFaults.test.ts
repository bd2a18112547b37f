/**
 * Control-plane faults on the real kube-apiserver + etcd, with the controller (production bundle,
 * `--leader-elect`, as the Deployment runs it) in a process of its own:
 *
 *   - kube-apiserver killed, down 10 s, restarted on the same etcd data
 *   - etcd paused (SIGSTOP) for twice the renew deadline and resumed: the leader loses its Lease
 *     and gets it back
 *   - a watch that expires: the controller stopped (SIGSTOP) while Apis change, etcd's history is
 *     compacted and kube-apiserver restarts (its watch cache starts over), so every watch resumes
 *     from a resourceVersion that is gone (410) and the controller must relist
 *
 * each while new Apis converge, and while converged Apis sit idle and are then changed (sizes:
 * support/Sizes.ts).
 * Every scenario ends with every Api converged, no duplicate or orphaned child, nothing stuck, the
 * controller running (or restarted after a clear exit), and /readyz false while it could not work.
 */
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Kinds } from "../../src/domain/Kube.ts"
import type { ControllerProcess } from "./support/ControllerProcess.ts"
import { metricSum } from "./support/ControllerProcess.ts"
import {
  convergeFresh,
  figure,
  idleThenChanged,
  judge,
  LEADER_ARGS,
  names,
  RENEW_DEADLINE_MS,
  type ScenarioOutcome,
  sleep,
  type FaultWorld,
  startFaultWorld,
  whileConverging
} from "./support/Scenario.ts"
import { Sizes } from "./support/Sizes.ts"

const COUNT = Sizes.apis
const APISERVER_DOWN_MS = 10_000
/**
 * Long enough for the leader to give up its Lease (past the renew deadline), and for /readyz to
 * turn: a paused etcd makes requests hang rather than fail, so the quiet controller's probe (every
 * 2 s, given up after 2 s) must fail for the bundle's 5 s before readiness drops, about 9 s in.
 */
const ETCD_PAUSE_MS = Math.max(2 * RENEW_DEADLINE_MS, 15_000)
const PAUSE = `etcd paused ${ETCD_PAUSE_MS / 1000} s`

let w: FaultWorld

beforeAll(async () => {
  w = await startFaultWorld("control-plane faults")
})

afterAll(async () => {
  await w?.stop()
})

const listRequests = async (c: ControllerProcess) =>
  metricSum(await c.metrics(), "api_controller_kube_requests_total", /verb="list"/)

const restartApiserver = async () => {
  const start = Date.now()
  await w.plane.killApiserver()
  await sleep(APISERVER_DOWN_MS)
  await w.plane.startApiserver()
  return { start, end: Date.now() }
}

const pauseEtcd = async () => {
  const start = Date.now()
  w.plane.pauseEtcd()
  await sleep(ETCD_PAUSE_MS)
  w.plane.resumeEtcd()
  return { start, end: Date.now() }
}

/** Stop the controller; change `changed` Apis meanwhile; compact etcd; restart kube-apiserver; resume. */
const expireWatches = (c: ControllerProcess, namespace: string, changed: () => ReadonlyArray<string>, port: number) => async () => {
  const start = Date.now()
  c.pause()
  await w.client.changeApis(namespace, changed(), (spec) => ({ ...spec, service: { ...(spec["service"] as object), port } }))
  await w.plane.compactEtcd()
  await w.plane.killApiserver()
  await w.plane.startApiserver()
  await w.plane.compactEtcd() // and what the restart itself wrote
  c.resume()
  return { start, end: Date.now() }
}

/** The shared verdict; readiness must have dropped when the fault made the API server unusable. */
const verdict = async (o: ScenarioOutcome, c: ControllerProcess, options: { readonly expectNotReady: boolean }) => {
  const problems = judge(o, [c])
  if (options.expectNotReady && o.notReadySeconds === 0) problems.push("/readyz stayed 200 while the API server was unusable")
  if (!c.running()) problems.push(`the controller is not running: ${c.unexpectedExits().join("; ")}`)
  for (let i = 0; i < 40 && (await c.readyz()) !== 200; i++) await sleep(250)
  if ((await c.readyz()) !== 200) problems.push("/readyz is not 200 after recovery")
  assert.deepStrictEqual(problems, [])
}

describe(`control-plane faults while ${COUNT} Apis converge`, () => {
  const converging = async (
    scenario: string,
    namespace: string,
    fault: (c: ControllerProcess) => () => Promise<{ start: number; end: number }>,
    expectNotReady: boolean,
    changeAfter = false
  ) => {
    const c = await w.controller(scenario, LEADER_ARGS)
    await c.start()
    const listsBefore = await listRequests(c)
    const o = await whileConverging(w, c, { namespace, count: COUNT, fault: fault(c), changeAfter })
    const relists = (await listRequests(c)) - listsBefore
    figure(scenario, o, { relists, restarts: c.unexpectedExits().length })
    await verdict(o, c, { expectNotReady })
    await c.kill()
    await w.client.wipe(namespace)
  }

  it("kube-apiserver killed, down 10 s, restarted on the same etcd data", () =>
    converging("apiserver restart, converging", "cp-restart", () => restartApiserver, true))

  it(`${PAUSE}: the leader loses its Lease and leads again; every Api changed once more afterwards`, () =>
    converging(`${PAUSE}, converging`, "cp-pause", () => pauseEtcd, true, true))

  it("watches expire: controller stopped, Apis changed, history compacted, kube-apiserver restarted", async () => {
    const ns = "cp-expire"
    // Change the Apis created so far while the controller is stopped.
    let seen: ReadonlyArray<string> = []
    await converging("watch expired, converging", ns, (c) => async () => {
      seen = (await w.client.list(Kinds.Api, ns)).map((a) => a.metadata.name)
      return expireWatches(c, ns, () => seen, 9090)()
    }, false)
  })
})

describe(`control-plane faults while ${COUNT} converged Apis are idle, then changed`, () => {
  const ns = "cp-idle"
  let c: ControllerProcess

  beforeAll(async () => {
    c = await w.controller("idle", LEADER_ARGS)
    await c.start()
    const seconds = await convergeFresh(w, ns, COUNT)
    console.log(`[faults] ${COUNT} Apis converged in ${seconds.toFixed(1)} s before the idle faults`)
  })

  it("kube-apiserver killed, down 10 s, restarted; then every Api changed", async () => {
    const o = await idleThenChanged(w, c, { namespace: ns, count: COUNT, port: 8081, fault: restartApiserver })
    figure("apiserver restart, idle then changed", o, { restarts: c.unexpectedExits().length })
    await verdict(o, c, { expectNotReady: true })
  })

  it(`${PAUSE}; then every Api changed`, async () => {
    const o = await idleThenChanged(w, c, { namespace: ns, count: COUNT, port: 8082, fault: pauseEtcd })
    figure(`${PAUSE}, idle then changed`, o, { restarts: c.unexpectedExits().length })
    await verdict(o, c, { expectNotReady: true })
  })

  it("watches expire while the Apis change; then every Api changed again", async () => {
    const listsBefore = await listRequests(c)
    const o = await idleThenChanged(w, c, {
      namespace: ns,
      count: COUNT,
      port: 8084,
      fault: expireWatches(c, ns, () => names(COUNT), 8083)
    })
    const relists = (await listRequests(c)) - listsBefore
    figure("watch expired, idle then changed", o, { relists, restarts: c.unexpectedExits().length })
    await verdict(o, c, { expectNotReady: false })
  })
})
