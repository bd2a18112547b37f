/**
 * How KubeApiLive authenticates each request (src/k8s/KubeApiLive.ts `cachedAuthentication`):
 * the TLS setup and connection pool once, the credentials that can change on every request.
 */
import { assert, describe, it } from "@effect/vitest"
import { HttpMethod, KubeConfig, RequestContext } from "@kubernetes/client-node"
import { cachedAuthentication } from "../../src/k8s/KubeApiLive.ts"

const kubeconfig = (user: Record<string, unknown>) => {
  const kc = new KubeConfig()
  kc.loadFromOptions({
    clusters: [{ name: "c", server: "https://127.0.0.1:6443", caData: Buffer.from("not a real CA").toString("base64") }],
    users: [{ name: "u", ...user }],
    contexts: [{ name: "ctx", cluster: "c", user: "u" }],
    currentContext: "ctx"
  })
  return kc
}

/** Runs `n` requests' authentication; their headers and dispatchers, and how often client-node's whole way ran. */
const authenticate = async (kc: KubeConfig, n: number) => {
  let fullWay = 0
  const original = kc.applySecurityAuthentication.bind(kc)
  kc.applySecurityAuthentication = (ctx) => {
    fullWay++
    return original(ctx)
  }
  const auth = cachedAuthentication(kc)
  const requests: Array<RequestContext> = []
  for (let i = 0; i < n; i++) {
    const ctx = new RequestContext("https://127.0.0.1:6443/api/v1/namespaces", HttpMethod.GET)
    await auth.applySecurityAuthentication(ctx)
    requests.push(ctx)
  }
  return { requests, fullWay }
}

describe("KubeApiLive authentication", () => {
  it("asks for the token on every request, so a rotated or refreshed token is used from the next request on", async () => {
    const kc = kubeconfig({})
    let issued = 0
    // An authenticator stands for the ones that refresh (the mounted token file, exec plugins).
    kc.addAuthenticator({ isAuthProvider: () => true, applyAuthentication: async (_user, opts) => {
      opts.headers = { ...opts.headers, Authorization: `Bearer token-${++issued}` }
    } })
    const { requests } = await authenticate(kc, 3)
    assert.deepStrictEqual(requests.map((r) => r.getHeaders()["Authorization"]), ["Bearer token-1", "Bearer token-2", "Bearer token-3"])
  })

  it("builds the TLS options and picks the connection pool once, then reuses that pool", async () => {
    const kc = kubeconfig({ token: "t" })
    const { requests, fullWay } = await authenticate(kc, 4)
    assert.strictEqual(fullWay, 1)
    const pool = requests[0]!.getDispatcher()
    assert.isDefined(pool)
    for (const r of requests) assert.strictEqual(r.getDispatcher(), pool)
    assert.deepStrictEqual(requests.map((r) => r.getHeaders()["Authorization"]), ["Bearer t", "Bearer t", "Bearer t", "Bearer t"])
  })

  it("keeps basic auth and impersonation on every request, as client-node sets them", async () => {
    const kc = kubeconfig({ username: "admin", password: "secret", impersonateUser: "jane" })
    const { requests } = await authenticate(kc, 3)
    const basic = `Basic ${Buffer.from("admin:secret").toString("base64")}`
    for (const r of requests) {
      assert.strictEqual(r.getHeaders()["Authorization"], basic)
      assert.strictEqual(r.getHeaders()["Impersonate-User"], "jane")
    }
  })
})
