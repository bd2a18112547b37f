/**
 * The fault tier's control plane: the shared harness (scripts/lib/ControlPlane.ts, used as is)
 * plus the faults it does not offer, all from outside through process ids and etcd's HTTP API:
 *
 *   killApiserver / startApiserver   SIGKILL kube-apiserver, start it again with the very same
 *                                    command line (read from /proc) on the same etcd data
 *   pauseEtcd / resumeEtcd           SIGSTOP / SIGCONT etcd: every request that needs it hangs
 *   compactEtcd                      compact etcd's history up to now (physical), so a watch or
 *                                    list from an older resourceVersion gets 410 Gone
 *   gc                               kube-controller-manager with the garbage collector and the
 *                                    namespace controller, when `.bin/` has one (absent: no GC)
 *
 * Whatever this starts (a restarted apiserver, the controller-manager) is killed on `stop()`, on
 * process exit and by a detached watchdog if this process dies without running any handler.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, existsSync, openSync, readFileSync } from "node:fs"
import { join } from "node:path"
// The one import of the shared harness in this tier (it may move: change it here only).
import { type ControlPlane, startControlPlane } from "../../../scripts/lib/ControlPlane.ts"
import { REPO_ROOT } from "../../../scripts/lib/RepoRoot.ts"

export { REPO_ROOT }

export interface FaultPlane {
  readonly cp: ControlPlane
  readonly kubeconfigPath: string
  /** Whether garbage collection of owned objects and namespace deletion happen here. */
  readonly hasGarbageCollector: boolean
  readonly apiserverPid: () => number
  readonly killApiserver: () => Promise<void>
  readonly startApiserver: () => Promise<void>
  readonly pauseEtcd: () => void
  readonly resumeEtcd: () => void
  /** Compacts etcd's history up to its current revision; returns that revision. */
  readonly compactEtcd: () => Promise<number>
  /** Until kube-apiserver's /readyz is 200 (it checks etcd too). */
  readonly waitApiserverReady: (timeoutMs?: number) => Promise<void>
  readonly stop: () => Promise<void>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const cmdline = (pid: number): ReadonlyArray<string> =>
  readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((a) => a !== "")

/** Every process this module started and has not stopped yet, for the exit hook. */
const started = new Set<ChildProcess>()
let hooked = false
const hookExit = () => {
  if (hooked) return
  hooked = true
  process.on("exit", () => {
    for (const c of started) {
      if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
        try {
          process.kill(c.pid, "SIGKILL")
        } catch {
          // gone
        }
      }
    }
  })
}

/** A detached shell that kills `pid` once this process is gone (covers SIGKILL of the runner). */
const watchdog = (pid: number) => {
  const w = spawn("sh", ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -KILL ${pid} 2>/dev/null`], {
    detached: true,
    stdio: "ignore"
  })
  w.unref()
  return w
}

const spawnLogged = (bin: string, args: ReadonlyArray<string>, logFile: string): ChildProcess => {
  const fd = openSync(logFile, "a")
  try {
    const child = spawn(bin, args, { stdio: ["ignore", fd, fd] })
    child.on("error", () => {})
    if (child.pid === undefined) throw new Error(`could not start ${bin}`)
    started.add(child)
    child.once("exit", () => started.delete(child))
    return child
  } finally {
    closeSync(fd)
  }
}

const killAndWait = async (pid: number, signal: NodeJS.Signals = "SIGKILL", timeoutMs = 10_000) => {
  try {
    process.kill(pid, signal)
  } catch {
    return
  }
  const deadline = Date.now() + timeoutMs
  while (alive(pid) && Date.now() < deadline) await sleep(20)
}

/** The admin client certificate of the harness's kubeconfig, for plain HTTPS probes. */
const clientOf = (kubeconfig: string) => {
  const field = (name: string) => Buffer.from(new RegExp(`${name}: (\\S+)`).exec(kubeconfig)![1]!, "base64").toString()
  return { ca: field("certificate-authority-data"), cert: field("client-certificate-data"), key: field("client-key-data") }
}

const httpsStatus = async (url: string, tls: ReturnType<typeof clientOf>): Promise<number> => {
  const { request } = await import("node:https")
  return new Promise((resolve) => {
    const req = request(url, { ...tls, timeout: 2_000 }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode ?? 0))
    })
    req.on("timeout", () => req.destroy())
    req.on("error", () => resolve(0))
    req.end()
  })
}

export const startFaultPlane = async (log: (line: string) => void): Promise<FaultPlane> => {
  hookExit()
  const cp = await startControlPlane({ log })
  const tls = clientOf(cp.kubeconfig)
  // The command line the harness started the apiserver with: restarts reuse it exactly.
  const apiserverArgs = cmdline(cp.pids.apiserver)
  let apiserverPid = cp.pids.apiserver
  let restarted: ChildProcess | undefined
  const dogs: Array<ChildProcess> = []

  const waitApiserverReady = async (timeoutMs = 90_000) => {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (restarted !== undefined && (restarted.exitCode !== null || restarted.signalCode !== null)) {
        throw new Error(`kube-apiserver exited (${restarted.exitCode ?? restarted.signalCode}); see ${join(cp.workDir, "kube-apiserver.log")}`)
      }
      if ((await httpsStatus(`${cp.server}/readyz`, tls)) === 200) return
      await sleep(100)
    }
    throw new Error(`kube-apiserver not ready within ${timeoutMs} ms`)
  }

  const killApiserver = async () => {
    await killAndWait(apiserverPid, "SIGKILL")
  }

  const startApiserver = async () => {
    if (alive(apiserverPid)) throw new Error("kube-apiserver is still running")
    const [bin, ...args] = apiserverArgs
    // The port may linger in TIME_WAIT for a moment; kube-apiserver sets SO_REUSEADDR, so retry briefly.
    for (let attempt = 0; ; attempt++) {
      restarted = spawnLogged(bin!, args, join(cp.workDir, "kube-apiserver.log"))
      apiserverPid = restarted.pid!
      dogs.push(watchdog(apiserverPid))
      try {
        await waitApiserverReady()
        return
      } catch (e) {
        if (attempt >= 2) throw e
        await sleep(1_000)
      }
    }
  }

  const etcd = (path: string, body: unknown) =>
    fetch(`${cp.etcdUrl}${path}`, { method: "POST", body: JSON.stringify(body) }).then(async (r) => {
      if (!r.ok) throw new Error(`etcd ${path}: HTTP ${r.status}: ${await r.text()}`)
      return (await r.json()) as { header?: { revision?: string } }
    })

  const compactEtcd = async () => {
    const range = await etcd("/v3/kv/range", { key: Buffer.from("/").toString("base64"), limit: 1, count_only: true })
    const revision = Number(range.header?.revision ?? 0)
    await etcd("/v3/kv/compaction", { revision: String(revision), physical: true })
    return revision
  }

  // Garbage collection and namespace deletion, when a controller-manager binary is available.
  const kcmBin = join(REPO_ROOT, ".bin/kube-controller-manager")
  const alreadyHasKcm = Object.keys(cp.pids).some((k) => /controller/i.test(k))
  let kcm: ChildProcess | undefined
  if (!alreadyHasKcm && existsSync(kcmBin)) {
    kcm = spawnLogged(kcmBin, [
      `--kubeconfig=${cp.kubeconfigPath}`,
      "--controllers=garbagecollector,namespace",
      "--leader-elect=false",
      "--secure-port=0",
      "--profiling=false"
    ], join(cp.workDir, "kube-controller-manager.log"))
    dogs.push(watchdog(kcm.pid!))
    log("kube-controller-manager started (garbage collector, namespace controller)")
  }

  let stopped: Promise<void> | undefined
  const stop = () => {
    stopped ??= (async () => {
      try {
        process.kill(cp.pids.etcd, "SIGCONT") // a paused etcd would not stop
      } catch {
        // gone
      }
      if (kcm?.pid !== undefined) await killAndWait(kcm.pid, "SIGTERM", 5_000).then(() => killAndWait(kcm!.pid!))
      if (restarted?.pid !== undefined) await killAndWait(restarted.pid, "SIGTERM", 5_000).then(() => killAndWait(restarted!.pid!))
      await cp.stop()
      for (const d of dogs) if (d.pid !== undefined) killAndWait(d.pid).catch(() => {})
    })()
    return stopped
  }

  return {
    cp,
    kubeconfigPath: cp.kubeconfigPath,
    hasGarbageCollector: alreadyHasKcm || kcm !== undefined,
    apiserverPid: () => apiserverPid,
    killApiserver,
    startApiserver,
    pauseEtcd: () => process.kill(cp.pids.etcd, "SIGSTOP"),
    resumeEtcd: () => process.kill(cp.pids.etcd, "SIGCONT"),
    compactEtcd,
    waitApiserverReady,
    stop
  }
}
