/**
 * The README's first command, `npm start -- --exit`: with no kubeconfig it starts a local control
 * plane of its own (the one this tier's global setup already built into .bin/), runs the
 * controller, applies deploy/samples (Services and Apis) and exits 0 only when every sample has
 * reached the state its comment documents. Under `auto` that is the istio-security backend, as
 * on today's Istio: the samples must be valid for it and bring the Services it selects by.
 */
import { assert, describe, it } from "vitest"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { REPO_ROOT } from "../../scripts/lib/RepoRoot.ts"

describe("npm start -- --exit (the README's first command)", () => {
  it("starts its own control plane and the controller, and every sample settles as documented under auto", async () => {
    const home = mkdtempSync(join(tmpdir(), "api-controller-start-"))
    try {
      // A user's machine without a cluster: no KUBECONFIG, an empty HOME (no ~/.kube/config).
      const env = { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: home }
      const child = spawn(join(REPO_ROOT, "node_modules/.bin/tsx"), ["scripts/start.ts", "--exit"], { cwd: REPO_ROOT, env })
      let out = ""
      child.stdout.on("data", (d: Buffer) => (out += d.toString()))
      child.stderr.on("data", (d: Buffer) => (out += d.toString()))
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => child.kill("SIGKILL"), 150_000)
        child.once("exit", (c) => {
          clearTimeout(timer)
          resolve(c)
        })
      })
      assert.strictEqual(code, 0, out.slice(-4000))
      assert.include(out, "[start] every sample reached the state it documents")
      assert.include(out, "[start] control plane stopped")
      // The web view's address is said once.
      const web = /^\[start\] live web view of the Apis at (http:\/\/127\.0\.0\.1:\d+)\/$/m.exec(out)
      assert.isNotNull(web, out.slice(0, 4000))
      assert.deepStrictEqual(out.split("\n").filter((l) => l.includes(`${web![1]!}/`)), [web![0]])
      // The last table: the secured samples are Ready on the security backend.
      const last = out.slice(out.lastIndexOf("API  "))
      assert.match(last, /^orders\s+orders\s+orders\s+2\s+2\s+2\s+True Ready/m)
      assert.match(last, /^billing\s+billing\.kyma\.local\s+billing\s+2\s+2\s+2\s+True Ready/m)
      // A column per machine in the catalog's order: validation, authentication, VirtualService.
      assert.match(last, /^API\s+HOSTNAME\s+SERVICE\s+VALIDATION\s+AUTHENTICATION\s+VIRTUALSERVICE\s+READY\s+LAST ERROR$/m)
      assert.match(last, /^httpbin\s.*\s2\s+off\s+2\s+True Ready/m)
      assert.match(last, /^orders-copy\s.*\s5\s+off\s+0\s+False TargetServiceOccupied/m)
    } finally {
      rmSync(home, { recursive: true, force: true })
    }
  }, 180_000)
})
