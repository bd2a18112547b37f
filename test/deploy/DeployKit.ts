/**
 * Helpers for the deploy tests: kubectl (its built-in kustomize, server-side apply, TokenRequest),
 * the deploy/ kustomization rendered with its cluster-specific values changed in the one place
 * they live, and kubeconfigs for a service account's own token.
 *
 * kubectl: `$KUBECTL` if set, else `.bin/kubectl` if the control-plane build put one there, else
 * the one on PATH.
 */
import { REPO_ROOT } from "../../scripts/lib/RepoRoot.ts"
import { Data, Effect } from "effect"
import { execFile } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parse, parseAllDocuments, stringify } from "yaml"
import type { KubeObject } from "../../src/domain/Kube.ts"

export { REPO_ROOT }
export const DEPLOY_DIR = join(REPO_ROOT, "deploy")

export class KubectlError extends Data.TaggedError("KubectlError")<{
  readonly args: ReadonlyArray<string>
  readonly code: number | string
  readonly stderr: string
}> {
  override get message() {
    return `kubectl ${this.args.join(" ")} failed (${this.code}): ${this.stderr.trim()}`
  }
}

export const kubectlBinary = (): string => {
  const explicit = process.env["KUBECTL"]
  if (explicit !== undefined && explicit !== "") return explicit
  const local = join(REPO_ROOT, ".bin", "kubectl")
  return existsSync(local) ? local : "kubectl"
}

export interface KubectlResult {
  readonly stdout: string
  readonly stderr: string
}

/** Runs kubectl; fails with its stderr unless it exits 0. */
export const kubectl = (
  args: ReadonlyArray<string>,
  options: { readonly kubeconfig?: string; readonly input?: string } = {}
): Effect.Effect<KubectlResult, KubectlError> =>
  Effect.callback<KubectlResult, KubectlError>((resume) => {
    const full = [...(options.kubeconfig !== undefined ? ["--kubeconfig", options.kubeconfig] : []), ...args]
    const child = execFile(kubectlBinary(), full, { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error !== null) {
        const code = (error as { code?: number | string }).code ?? "error"
        resume(Effect.fail(new KubectlError({ args, code, stderr: `${stderr}${error.message}` })))
      } else resume(Effect.succeed({ stdout, stderr }))
    })
    if (options.input !== undefined) child.stdin?.end(options.input)
  })

/** kubectl's warnings (lines starting "Warning:"), minus the client/server version-skew one. */
export const warningsIn = (stderr: string): ReadonlyArray<string> =>
  stderr.split("\n").filter((l) => /^warning/i.test(l.trim()) && !/version difference between client/i.test(l))

export const parseDocs = (text: string): ReadonlyArray<KubeObject> =>
  parseAllDocuments(text).map((d) => d.toJS() as KubeObject | null).filter((o): o is KubeObject => o !== null)

export const toYaml = (objects: ReadonlyArray<KubeObject>): string => objects.map((o) => stringify(o)).join("---\n")

// ---------------------------------------------------------------------------------------------
// the kustomization, with the cluster-specific values changed where they live

export interface DeployValues {
  readonly namespace?: string
  readonly domain?: string
  readonly image?: { readonly name: string; readonly tag: string }
}

/** A copy of deploy/ (without samples) whose kustomization.yaml carries `values`. Removed with the scope. */
export const deployCopy = (values: DeployValues) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = mkdtempSync(join(tmpdir(), "api-controller-deploy-"))
      cpSync(DEPLOY_DIR, dir, { recursive: true, filter: (src) => !src.startsWith(join(DEPLOY_DIR, "samples")) })
      const file = join(dir, "kustomization.yaml")
      let text = readFileSync(file, "utf8")
      const replace = (pattern: RegExp, value: string) => {
        if (!pattern.test(text)) throw new Error(`deploy/kustomization.yaml has no line matching ${pattern}`)
        text = text.replace(pattern, value)
      }
      if (values.namespace !== undefined) replace(/^namespace: .*$/m, `namespace: ${values.namespace}`)
      if (values.domain !== undefined) replace(/^(\s+- DOMAIN_NAME=).*$/m, `$1${values.domain}`)
      if (values.image !== undefined) {
        replace(/^(\s+newName: ).*$/m, `$1${values.image.name}`)
        replace(/^(\s+newTag: ).*$/m, `$1${values.image.tag}`)
      }
      writeFileSync(file, text)
      return dir
    }),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

/** `kubectl kustomize <dir>` as objects. */
export const render = (dir: string) =>
  Effect.map(kubectl(["kustomize", dir]), (r) => parseDocs(r.stdout))

export const byKind = (objects: ReadonlyArray<KubeObject>, kind: string): ReadonlyArray<KubeObject> =>
  objects.filter((o) => o.kind === kind)

export const one = (objects: ReadonlyArray<KubeObject>, kind: string): KubeObject => {
  const found = byKind(objects, kind)
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`)
  return found[0]!
}

// ---------------------------------------------------------------------------------------------
// a service account's own credentials

interface KubeconfigFile {
  readonly clusters: ReadonlyArray<{ readonly cluster: { readonly server: string; readonly "certificate-authority-data": string } }>
}

/** The API server URL and CA (PEM) of an admin kubeconfig. */
export const clusterOf = (kubeconfigPath: string): { readonly server: string; readonly caPem: string } => {
  const kc = parse(readFileSync(kubeconfigPath, "utf8")) as KubeconfigFile
  const c = kc.clusters[0]!.cluster
  return { server: c.server, caPem: Buffer.from(c["certificate-authority-data"], "base64").toString("utf8") }
}

/** A token for the service account from the TokenRequest API (`kubectl create token`). */
export const serviceAccountToken = (adminKubeconfig: string, namespace: string, serviceAccount: string) =>
  Effect.map(
    kubectl(["create", "token", serviceAccount, "-n", namespace, "--duration=1h"], { kubeconfig: adminKubeconfig }),
    (r) => r.stdout.trim()
  )

/** A kubeconfig file that authenticates with `token` only (no client certificate). */
export const tokenKubeconfig = (dir: string, server: string, caPem: string, token: string): string => {
  const path = join(dir, "kubeconfig")
  writeFileSync(
    path,
    `apiVersion: v1
kind: Config
clusters:
- name: cluster
  cluster:
    server: ${server}
    certificate-authority-data: ${Buffer.from(caPem).toString("base64")}
users:
- name: service-account
  user:
    token: ${token}
contexts:
- name: service-account
  context: { cluster: cluster, user: service-account }
current-context: service-account
`,
    { mode: 0o600 }
  )
  return path
}

/** What the kubelet mounts into a Pod, under `root`: token, ca.crt and namespace. */
export const mountServiceAccount = (root: string, token: string, caPem: string, namespace: string): void => {
  const dir = join(root, "var/run/secrets/kubernetes.io/serviceaccount")
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "token"), token)
  writeFileSync(join(dir, "ca.crt"), caPem)
  writeFileSync(join(dir, "namespace"), namespace)
}

/** A fresh temporary directory, removed with the scope. */
export const tempDir = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), prefix))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
