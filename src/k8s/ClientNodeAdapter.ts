/**
 * What KubeApiLive takes from `@kubernetes/client-node` 2.0, through its public API only:
 *
 * - `KubeConfig.applyToHTTPSOptions`: the kubeconfig's TLS material and, on every call, its
 *   credentials: a static token, the service-account token file the kubelet rotates, an exec
 *   plugin's or auth provider's token, basic auth, impersonation.
 * - `KubeConfig.createDispatcherOptions`: how that TLS material (or a proxy) becomes an undici
 *   connection. A proxied cluster keeps client-node's own dispatcher, taken from
 *   `applySecurityAuthentication`.
 * - `Watch`, given a `KubeConfig` whose `applySecurityAuthentication` (the `SecurityAuthentication`
 *   every client-node request goes through) hands it our connection pool and credentials.
 *
 * test/k8s/ClientNodeAdapter.test.ts pins each of these, so an upgrade that changes one fails there.
 */
import { HttpMethod, KubeConfig, RequestContext } from "@kubernetes/client-node"
import type { RequestOptions } from "node:https"
import { Agent, type Dispatcher } from "undici"

export const USER_AGENT = "api-controller"

/** One cluster endpoint: where requests go, on which pool, with which credentials. */
export interface Connection {
  /** `https://host:port` of the current cluster. */
  readonly origin: string
  /** The server URL's path ("" or e.g. `/k8s/clusters/c-1` behind a proxy), put before every request path. */
  readonly basePath: string
  /** One pool for every request and watch: one TLS handshake per connection, not per request. */
  readonly dispatcher: Dispatcher
  /**
   * The headers that authenticate a request, asked for on every request, as client-node does:
   * the token the kubelet rotates or an exec plugin refreshes is used from the next request on.
   */
  readonly credentials: () => Promise<Record<string, string>>
}

/** The kubeconfig's TLS options and credential headers, from client-node's public call. */
const httpsOptions = async (kc: KubeConfig): Promise<RequestOptions> => {
  const opts: RequestOptions = {}
  await kc.applyToHTTPSOptions(opts)
  return opts
}

/** As `applySecurityAuthentication` sets them: basic auth first, then the headers (a token's Authorization wins). */
const credentialHeaders = (opts: RequestOptions): Record<string, string> => {
  const headers: Record<string, string> = {}
  if (typeof opts.auth === "string") headers["Authorization"] = `Basic ${Buffer.from(opts.auth).toString("base64")}`
  for (const [name, value] of Object.entries(opts.headers ?? {})) {
    if (value !== undefined) headers[name] = `${value}`
  }
  return headers
}

/**
 * The pool. client-node 2.0.1 builds a new undici Agent (a new pool, so a new TLS handshake) for
 * every request; one per KubeConfig instead took 200 sequential GETs from 203 connections and
 * 4.6 ms each to 3 connections and 1.4 ms. It speaks HTTP/1.1: undici 8 negotiates HTTP/2 when
 * the server offers it, and node's HTTP/2 client costs more CPU per request (1.3 against 0.8 ms
 * per create, scripts/bench-client.ts); a controller's few concurrent requests gain nothing from
 * multiplexing. A proxied cluster (HTTP or SOCKS) keeps client-node's own dispatcher.
 */
const dispatcherOf = async (kc: KubeConfig, server: string, tls: RequestOptions): Promise<Dispatcher> => {
  const options = kc.createDispatcherOptions(kc.getCurrentCluster(), {
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
    ...(tls.pfx !== undefined ? { pfx: tls.pfx } : {}),
    ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
    ...(tls.rejectUnauthorized !== undefined ? { rejectUnauthorized: tls.rejectUnauthorized } : {}),
    ...(tls.servername !== undefined ? { servername: tls.servername } : {})
  })
  switch (options.type) {
    case "agent":
      return new Agent({ connect: options.connect as NonNullable<Agent.Options["connect"]>, allowH2: false })
    case "none":
      return new Agent({ allowH2: false })
    default: {
      const probe = new RequestContext(server, HttpMethod.GET)
      await kc.applySecurityAuthentication(probe)
      const dispatcher = probe.getDispatcher()
      if (dispatcher === undefined) throw new Error(`client-node set no dispatcher for the ${options.type} proxy`)
      return dispatcher
    }
  }
}

const open = async (kc: KubeConfig): Promise<Connection> => {
  const server = kc.getCurrentCluster()?.server
  if (server === undefined) throw new Error("no cluster in the current context")
  const url = new URL(server)
  // The TLS material is read once: certificates do not change for a loaded KubeConfig.
  const dispatcher = await dispatcherOf(kc, server, await httpsOptions(kc))
  return {
    origin: url.origin,
    basePath: url.pathname.replace(/\/+$/, ""),
    dispatcher,
    credentials: () => httpsOptions(kc).then(credentialHeaders)
  }
}

/**
 * A `KubeConfig` for client-node's `Watch`: the same clusters, users and contexts as the given
 * one, and every request it authenticates goes on `connection`'s pool with its credentials.
 */
class ConnectionKubeConfig extends KubeConfig {
  private readonly connection: () => Promise<Connection>

  constructor(kc: KubeConfig, connection: () => Promise<Connection>) {
    super()
    this.loadFromOptions({
      clusters: kc.getClusters(),
      users: kc.getUsers(),
      contexts: kc.getContexts(),
      currentContext: kc.getCurrentContext()
    })
    this.connection = connection
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    const c = await this.connection()
    context.setHeaderParam("User-Agent", USER_AGENT)
    for (const [name, value] of Object.entries(await c.credentials())) context.setHeaderParam(name, value)
    context.setDispatcher(c.dispatcher)
  }
}

export interface ClusterClient {
  /** The connection, opened on first use; an open that fails (say, an unreadable CA file) is tried again next time. */
  readonly connection: () => Promise<Connection>
  /** For client-node's `Watch`: its requests share `connection`'s pool and credentials. */
  readonly watchConfig: KubeConfig
}

export const clusterClient = (kc: KubeConfig): ClusterClient => {
  let opening: Promise<Connection> | undefined
  const connection = () =>
    opening ??= open(kc).catch((e: unknown) => {
      opening = undefined
      throw e
    })
  return { connection, watchConfig: new ConnectionKubeConfig(kc, connection) }
}
