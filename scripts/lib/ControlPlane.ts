/**
 * A throwaway Kubernetes control plane on loopback: etcd, kube-apiserver and
 * kube-controller-manager from `.bin/` (built by scripts/build-control-plane.sh, like the `pki`
 * tool that makes their certificates: no openssl needed), the role controller-runtime's envtest
 * plays for Go operators, plus the controllers a real cluster runs for every object. Usable from
 * vitest's globalSetup and from a plain script:
 *
 *   const cp = await startControlPlane()          // certificates, etcd, apiserver, CRDs, controller-manager
 *   ... KUBECONFIG=cp.kubeconfigPath ...
 *   await cp.stop()
 *
 * The controller-manager runs only `CONTROLLERS`: garbage collection (children with an
 * ownerReference go when their owner goes), namespace deletion (a deleted namespace empties and
 * disappears) and the default ServiceAccount of each namespace. No scheduler, no kubelet: Pods
 * never run. Everything the harness starts is killed by PID on `stop()`, on process exit and on
 * SIGINT/SIGTERM/SIGHUP; a detached watchdog also kills it if this process dies without running
 * any handler (SIGKILL, OOM).
 *
 * Run it by hand: `npx tsx scripts/lib/ControlPlane.ts` starts one, prints the kubeconfig path
 * and waits for Ctrl-C.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { appendFileSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { request as httpsRequest } from "node:https"
import { freePort } from "./FreePort.ts"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { parseAllDocuments } from "yaml"
import { CONTROLLER_CRD_FILES } from "./IstioCrds.ts"
import { REPO_ROOT } from "./RepoRoot.ts"

const run = promisify(execFile)

/**
 * The CRDs every control plane installs: the project's Api, Istio's own CRDs of the kinds the
 * controller writes (from the istio.io/api module, see IstioCrds.ts), and the legacy Policy.
 */
export const DEFAULT_CRDS: ReadonlyArray<string> = CONTROLLER_CRD_FILES

/**
 * The controller-manager's controllers: cheap ones that every real cluster runs and that change
 * what a test can observe (owned objects and namespaces really go away).
 */
export const CONTROLLERS: ReadonlyArray<string> = ["garbagecollector", "namespace", "serviceaccount"]

export interface ControlPlaneOptions {
  /** Where `pki`, `etcd`, `kube-apiserver` and `kube-controller-manager` are; default `<repo>/.bin`. */
  readonly binDir?: string
  /** Run kube-controller-manager with `CONTROLLERS`; default true. */
  readonly controllerManager?: boolean
  /** CRD manifests to install (YAML, one or more documents each); default `DEFAULT_CRDS`. */
  readonly crds?: ReadonlyArray<string>
  /** For readiness of each server and for the CRDs; default 90 s (two shared cores are slow). */
  readonly startTimeoutMs?: number
  /** Progress lines; default `console.log` with a prefix. */
  readonly log?: (line: string) => void
  /** Leave the work dir (logs, certs, etcd data) in place after `stop()`, for debugging. */
  readonly keepWorkDir?: boolean
  /** Where the work dir is made; default the system's temporary directory. */
  readonly parentDir?: string
}

export interface ControlPlaneTimings {
  readonly certsMs: number
  readonly etcdMs: number
  readonly apiserverMs: number
  readonly crdsMs: number
  /** Until its controllers run (the default ServiceAccount exists); 0 without a controller-manager. */
  readonly controllerManagerMs: number
  /** From the call to a control plane with every CRD served and the controller-manager running. */
  readonly totalMs: number
}

export interface ControlPlane {
  /** A kubeconfig file (context `envtest`, user `admin` in `system:masters`). */
  readonly kubeconfigPath: string
  /** The same kubeconfig as YAML text. */
  readonly kubeconfig: string
  /** `https://127.0.0.1:<port>` */
  readonly server: string
  readonly etcdUrl: string
  readonly workDir: string
  readonly pids: { readonly etcd: number; readonly apiserver: number; readonly controllerManager?: number }
  readonly timings: ControlPlaneTimings
  /** Kill the servers (SIGTERM, then SIGKILL after 5 s) and remove the work dir. Idempotent. */
  readonly stop: () => Promise<void>
}

export class ControlPlaneError extends Error {
  override readonly name = "ControlPlaneError"
}

// ---------------------------------------------------------------------------------------------
// process bookkeeping: whatever is running gets killed when this process goes away

interface Tracked {
  readonly children: Array<ChildProcess>
  readonly workDir: string
  readonly keepWorkDir: boolean
  watchdog?: ChildProcess
}

const live = new Set<Tracked>()
let hooksInstalled = false

const killNow = (t: Tracked) => {
  for (const c of t.children) {
    if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
      try {
        process.kill(c.pid, "SIGKILL")
      } catch {
        // already gone
      }
    }
  }
  if (t.watchdog?.pid !== undefined) {
    try {
      process.kill(t.watchdog.pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
  if (!t.keepWorkDir) rmSync(t.workDir, { recursive: true, force: true })
}

const installHooks = () => {
  if (hooksInstalled) return
  hooksInstalled = true
  process.on("exit", () => {
    for (const t of live) killNow(t)
    live.clear()
  })
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      for (const t of live) killNow(t)
      live.clear()
      // Keep the default behaviour (exit by the signal) unless someone else handles it.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal)
        process.kill(process.pid, signal)
      }
    }
    process.on(signal, onSignal)
  }
}

/**
 * A detached shell that outlives us: once this process is gone it kills the servers listed in
 * `pidFile` (appended to as each one starts) and removes the work dir. Covers deaths that run no
 * handler (SIGKILL, OOM killer).
 */
const startWatchdog = (t: Tracked, pidFile: string): ChildProcess => {
  const quote = (path: string) => `'${path.replaceAll("'", "")}'`
  const script = [
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done`,
    `pids=$(cat ${quote(pidFile)} 2>/dev/null)`,
    `kill -TERM $pids 2>/dev/null; sleep 3; kill -KILL $pids 2>/dev/null`,
    t.keepWorkDir ? "true" : `rm -rf ${quote(t.workDir)}`
  ].join("; ")
  const w = spawn("sh", ["-c", script], { detached: true, stdio: "ignore" })
  w.unref()
  return w
}

// ---------------------------------------------------------------------------------------------
// helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const tail = (file: string, lines = 30): string => {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n")
  } catch {
    return "(no log)"
  }
}

/** The PEM material a control plane runs with (CA, admin client cert and key). */
export interface Pki {
  readonly caCrt: string
  readonly clientCrt: string
  readonly clientKey: string
}

/**
 * A P-256 CA; a serving cert for 127.0.0.1/localhost; client certs for the admin and the
 * controller-manager; an SA signing key pair. Made by tools/pki (Go's crypto/x509), not openssl.
 * The controller-manager's user is in system:masters: it runs every controller with its own
 * credentials, and the roles for that would be noise in a test cluster.
 */
const readPki = (dir: string, file: string) => readFileSync(join(dir, file), "utf8")

const makePki = async (pkiBin: string, dir: string): Promise<Pki> => {
  await run(pkiBin, [
    "-dir", dir,
    "-server", "apiserver",
    "-host", "127.0.0.1,localhost",
    "-client", "admin=admin;system:masters",
    "-client", "kube-controller-manager=system:kube-controller-manager;system:masters"
  ]).catch((e: unknown) => {
    throw new ControlPlaneError(`${pkiBin} could not make the test certificates: ${String(e)}`)
  })
  return { caCrt: readPki(dir, "ca.crt"), clientCrt: readPki(dir, "admin.crt"), clientKey: readPki(dir, "admin.key") }
}

const b64 = (s: string) => Buffer.from(s).toString("base64")

const kubeconfigYaml = (server: string, pki: Pki, user = "admin") =>
  `apiVersion: v1
kind: Config
clusters:
- name: envtest
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(pki.caCrt)}
users:
- name: ${user}
  user:
    client-certificate-data: ${b64(pki.clientCrt)}
    client-key-data: ${b64(pki.clientKey)}
contexts:
- name: envtest
  context:
    cluster: envtest
    user: ${user}
current-context: envtest
`

interface HttpAnswer {
  readonly status: number
  readonly body: string
}

/** One HTTPS request to the apiserver as admin. Never throws for an HTTP status. */
const apiRequest = (server: string, pki: Pki, method: string, path: string, body?: unknown): Promise<HttpAnswer> =>
  new Promise((resolveAnswer, reject) => {
    const url = new URL(path, server)
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = httpsRequest(
      {
        method,
        hostname: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        ca: pki.caCrt,
        cert: pki.clientCrt,
        key: pki.clientKey,
        headers: {
          accept: "application/json",
          ...(payload !== undefined ? { "content-type": "application/json" } : {})
        },
        timeout: 10_000
      },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => resolveAnswer({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }))
        res.on("error", reject)
      }
    )
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)))
    req.on("error", reject)
    req.end(payload)
  })

/** Polls `check` every `intervalMs` until it returns true; fails with `what` after the deadline. */
const waitUntil = async (
  what: string,
  deadline: number,
  check: () => Promise<boolean>,
  onTimeout: () => string = () => "",
  intervalMs = 100
) => {
  let lastError: unknown
  for (;;) {
    try {
      if (await check()) return
    } catch (e) {
      if (e instanceof ControlPlaneError) throw e // fatal: a server died
      lastError = e
    }
    if (Date.now() > deadline) {
      const last = lastError instanceof Error ? ` (last error: ${lastError.message})` : ""
      throw new ControlPlaneError(`timed out waiting for ${what}${last}\n${onTimeout()}`)
    }
    await sleep(intervalMs)
  }
}

interface CrdDoc {
  readonly metadata: { readonly name: string }
  readonly spec: {
    readonly group: string
    readonly names: { readonly plural: string; readonly kind: string }
    readonly versions: ReadonlyArray<{ readonly name: string; readonly served: boolean }>
  }
}

const readCrds = (files: ReadonlyArray<string>): ReadonlyArray<CrdDoc> =>
  files.flatMap((file) => {
    if (!existsSync(file)) throw new ControlPlaneError(`CRD file not found: ${file}`)
    return parseAllDocuments(readFileSync(file, "utf8"))
      .map((d) => d.toJS() as unknown)
      .filter((d): d is CrdDoc & { kind: string } =>
        typeof d === "object" && d !== null && (d as { kind?: unknown }).kind === "CustomResourceDefinition"
      )
  })

const CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

/** Create (or replace) each CRD, then wait until Established + NamesAccepted and listed in discovery. */
export const installCrds = async (
  server: string,
  pki: Pki,
  files: ReadonlyArray<string>,
  timeoutMs = 60_000
): Promise<void> => {
  const crds = readCrds(files)
  const deadline = Date.now() + timeoutMs
  for (const crd of crds) {
    const created = await apiRequest(server, pki, "POST", CRD_PATH, crd)
    if (created.status === 409) {
      const current = await apiRequest(server, pki, "GET", `${CRD_PATH}/${crd.metadata.name}`)
      const rv = (JSON.parse(current.body) as { metadata: { resourceVersion: string } }).metadata.resourceVersion
      const body = { ...crd, metadata: { ...crd.metadata, resourceVersion: rv } }
      const replaced = await apiRequest(server, pki, "PUT", `${CRD_PATH}/${crd.metadata.name}`, body)
      if (replaced.status >= 300) {
        throw new ControlPlaneError(`replace CRD ${crd.metadata.name}: HTTP ${replaced.status}: ${replaced.body}`)
      }
    } else if (created.status >= 300) {
      throw new ControlPlaneError(`create CRD ${crd.metadata.name}: HTTP ${created.status}: ${created.body}`)
    }
  }
  for (const crd of crds) {
    await waitUntil(`CRD ${crd.metadata.name} to be Established`, deadline, async () => {
      const r = await apiRequest(server, pki, "GET", `${CRD_PATH}/${crd.metadata.name}`)
      if (r.status !== 200) return false
      const conditions = (JSON.parse(r.body) as { status?: { conditions?: Array<{ type: string; status: string }> } })
        .status?.conditions ?? []
      const isTrue = (type: string) => conditions.some((c) => c.type === type && c.status === "True")
      return isTrue("Established") && isTrue("NamesAccepted")
    })
    for (const v of crd.spec.versions.filter((v) => v.served)) {
      await waitUntil(`${crd.spec.names.plural}.${crd.spec.group}/${v.name} in discovery`, deadline, async () => {
        const r = await apiRequest(server, pki, "GET", `/apis/${crd.spec.group}/${v.name}`)
        if (r.status !== 200) return false
        const resources = (JSON.parse(r.body) as { resources?: Array<{ name: string }> }).resources ?? []
        return resources.some((res) => res.name === crd.spec.names.plural)
      })
    }
  }
  // The first write of any custom resource takes ~2 s more than the rest (measured with
  // kube-apiserver 1.36.3); a dry-run create pays that here instead of in the first test.
  const warm = crds.find((c) => c.spec.versions.some((v) => v.served))
  if (warm !== undefined) {
    const v = warm.spec.versions.find((v) => v.served)!
    await apiRequest(server, pki, "POST", `/apis/${warm.spec.group}/${v.name}/namespaces/default/${warm.spec.names.plural}?dryRun=All`, {
      apiVersion: `${warm.spec.group}/${v.name}`,
      kind: warm.spec.names.kind,
      metadata: { name: "warm-up" }
    })
  }
}

// ---------------------------------------------------------------------------------------------
// the control plane

export const startControlPlane = async (options: ControlPlaneOptions = {}): Promise<ControlPlane> => {
  const t0 = Date.now()
  const log = options.log ?? ((line: string) => console.log(`[control-plane] ${line}`))
  const binDir = options.binDir ?? join(REPO_ROOT, ".bin")
  const timeoutMs = options.startTimeoutMs ?? 90_000
  const withControllerManager = options.controllerManager ?? true
  const pkiBin = join(binDir, "pki")
  const etcdBin = join(binDir, "etcd")
  const apiserverBin = join(binDir, "kube-apiserver")
  const kcmBin = join(binDir, "kube-controller-manager")
  for (const b of [pkiBin, etcdBin, apiserverBin, ...(withControllerManager ? [kcmBin] : [])]) {
    if (!existsSync(b)) throw new ControlPlaneError(`${b} is missing: run scripts/build-control-plane.sh first`)
  }

  const workDir = mkdtempSync(join(options.parentDir ?? tmpdir(), "api-controller-cp-"))
  const tracked: Tracked = { children: [], workDir, keepWorkDir: options.keepWorkDir ?? false }
  installHooks()
  live.add(tracked)

  let stopped: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      live.delete(tracked)
      // in reverse start order, so no server logs connection errors while the one it uses goes down
      for (const c of [...tracked.children].reverse()) await terminate(c)
      if (tracked.watchdog?.pid !== undefined) {
        try {
          process.kill(tracked.watchdog.pid, "SIGKILL")
        } catch {
          // already gone
        }
      }
      if (!tracked.keepWorkDir) rmSync(workDir, { recursive: true, force: true })
    })()
    return stopped
  }

  try {
    const pkiDir = join(workDir, "pki")
    mkdirSync(pkiDir, { recursive: true })
    const [pki, etcdPort, peerPort, apiPort] = await Promise.all([makePki(pkiBin, pkiDir), freePort(), freePort(), freePort()])
    const tCerts = Date.now()
    const pidFile = join(workDir, "pids")
    tracked.watchdog = startWatchdog(tracked, pidFile)
    const started = (child: ChildProcess) => {
      tracked.children.push(child)
      appendFileSync(pidFile, `${child.pid}\n`)
      return child
    }

    // etcd
    const etcdUrl = `http://127.0.0.1:${etcdPort}`
    const peerUrl = `http://127.0.0.1:${peerPort}`
    const etcdLog = join(workDir, "etcd.log")
    const etcd = started(startProcess(etcdBin, [
      "--name=t",
      `--data-dir=${join(workDir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=t=${peerUrl}`,
      "--unsafe-no-fsync=true",
      "--log-level=warn"
    ], etcdLog))
    const deadline = Date.now() + timeoutMs
    await waitUntil("etcd /health", deadline, async () => {
      exitedEarly(etcd, "etcd", etcdLog)
      const r = await fetch(`${etcdUrl}/health`)
      return r.ok && ((await r.json()) as { health?: string }).health === "true"
    }, () => tail(etcdLog))
    const tEtcd = Date.now()

    // kube-apiserver
    const server = `https://127.0.0.1:${apiPort}`
    const apiLog = join(workDir, "kube-apiserver.log")
    const apiserver = started(startProcess(apiserverBin, [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      `--cert-dir=${pkiDir}`,
      `--tls-cert-file=${join(pkiDir, "apiserver.crt")}`,
      `--tls-private-key-file=${join(pkiDir, "apiserver.key")}`,
      `--client-ca-file=${join(pkiDir, "ca.crt")}`,
      `--service-account-issuer=${server}/`,
      `--service-account-key-file=${join(pkiDir, "sa.pub")}`,
      `--service-account-signing-key-file=${join(pkiDir, "sa.key")}`,
      "--service-cluster-ip-range=10.0.0.0/24",
      "--authorization-mode=RBAC",
      "--disable-admission-plugins=ServiceAccount",
      "--allow-privileged=true",
      // Lighter on two cores, and no request queueing to make test timings noisy.
      "--enable-priority-and-fairness=false",
      "--profiling=false"
    ], apiLog))
    await waitUntil("kube-apiserver /readyz", deadline, async () => {
      exitedEarly(apiserver, "kube-apiserver", apiLog)
      return (await apiRequest(server, pki, "GET", "/readyz")).status === 200
    }, () => tail(apiLog))
    await waitUntil("namespace default", deadline, async () =>
      (await apiRequest(server, pki, "GET", "/api/v1/namespaces/default")).status === 200)
    const tApi = Date.now()

    const kubeconfig = kubeconfigYaml(server, pki)
    const kubeconfigPath = join(workDir, "kubeconfig")
    writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 })

    await installCrds(server, pki, options.crds ?? DEFAULT_CRDS, Math.max(deadline - Date.now(), 30_000))
    const tCrds = Date.now()

    // After the CRDs: the garbage collector watches the resources discovery lists when it starts
    // and looks again only every 30 s, so earlier it would miss Apis and their children for a while.
    let controllerManager: ChildProcess | undefined
    if (withControllerManager) {
      const kcmPki: Pki = {
        caCrt: pki.caCrt,
        clientCrt: readPki(pkiDir, "kube-controller-manager.crt"),
        clientKey: readPki(pkiDir, "kube-controller-manager.key")
      }
      const kcmKubeconfig = join(workDir, "kube-controller-manager.kubeconfig")
      writeFileSync(kcmKubeconfig, kubeconfigYaml(server, kcmPki, "kube-controller-manager"), { mode: 0o600 })
      const kcmLog = join(workDir, "kube-controller-manager.log")
      const kcm = started(startProcess(kcmBin, [
        `--kubeconfig=${kcmKubeconfig}`,
        `--controllers=${CONTROLLERS.join(",")}`,
        "--leader-elect=false",
        // No HTTPS endpoint at all (readiness is read off the API below); nothing listens but on loopback.
        "--secure-port=0",
        "--bind-address=127.0.0.1",
        "--profiling=false"
      ], kcmLog))
      controllerManager = kcm
      await waitUntil("kube-controller-manager (the default ServiceAccount)", Math.max(deadline, Date.now() + 30_000), async () => {
        exitedEarly(kcm, "kube-controller-manager", kcmLog)
        return (await apiRequest(server, pki, "GET", "/api/v1/namespaces/default/serviceaccounts/default")).status === 200
      }, () => tail(kcmLog), 200)
    }
    const tKcm = Date.now()

    const timings: ControlPlaneTimings = {
      certsMs: tCerts - t0,
      etcdMs: tEtcd - tCerts,
      apiserverMs: tApi - tEtcd,
      crdsMs: tCrds - tApi,
      controllerManagerMs: tKcm - tCrds,
      totalMs: tKcm - t0
    }
    log(
      `started in ${(timings.totalMs / 1000).toFixed(1)}s (certs ${timings.certsMs} ms, etcd ${timings.etcdMs} ms, ` +
        `kube-apiserver ${timings.apiserverMs} ms, CRDs ${timings.crdsMs} ms, ` +
        (withControllerManager ? `kube-controller-manager ${timings.controllerManagerMs} ms` : "no kube-controller-manager") +
        `): ${server}, kubeconfig ${kubeconfigPath}`
    )
    return {
      kubeconfigPath,
      kubeconfig,
      server,
      etcdUrl,
      workDir,
      pids: {
        etcd: etcd.pid!,
        apiserver: apiserver.pid!,
        ...(controllerManager?.pid !== undefined ? { controllerManager: controllerManager.pid } : {})
      },
      timings,
      stop
    }
  } catch (e) {
    await stop()
    throw e
  }
}

const startProcess = (bin: string, args: ReadonlyArray<string>, logFile: string): ChildProcess => {
  const fd = openSync(logFile, "a")
  try {
    const child = spawn(bin, args, { stdio: ["ignore", fd, fd] })
    child.on("error", () => {
      // reported through exitedEarly / readiness timeout
    })
    if (child.pid === undefined) throw new ControlPlaneError(`could not start ${bin}`)
    return child
  } finally {
    closeSync(fd)
  }
}

const exitedEarly = (child: ChildProcess, name: string, logFile: string) => {
  if (child.exitCode !== null || child.signalCode !== null) {
    throw new ControlPlaneError(
      `${name} exited (${child.exitCode ?? child.signalCode}) before it was ready; its log ends:\n${tail(logFile)}`
    )
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
const terminate = (child: ChildProcess, graceMs = 5_000): Promise<void> =>
  new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return done()
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL")
      } catch {
        // already gone
      }
    }, graceMs)
    child.once("exit", () => {
      clearTimeout(timer)
      done()
    })
    child.kill("SIGTERM")
  })

// `npx tsx scripts/lib/ControlPlane.ts`: start one and keep it until Ctrl-C.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const cp = await startControlPlane()
  console.log(`export KUBECONFIG=${cp.kubeconfigPath}`)
  console.log("Ctrl-C stops it.")
  await new Promise<void>((r) => {
    process.once("SIGINT", r)
    process.once("SIGTERM", r)
  })
  await cp.stop()
}
