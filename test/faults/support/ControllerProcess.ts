/**
 * The controller as production runs it: the bundle (scripts/bundle.ts -> main.js, built once by
 * the tier's global setup) in a Node process of its own, `run` with JSON logs and a health port
 * on loopback. A fault test can SIGKILL it, SIGSTOP/SIGCONT it, read /readyz and /metrics, and
 * read its log lines.
 *
 * Like a kubelet, it restarts the controller when it exits by itself (not when the test killed
 * it), and counts that: "the controller still running, or exiting with a clear message and
 * restarting cleanly".
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { freePort } from "../../../scripts/lib/FreePort.ts"
import { join } from "node:path"
import { REPO_ROOT } from "./FaultPlane.ts"
import { testEnv } from "../../support/Fixtures.ts"

/** Node 22 from the project's devDependency (a bare `node` may be older). */
export const NODE = existsSync(join(REPO_ROOT, "node_modules/.bin/node"))
  ? join(REPO_ROOT, "node_modules/.bin/node")
  : process.execPath

export { freePort }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export interface LogLine {
  readonly level?: string
  readonly message?: string
  readonly [key: string]: unknown
}

export interface ControllerOptions {
  readonly main: string
  readonly kubeconfigPath: string
  readonly name: string
  readonly extraArgs?: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string>>
  /** Restart when it exits by itself (default true). */
  readonly restart?: boolean
}

export interface ControllerProcess {
  readonly name: string
  readonly port: number
  readonly pid: () => number | undefined
  readonly start: () => Promise<void>
  /** SIGKILL (no goodbye: no lease release, no graceful stop) and wait until it is gone. */
  readonly kill: () => Promise<void>
  /** SIGTERM and wait (bounded) for the exit. */
  readonly terminate: () => Promise<void>
  readonly pause: () => void
  readonly resume: () => void
  readonly running: () => boolean
  /** HTTP status of /readyz; 0 when it does not answer within 1 s. */
  readonly readyz: () => Promise<number>
  readonly metrics: () => Promise<string>
  /** Resident set size in bytes, from /proc. */
  readonly rss: () => number | undefined
  /** CPU seconds used so far (user + system), from /proc. */
  readonly cpuSeconds: () => number | undefined
  readonly lines: () => ReadonlyArray<LogLine>
  /** Output that is not a JSON log line (a stack trace, Node's own warnings). */
  readonly stray: () => ReadonlyArray<string>
  /** Exits the process made by itself (code or signal, and its last lines). */
  readonly unexpectedExits: () => ReadonlyArray<string>
}

/** The sum of a counter's series in a Prometheus exposition, filtered by a label matcher. */
export const metricSum = (text: string, name: string, labels: RegExp = /.*/): number =>
  text.split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .filter((l) => labels.test(l))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0)

export const startController = async (options: ControllerOptions): Promise<ControllerProcess> => {
  const port = await freePort()
  let child: ChildProcess | undefined
  let killedByTest = false
  const lines: Array<LogLine> = []
  const stray: Array<string> = []
  const exits: Array<string> = []
  let partial = ""

  const onOutput = (chunk: Buffer) => {
    partial += chunk.toString()
    const parts = partial.split("\n")
    partial = parts.pop() ?? ""
    for (const p of parts) {
      if (p.trim() === "") continue
      try {
        lines.push(JSON.parse(p) as LogLine)
      } catch {
        stray.push(p)
      }
    }
  }

  const spawnIt = () => {
    killedByTest = false
    const c = spawn(NODE, [
      "--enable-source-maps",
      options.main,
      "run",
      "--kubeconfig",
      options.kubeconfigPath,
      "--health-host",
      "127.0.0.1",
      "--health-port",
      String(port),
      "--log-format",
      "json",
      ...(options.extraArgs ?? [])
    ], {
      cwd: REPO_ROOT,
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...testEnv, LOG_LEVEL: "info", ...options.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    c.stdout?.on("data", onOutput)
    c.stderr?.on("data", onOutput)
    c.once("exit", (code, signal) => {
      if (killedByTest) return
      exits.push(`${options.name} exited by itself (${code ?? signal}); last lines: ${
        lines.slice(-3).map((l) => l.message).join(" | ")
      } ${stray.slice(-3).join(" | ")}`)
      if (options.restart ?? true) setTimeout(() => void (child = spawnIt()), 1_000)
    })
    return c
  }

  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null

  const waitGone = async (c: ChildProcess, ms: number) => {
    const deadline = Date.now() + ms
    while (c.exitCode === null && c.signalCode === null && Date.now() < deadline) await sleep(20)
  }

  const get = async (path: string): Promise<{ status: number; body: string }> => {
    try {
      const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(1_000) })
      return { status: r.status, body: await r.text() }
    } catch {
      return { status: 0, body: "" }
    }
  }

  const proc: ControllerProcess = {
    name: options.name,
    port,
    pid: () => child?.pid,
    start: async () => {
      if (running()) throw new Error(`${options.name} is already running`)
      child = spawnIt()
      const deadline = Date.now() + 60_000
      while ((await get("/healthz")).status !== 200) {
        if (Date.now() > deadline) throw new Error(`${options.name}: no /healthz within 60 s; ${stray.slice(-5).join("\n")}`)
        await sleep(100)
      }
    },
    kill: async () => {
      if (child === undefined || !running()) return
      killedByTest = true
      child.kill("SIGCONT")
      child.kill("SIGKILL")
      await waitGone(child, 10_000)
    },
    terminate: async () => {
      if (child === undefined || !running()) return
      killedByTest = true
      child.kill("SIGCONT")
      child.kill("SIGTERM")
      await waitGone(child, 30_000)
      if (running()) {
        child.kill("SIGKILL")
        await waitGone(child, 5_000)
      }
    },
    pause: () => void child?.kill("SIGSTOP"),
    resume: () => void child?.kill("SIGCONT"),
    running,
    readyz: async () => (await get("/readyz")).status,
    metrics: async () => (await get("/metrics")).body,
    rss: () => {
      const pid = child?.pid
      if (pid === undefined) return undefined
      try {
        const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]
        return kb === undefined ? undefined : Number(kb) * 1024
      } catch {
        return undefined
      }
    },
    cpuSeconds: () => {
      const pid = child?.pid
      if (pid === undefined) return undefined
      try {
        // Fields after the command name (which may contain spaces): utime and stime are 14 and 15.
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
        return (Number(fields[11]) + Number(fields[12])) / 100
      } catch {
        return undefined
      }
    },
    lines: () => lines,
    stray: () => stray,
    unexpectedExits: () => exits
  }
  return proc
}

/** Log lines that mean an error escaped handling: a crashed pass (a defect), a fatal line. */
export const uncaughtErrors = (lines: ReadonlyArray<LogLine>): ReadonlyArray<LogLine> =>
  lines.filter((l) => /fatal/i.test(String(l.level)) || /crash|uncaught|defect/i.test(String(l.message)))
