/**
 * What src/k8s/ClientNodeAdapter.ts relies on in @kubernetes/client-node's public API. Each case
 * is one reliance; a client-node upgrade that changes it fails here, by name, before a cluster
 * test or production finds out.
 */
import { assert, describe, it } from "@effect/vitest"
import { HttpMethod, KubeConfig, RequestContext, Watch } from "@kubernetes/client-node"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { RequestOptions } from "node:https"
import type { AddressInfo } from "node:net"
import { Agent, type Dispatcher } from "undici"
import { clusterClient, USER_AGENT } from "../../src/k8s/ClientNodeAdapter.ts"

const b64 = (s: string) => Buffer.from(s).toString("base64")

const options = (cluster: Record<string, unknown>, user: Record<string, unknown>) => ({
  clusters: [{ name: "c", server: "https://127.0.0.1:6443", ...cluster }],
  users: [{ name: "u", ...user }],
  contexts: [{ name: "ctx", cluster: "c", user: "u" }],
  currentContext: "ctx"
})

const kubeconfig = (cluster: Record<string, unknown>, user: Record<string, unknown>) => {
  const kc = new KubeConfig()
  kc.loadFromOptions(options(cluster, user))
  return kc
}

interface Seen {
  readonly url: string
  readonly headers: IncomingHttpHeaders
}

/** A plain-HTTP stand-in for the API server: answers a watch with one ADDED event, anything else with `{}`. */
const withServer = async <A>(body: (server: string, seen: Array<Seen>) => Promise<A>): Promise<A> => {
  const seen: Array<Seen> = []
  const srv = createServer((req, res) => {
    seen.push({ url: req.url ?? "", headers: req.headers })
    res.setHeader("content-type", "application/json")
    if ((req.url ?? "").includes("watch=true")) {
      res.end(`${JSON.stringify({ type: "ADDED", object: { metadata: { name: "a", resourceVersion: "7" } } })}\n`)
    } else res.end("{}")
  })
  await new Promise<void>((ok) => srv.listen(0, "127.0.0.1", ok))
  try {
    return await body(`http://127.0.0.1:${(srv.address() as AddressInfo).port}`, seen)
  } finally {
    srv.closeAllConnections()
    await new Promise((ok) => srv.close(ok))
  }
}

/** Runs one watch to its end; the events it delivered. */
const watchOnce = (kc: KubeConfig, path: string) =>
  new Promise<Array<string>>((ok, fail) => {
    const events: Array<string> = []
    void new Watch(kc).watch(path, { resourceVersion: "1" }, (type, obj: { metadata: { name: string } }) => {
      events.push(`${type} ${obj.metadata.name}`)
    }, (err) => (err ? fail(err) : ok(events)))
  })

describe("client-node's public API, as ClientNodeAdapter uses it", () => {
  it("applyToHTTPSOptions yields the kubeconfig's TLS material and its credential headers", async () => {
    const kc = kubeconfig(
      { caData: b64("the CA"), skipTLSVerify: true, tlsServerName: "api.internal" },
      { certData: b64("the cert"), keyData: b64("the key"), token: "t0k3n", impersonateUser: "jane" }
    )
    const opts: RequestOptions = {}
    await kc.applyToHTTPSOptions(opts)
    assert.strictEqual(String(opts.ca), "the CA")
    assert.strictEqual(String(opts.cert), "the cert")
    assert.strictEqual(String(opts.key), "the key")
    assert.strictEqual(opts.rejectUnauthorized, false)
    assert.strictEqual(opts.servername, "api.internal")
    assert.deepStrictEqual(opts.headers, { Authorization: "Bearer t0k3n", "Impersonate-User": "jane" })
  })

  it("applyToHTTPSOptions gives basic auth as `auth`, and asks an authenticator again on every call", async () => {
    const basic: RequestOptions = {}
    await kubeconfig({}, { username: "admin", password: "secret" }).applyToHTTPSOptions(basic)
    assert.strictEqual(basic.auth, "admin:secret")

    const kc = kubeconfig({}, {})
    let issued = 0
    kc.addAuthenticator({ isAuthProvider: () => true, applyAuthentication: async (_user, opts) => {
      opts.headers = { ...opts.headers, Authorization: `Bearer token-${++issued}` }
    } })
    const tokens: Array<unknown> = []
    for (let i = 0; i < 2; i++) {
      const opts: RequestOptions = {}
      await kc.applyToHTTPSOptions(opts)
      tokens.push((opts.headers as Record<string, unknown> | undefined)?.["Authorization"])
    }
    assert.deepStrictEqual(tokens, ["Bearer token-1", "Bearer token-2"])
  })

  it("createDispatcherOptions turns TLS material into an agent's connect options, a proxy into a proxy", () => {
    const kc = kubeconfig({}, {})
    const agent = kc.createDispatcherOptions(kc.getCurrentCluster(), { ca: "the CA", cert: "the cert", key: "the key", servername: "s" })
    assert.strictEqual(agent.type, "agent")
    assert.deepInclude(agent.type === "agent" ? agent.connect : {}, { ca: "the CA", cert: "the cert", key: "the key", servername: "s", keepAlive: true })

    const proxied = kubeconfig({ proxyUrl: "http://proxy:3128" }, {})
    assert.strictEqual(proxied.createDispatcherOptions(proxied.getCurrentCluster(), {}).type, "proxy")
    const socks = kubeconfig({ proxyUrl: "socks5://proxy:1080" }, {})
    assert.strictEqual(socks.createDispatcherOptions(socks.getCurrentCluster(), {}).type, "socks")
  })

  it("applySecurityAuthentication puts client-node's own dispatcher on the request for a proxied cluster", async () => {
    const kc = kubeconfig({ proxyUrl: "http://proxy:3128" }, { token: "t" })
    const ctx = new RequestContext("https://127.0.0.1:6443/api", HttpMethod.GET)
    await kc.applySecurityAuthentication(ctx)
    assert.isDefined(ctx.getDispatcher())
    assert.strictEqual(ctx.getHeaders()["Authorization"], "Bearer t")
  })

  it("Watch authenticates through its KubeConfig's applySecurityAuthentication and sends its headers on its dispatcher", async () => {
    await withServer(async (server, seen) => {
      let dispatched = 0
      const counting: Dispatcher = new Agent().compose((dispatch) => (opts, handler) => {
        dispatched++
        return dispatch(opts, handler)
      })
      class Authenticated extends KubeConfig {
        override async applySecurityAuthentication(context: RequestContext): Promise<void> {
          context.setHeaderParam("Authorization", "Bearer from-override")
          context.setDispatcher(counting as Agent)
        }
      }
      const kc = new Authenticated()
      kc.loadFromOptions(options({ server, skipTLSVerify: true }, {}))
      const events = await watchOnce(kc, "/api/v1/namespaces")
      assert.deepStrictEqual(events, ["ADDED a"])
      assert.strictEqual(dispatched, 1)
      assert.strictEqual(seen[0]?.headers.authorization, "Bearer from-override")
      assert.match(seen[0]?.url ?? "", /^\/api\/v1\/namespaces\?watch=true&resourceVersion=1$/)
    })
  })

  it("the adapter's watch config: a watch goes on the connection's pool, with its credentials and user agent", async () => {
    await withServer(async (server, seen) => {
      const client = clusterClient(kubeconfig({ server, skipTLSVerify: true }, { token: "t" }))
      const connection = await client.connection()
      const events = await watchOnce(client.watchConfig, "/api/v1/namespaces")
      assert.deepStrictEqual(events, ["ADDED a"])
      assert.strictEqual(seen[0]?.headers.authorization, "Bearer t")
      assert.strictEqual(seen[0]?.headers["user-agent"], USER_AGENT)
      // The same pool (and, with the case above, the one Watch sends on).
      const ctx = new RequestContext(`${server}/api`, HttpMethod.GET)
      await client.watchConfig.applySecurityAuthentication(ctx)
      assert.strictEqual(ctx.getDispatcher(), connection.dispatcher)
      assert.strictEqual(client.watchConfig.getCurrentCluster()?.server, server)
    })
  })
})
