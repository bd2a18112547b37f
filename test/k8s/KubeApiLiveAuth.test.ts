/**
 * How KubeApiLive authenticates its requests (src/k8s/KubeApiLive.ts through ClientNodeAdapter.ts):
 * one connection pool, and the credentials that can change asked for on every request and watch.
 * Against a plain-HTTP stand-in for the API server that records what it was sent.
 */
import { assert, describe, it } from "@effect/vitest"
import { KubeConfig } from "@kubernetes/client-node"
import { Effect, Stream } from "effect"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"
import { Kinds } from "../../src/domain/Kube.ts"
import { FIELD_MANAGER, makeKubeApi } from "../../src/k8s/KubeApiLive.ts"

interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

const api = { apiVersion: "gateway.kyma-project.io/v1alpha2", kind: "Api", metadata: { name: "a", namespace: "ns", resourceVersion: "7" } }

/** Answers a watch with one ADDED event, anything else with the Api. */
const withServer = async <A>(body: (server: string, seen: Array<Seen>) => Promise<A>): Promise<A> => {
  const seen: Array<Seen> = []
  const srv = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString() })
      res.setHeader("content-type", "application/json")
      res.end((req.url ?? "").includes("watch=true") ? `${JSON.stringify({ type: "ADDED", object: api })}\n` : JSON.stringify(api))
    })
  })
  await new Promise<void>((ok) => srv.listen(0, "127.0.0.1", ok))
  try {
    return await body(`http://127.0.0.1:${(srv.address() as AddressInfo).port}`, seen)
  } finally {
    srv.closeAllConnections()
    await new Promise((ok) => srv.close(ok))
  }
}

const kubeconfig = (server: string, user: Record<string, unknown>) => {
  const kc = new KubeConfig()
  kc.loadFromOptions({
    clusters: [{ name: "c", server, skipTLSVerify: true }],
    users: [{ name: "u", ...user }],
    contexts: [{ name: "ctx", cluster: "c", user: "u" }],
    currentContext: "ctx"
  })
  return kc
}

/** Three gets and one watch's first event. */
const requests = (kc: KubeConfig) =>
  Effect.runPromise(Effect.gen(function*() {
    const kube = makeKubeApi(kc)
    for (let i = 0; i < 3; i++) yield* kube.get(Kinds.Api, "ns", "a")
    yield* kube.watch(Kinds.Api, { namespace: "ns", resourceVersion: "1" }).pipe(Stream.take(1), Stream.runDrain)
  }).pipe(Effect.scoped))

describe("KubeApiLive authentication", () => {
  it("asks for the token on every request, so a rotated or refreshed token is used from the next request on", async () => {
    await withServer(async (server, seen) => {
      const kc = kubeconfig(server, {})
      let issued = 0
      // An authenticator stands for the ones that refresh (the mounted token file, exec plugins).
      kc.addAuthenticator({ isAuthProvider: () => true, applyAuthentication: async (_user, opts) => {
        opts.headers = { ...opts.headers, Authorization: `Bearer token-${++issued}` }
      } })
      await requests(kc)
      const issuedFor = seen.map((s) => Number(/^Bearer token-(\d+)$/.exec(s.headers.authorization ?? "")?.[1]))
      // Each request and the watch asked again: each carries the token issued right after the one before.
      assert.strictEqual(issuedFor.length, 4)
      for (let i = 1; i < issuedFor.length; i++) assert.strictEqual(issuedFor[i], issuedFor[i - 1]! + 1, String(issuedFor))
      assert.match(seen[3]!.url, /watch=true/)
    })
  })

  it("keeps a static token, basic auth and impersonation on every request and watch, as client-node sets them", async () => {
    await withServer(async (server, seen) => {
      await requests(kubeconfig(server, { token: "t" }))
      assert.deepStrictEqual(seen.map((s) => s.headers.authorization), ["Bearer t", "Bearer t", "Bearer t", "Bearer t"])
    })
    await withServer(async (server, seen) => {
      await requests(kubeconfig(server, { username: "admin", password: "secret", impersonateUser: "jane" }))
      const basic = `Basic ${Buffer.from("admin:secret").toString("base64")}`
      assert.strictEqual(seen.length, 4)
      for (const s of seen) {
        assert.strictEqual(s.headers.authorization, basic)
        assert.strictEqual(s.headers["impersonate-user"], "jane")
      }
    })
  })

  it("sends writes as JSON under the api-controller field manager, patches as merge patches", async () => {
    await withServer(async (server, seen) => {
      await Effect.runPromise(Effect.gen(function*() {
        const kube = makeKubeApi(kubeconfig(server, {}))
        yield* kube.create(Kinds.Api, api)
        yield* kube.patchStatus(Kinds.Api, "ns", "a", { status: { validationStatus: 1 } })
        yield* kube.delete(Kinds.Namespace, "", "gone", { uid: "u-1" })
      }))
      assert.deepStrictEqual(seen.map((s) => [s.method, s.url, s.headers["content-type"], s.headers["user-agent"]]), [
        ["POST", `/apis/gateway.kyma-project.io/v1alpha2/namespaces/ns/apis?fieldManager=${FIELD_MANAGER}`, "application/json", "api-controller"],
        ["PATCH", `/apis/gateway.kyma-project.io/v1alpha2/namespaces/ns/apis/a/status?fieldManager=${FIELD_MANAGER}`, "application/merge-patch+json", "api-controller"],
        ["DELETE", "/api/v1/namespaces/gone", "application/json", "api-controller"]
      ])
      assert.deepStrictEqual(seen.map((s) => JSON.parse(s.body)), [api, { status: { validationStatus: 1 } }, { preconditions: { uid: "u-1" } }])
    })
  })
})
