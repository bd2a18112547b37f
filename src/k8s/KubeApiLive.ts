/**
 * `KubeApi` on a real API server, through `@kubernetes/client-node` 2.0 (the only module that
 * imports the client library).
 *
 * Every kind goes through `CustomObjectsApi`: it speaks plain JSON (no typed models, no Date
 * objects), so custom resources, Leases, Events and Namespaces all come back as the same
 * `KubeObject` the in-memory cluster hands out. Core kinds (group "") live under `/api/v1`
 * instead of `/apis/<group>/<version>`; a request middleware rewrites the path for them.
 *
 * Every call is wrapped once and fails with `KubeApiError`: the reason from the HTTP status
 * (409 split into AlreadyExists/Conflict by the server's Status reason), the detail from the
 * server's Status message, and for 422 the field causes. No HTTP answer is `Transport`.
 */
import {
  ApiException,
  createConfiguration,
  CustomObjectsApi,
  type HttpLibrary,
  KubeConfig,
  Observable,
  type ObservableMiddleware,
  PatchStrategy,
  type RequestContext,
  ResponseContext,
  type SecurityAuthentication,
  ServerConfiguration,
  setHeaderOptions,
  Watch,
  wrapHttpLibrary
} from "@kubernetes/client-node"
import { Cause, Effect, Layer, Queue, Stream } from "effect"
import { Agent, type Dispatcher, request } from "undici"
import { existsSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { apiVersionOf, type KubeObject, type ResourceKind } from "../domain/Kube.ts"
import {
  type DeleteOptions,
  KubeApi,
  KubeApiError,
  type KubeApiErrorReason,
  type ListOptions,
  type MergePatch,
  type ObjectList,
  reasonFromStatus,
  type StatusCause,
  type WatchEvent,
  type WatchOptions
} from "./KubeApi.ts"

/** Who the server records in managedFields for our writes. */
export const FIELD_MANAGER = "api-controller"

/** Page size for lists; the first page's resourceVersion is the list's. */
const LIST_PAGE = 500

// ---------------------------------------------------------------------------------------------
// kubeconfig

export interface KubeConfigOptions {
  /** A kubeconfig file; wins over everything else. */
  readonly kubeconfigPath?: string
  /** Use this context instead of the file's current-context. */
  readonly context?: string
  /**
   * In-cluster configuration: the directory the service account is mounted under, as a prefix
   * of `/var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}`. Default: the
   * real mount (prefix ""). Tests point it at a directory of their own.
   */
  readonly serviceAccountRoot?: string
}

/** Where the kubelet mounts the service account's token, CA and namespace in a Pod. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

/** `~/.kube/config`, or undefined when the user has no home directory (an arbitrary UID in a Pod has none). */
const homeKubeconfig = (): string | undefined => {
  try {
    return join(homedir(), ".kube", "config")
  } catch {
    return undefined
  }
}

/** Where the configuration came from, for the startup log line. */
export type KubeConfigSource = "path" | "KUBECONFIG" | "home" | "in-cluster"

/**
 * The client configuration: an explicit path, else `KUBECONFIG` (a list, merged as kubectl
 * does), else `~/.kube/config`, else the in-cluster service account. Unlike
 * `loadFromDefault` it never falls back to `http://localhost:8080`.
 */
export const loadKubeConfig = (
  options: KubeConfigOptions = {}
): Effect.Effect<{ readonly kubeConfig: KubeConfig; readonly source: KubeConfigSource }, KubeApiError> =>
  Effect.try({
    try: () => {
      const kc = new KubeConfig()
      let source: KubeConfigSource
      const home = homeKubeconfig()
      const saRoot = options.serviceAccountRoot ?? ""
      if (options.kubeconfigPath !== undefined && options.kubeconfigPath !== "") {
        kc.loadFromFile(options.kubeconfigPath)
        source = "path"
      } else if ((process.env["KUBECONFIG"] ?? "") !== "") {
        kc.loadFromDefault()
        source = "KUBECONFIG"
      } else if (home !== undefined && existsSync(home)) {
        kc.loadFromFile(home)
        source = "home"
      } else if ((process.env["KUBERNETES_SERVICE_HOST"] ?? "") !== "") {
        // In a Pod: the API server's Service from the environment, the mounted token (re-read
        // as the kubelet rotates it) and CA. A missing mount is named rather than guessed at.
        for (const file of ["token", "ca.crt"]) {
          const path = `${saRoot}${SERVICE_ACCOUNT_DIR}/${file}`
          if (!existsSync(path)) {
            throw new Error(
              `KUBERNETES_SERVICE_HOST is set but ${path} is missing: is the service account token mounted (automountServiceAccountToken)?`
            )
          }
        }
        if ((process.env["KUBERNETES_SERVICE_PORT"] ?? "") === "") {
          throw new Error("KUBERNETES_SERVICE_HOST is set but KUBERNETES_SERVICE_PORT is not")
        }
        kc.loadFromCluster(saRoot)
        source = "in-cluster"
      } else {
        throw new Error("no kubeconfig: pass a path, set KUBECONFIG, create ~/.kube/config or run in a cluster")
      }
      if (options.context !== undefined) kc.setCurrentContext(options.context)
      if (kc.getCurrentCluster() === null) throw new Error(`no cluster in the current context "${kc.getCurrentContext()}"`)
      return { kubeConfig: kc, source }
    },
    catch: (e) =>
      new KubeApiError({
        reason: "Unexpected",
        operation: "load kubeconfig",
        detail: e instanceof Error ? e.message : String(e)
      })
  })

// ---------------------------------------------------------------------------------------------
// errors

interface Status {
  readonly message?: string
  readonly reason?: string
  readonly code?: number
  readonly details?: { readonly causes?: ReadonlyArray<StatusCause> }
}

const parseStatus = (body: unknown): Status | undefined => {
  try {
    const s: unknown = typeof body === "string" ? JSON.parse(body) : body
    return typeof s === "object" && s !== null ? (s as Status) : undefined
  } catch {
    return undefined
  }
}

const cleanCauses = (causes: ReadonlyArray<StatusCause> | undefined): ReadonlyArray<StatusCause> | undefined =>
  causes?.map((c) => ({
    ...(c.field !== undefined ? { field: c.field } : {}),
    ...(c.reason !== undefined ? { reason: c.reason } : {}),
    ...(c.message !== undefined ? { message: c.message } : {})
  }))

/** An error answer from the server (code + Status body) as a `KubeApiError`. */
const fromStatus = (operation: string, verb: string, code: number, body: unknown, fallback: string): KubeApiError => {
  const status = parseStatus(body)
  let reason: KubeApiErrorReason = reasonFromStatus(code, verb)
  // 409 is AlreadyExists or Conflict; the server says which.
  if (code === 409 && (status?.reason === "AlreadyExists" || status?.reason === "Conflict")) reason = status.reason
  const causes = cleanCauses(status?.details?.causes)
  return new KubeApiError({
    reason,
    operation,
    detail: status?.message ?? (typeof body === "string" && body !== "" ? body : fallback),
    ...(causes !== undefined && causes.length > 0 ? { causes } : {})
  })
}

const describeError = (e: unknown): string => {
  if (!(e instanceof Error)) return String(e)
  const cause = (e as { cause?: unknown }).cause
  const c = cause instanceof Error ? `: ${(cause as { code?: string }).code ?? cause.message}` : ""
  return `${e.message}${c}`
}

const toKubeApiError = (operation: string, verb: string) => (e: unknown): KubeApiError => {
  if (e instanceof ApiException) return fromStatus(operation, verb, e.code, e.body, `HTTP ${e.code}`)
  // Our own mistakes or an answer we could not read; everything else never got an HTTP answer.
  const unreadable = e instanceof SyntaxError || (e instanceof Error && e.name === "RequiredError")
  return new KubeApiError({ reason: unreadable ? "Unexpected" : "Transport", operation, detail: describeError(e) })
}

// ---------------------------------------------------------------------------------------------
// the service

/** Core kinds: `CustomObjectsApi` builds `/apis//v1/...`; the server wants `/api/v1/...`. */
const coreGroupPath: ObservableMiddleware = {
  pre: (ctx) => {
    ctx.setUrl(ctx.getUrl().replace("/apis//", "/api/"))
    return new Observable(Promise.resolve(ctx))
  },
  post: (res) => new Observable(Promise.resolve(res))
}

const coreOptions = { middleware: [coreGroupPath], middlewareMergeStrategy: "append" as const }
const mergePatchOptions = setHeaderOptions("Content-Type", PatchStrategy.MergePatch)
const coreMergePatchOptions = setHeaderOptions("Content-Type", PatchStrategy.MergePatch, coreOptions)

/**
 * Per-call configuration: the core-path rewrite where needed, the merge-patch content type for
 * patches: constants, built once rather than per request.
 */
const callOptions = (kind: ResourceKind, mergePatch = false) =>
  kind.group === "" ? (mergePatch ? coreMergePatchOptions : coreOptions) : mergePatch ? mergePatchOptions : undefined

/** Lists of core kinds leave out apiVersion/kind on items; the in-memory cluster has them. */
const withType = (kind: ResourceKind, o: unknown): KubeObject => {
  const obj = o as KubeObject
  return obj.apiVersion !== undefined && obj.kind !== undefined
    ? obj
    : { ...obj, apiVersion: apiVersionOf(kind), kind: kind.kind }
}

const collectionPath = (kind: ResourceKind, namespace: string | undefined): string => {
  const base = kind.group === "" ? `/api/${kind.version}` : `/apis/${kind.group}/${kind.version}`
  return kind.namespaced && namespace !== undefined && namespace !== ""
    ? `${base}/namespaces/${encodeURIComponent(namespace)}/${kind.plural}`
    : `${base}/${kind.plural}`
}

/**
 * client-node 2.0.1 builds a new undici Agent (a new connection pool, so a new TLS handshake) for
 * every request. Reuse one per cluster endpoint instead: measured, 200 sequential GETs went from
 * 203 open connections and 4.6 ms each to 3 connections and 1.4 ms, and 1,000 Apis converged in
 * about half the time. Credentials that change (a rotated service-account token) travel in
 * headers, which are still set per request; certificates do not change for a KubeConfig.
 *
 * The pool speaks HTTP/1.1 with keep-alive. undici 8 negotiates HTTP/2 when the server offers it,
 * and node's HTTP/2 client costs more CPU per request than HTTP/1.1 does (measured with
 * scripts/bench-client.ts: 1.3 against 0.8 ms of this process's CPU per create); a controller's
 * few concurrent requests gain nothing from multiplexing. Proxied clusters keep client-node's
 * own dispatcher (HTTP or SOCKS proxy).
 */
const reuseConnections = (kc: KubeConfig): void => {
  // `createDispatcher` is private in the typings of the pinned 2.0.1; guard so a release
  // without it falls back to its own behaviour rather than breaking.
  type Cluster = Parameters<KubeConfig["createDispatcherOptions"]>[0]
  type Dispatching = { createDispatcher?: (cluster: Cluster, options: object) => unknown }
  const target = kc as unknown as Dispatching
  const create = target.createDispatcher?.bind(kc)
  if (create === undefined) return
  const pools = new Map<string, unknown>()
  target.createDispatcher = (cluster, options) => {
    const key = `${cluster?.name ?? ""}|${cluster?.server ?? ""}|${cluster?.proxyUrl ?? ""}`
    let pool = pools.get(key)
    if (pool === undefined) {
      const o = kc.createDispatcherOptions(cluster, options)
      pool = o.type === "agent" ? new Agent({ connect: o.connect as NonNullable<Agent.Options["connect"]>, allowH2: false }) : create(cluster, options)
      pools.set(key, pool)
    }
    return pool
  }
}

/**
 * The HTTP client under client-node's generated API classes (its `httpApi` extension point).
 * client-node's default sends every request through undici's `fetch`: a WHATWG Request, Headers and
 * Response, and a web stream for each body. undici's `request` does the same exchange with node
 * streams and a plain header object; same connection pool (the dispatcher client-node puts on the
 * request), same TLS, same headers. The body is read whole before client-node sees the answer, so
 * a connection never waits for a caller that does not read it (client-node skips the body of a 401).
 */
const undiciHttpLibrary: HttpLibrary = wrapHttpLibrary({
  send: async (ctx: RequestContext): Promise<ResponseContext> => {
    const body = ctx.getBody()
    const signal = ctx.getSignal()
    const dispatcher = ctx.getDispatcher() as Dispatcher | undefined
    const res = await request(ctx.getUrl(), {
      method: ctx.getHttpMethod() as Dispatcher.HttpMethod,
      headers: { ...ctx.getHeaders(), "user-agent": USER_AGENT },
      ...(body !== undefined ? { body: body as string } : {}),
      ...(signal !== undefined ? { signal } : {}),
      ...(dispatcher !== undefined ? { dispatcher } : {})
    })
    const text = await res.body.text()
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value
    }
    return new ResponseContext(res.statusCode, headers, {
      text: () => Promise.resolve(text),
      binary: () => Promise.resolve(Buffer.from(text)),
      stream: () => null
    })
  }
})

const USER_AGENT = "api-controller"

type Headers = { headers?: Record<string, string> }

/**
 * How each request is authenticated. client-node's `applySecurityAuthentication` rebuilds the TLS
 * options on every request, base64-decoding the kubeconfig's CA, certificate and key (in a Pod,
 * reading ca.crt from disk) only to pick the connection pool, which they do not change (see
 * `reuseConnections`). Here the first request goes client-node's whole way and its pool is kept;
 * every request still asks for the credentials that can change (the service-account token the
 * kubelet rotates, an exec plugin's or an auth provider's token), as client-node would.
 */
export const cachedAuthentication = (kc: KubeConfig): SecurityAuthentication => {
  // Private in the typings of the pinned 2.0.1: without it, client-node's own way is kept.
  const authorize = (kc as unknown as { applyAuthorizationHeader?: (opts: Headers) => Promise<void> })
    .applyAuthorizationHeader?.bind(kc)
  if (authorize === undefined) return kc
  let dispatcher: unknown
  /** Headers fixed by the kubeconfig (basic auth, impersonation), in client-node's order: a token's Authorization wins. */
  let fixed: ReadonlyArray<readonly [string, string]> = []
  let first = true
  return {
    getName: () => kc.getName(),
    applySecurityAuthentication: async (context) => {
      if (first) {
        await kc.applySecurityAuthentication(context)
        dispatcher = context.getDispatcher()
        const user = kc.getCurrentUser()
        fixed = [
          ...(user?.username ? [["Authorization", `Basic ${Buffer.from(`${user.username}:${user.password}`).toString("base64")}`] as const] : []),
          ...(user?.impersonateUser != null ? [["Impersonate-User", user.impersonateUser] as const] : [])
        ]
        first = false
        return
      }
      const opts: Headers = {}
      await authorize(opts)
      for (const [name, value] of fixed) context.setHeaderParam(name, value)
      for (const [name, value] of Object.entries(opts.headers ?? {})) context.setHeaderParam(name, value)
      if (dispatcher !== undefined) context.setDispatcher(dispatcher as Parameters<typeof context.setDispatcher>[0])
    }
  }
}

/** `CustomObjectsApi` as `kc.makeApiClient` builds it, on `undiciHttpLibrary`. */
const customObjectsApi = (kc: KubeConfig): CustomObjectsApi => {
  const cluster = kc.getCurrentCluster()
  if (cluster === null) throw new Error("no cluster in the current context")
  return new CustomObjectsApi(createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: cachedAuthentication(kc) },
    httpApi: undiciHttpLibrary
  }))
}

export const makeKubeApi = (kc: KubeConfig): KubeApi["Service"] => {
  reuseConnections(kc)
  const co = customObjectsApi(kc)

  const op = (verb: string, kind: ResourceKind, namespace: string, name: string) =>
    `${verb} ${kind.plural} ${namespace}/${name}`

  /** The one place a client promise becomes an Effect. */
  const call = <A>(operation: string, verb: string, f: () => Promise<A>): Effect.Effect<A, KubeApiError> =>
    Effect.tryPromise({ try: f, catch: toKubeApiError(operation, verb) })

  const gv = (kind: ResourceKind) => ({ group: kind.group, version: kind.version, plural: kind.plural })

  /** API discovery for the kind's group and version; a group/version the server does not know is a 404. */
  const serves = (kind: ResourceKind) =>
    call(`discover ${apiVersionOf(kind)}`, "get", () =>
      co.getAPIResources({ group: kind.group, version: kind.version }, callOptions(kind)) as Promise<{
        resources?: ReadonlyArray<{ name?: string }>
      }>).pipe(
        Effect.map((list) => (list.resources ?? []).some((r) => r.name === kind.plural)),
        Effect.catchIf((e) => e.reason === "NotFound", () => Effect.succeed(false))
      )

  const get = (kind: ResourceKind, namespace: string, name: string) =>
    call(op("get", kind, namespace, name), "get", () =>
      kind.namespaced
        ? co.getNamespacedCustomObject({ ...gv(kind), namespace, name }, callOptions(kind))
        : co.getClusterCustomObject({ ...gv(kind), name }, callOptions(kind))).pipe(Effect.map((o) => withType(kind, o)))

  const list = (kind: ResourceKind, options: ListOptions = {}): Effect.Effect<ObjectList, KubeApiError> => {
    const ns = options.namespace
    const page = (cont: string | undefined) => {
      const q = {
        limit: LIST_PAGE,
        ...(options.labelSelector !== undefined ? { labelSelector: options.labelSelector } : {}),
        ...(cont !== undefined ? { _continue: cont } : {})
      }
      return call(op("list", kind, ns ?? "", ""), "list", () =>
        (!kind.namespaced
          ? co.listClusterCustomObject({ ...gv(kind), ...q }, callOptions(kind))
          : ns === undefined || ns === ""
          ? co.listCustomObjectForAllNamespaces(
            { group: kind.group, version: kind.version, resourcePlural: kind.plural, ...q },
            callOptions(kind)
          )
          : co.listNamespacedCustomObject({ ...gv(kind), namespace: ns, ...q }, callOptions(kind))) as Promise<{
            items?: ReadonlyArray<unknown>
            metadata?: { resourceVersion?: string; continue?: string }
          }>)
    }
    return Effect.gen(function*() {
      const first = yield* page(undefined)
      const items = [...(first.items ?? [])]
      let cont = first.metadata?.continue
      while (cont !== undefined && cont !== "") {
        const next = yield* page(cont)
        items.push(...(next.items ?? []))
        cont = next.metadata?.continue
      }
      return { items: items.map((o) => withType(kind, o)), resourceVersion: first.metadata?.resourceVersion ?? "" }
    })
  }

  /**
   * One watch request. kube-apiserver 1.36 sends no bookmark on a quiet resource within client-node's
   * 30 s inactivity timeout, so a quiet watch ends after ~30 s; the caller resumes from the last
   * version it saw (or relists on Gone), as it does after any server-side close.
   */
  const watch = (kind: ResourceKind, options: WatchOptions): Stream.Stream<WatchEvent, KubeApiError> => {
    const operation = `watch ${kind.plural} ${options.namespace ?? ""}`
    const path = collectionPath(kind, options.namespace)
    const params = {
      resourceVersion: options.resourceVersion,
      allowWatchBookmarks: true,
      ...(options.labelSelector !== undefined ? { labelSelector: options.labelSelector } : {})
    }
    return Stream.callback<WatchEvent, KubeApiError>((queue) => {
      const failWith = (e: KubeApiError) => void Queue.failCauseUnsafe(queue, Cause.fail(e))
      const onEvent = (type: string, obj: unknown) => {
        switch (type) {
          case "ADDED":
          case "MODIFIED":
          case "DELETED":
            Queue.offerUnsafe(queue, { type, object: withType(kind, obj) })
            return
          case "BOOKMARK": {
            const rv = (obj as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion
            if (rv !== undefined) Queue.offerUnsafe(queue, { type: "BOOKMARK", resourceVersion: rv })
            return
          }
          case "ERROR": {
            // A Status: 410 Expired/Gone when the resourceVersion is too old.
            const code = parseStatus(obj)?.code ?? 500
            failWith(fromStatus(operation, "watch", code, obj, "watch error"))
            return
          }
        }
      }
      const onDone = (err: unknown) => {
        if (err === null || err === undefined) return void Queue.endUnsafe(queue)
        const name = (err as { name?: unknown }).name
        // client-node aborts a watch after 30 s without data; like a server-side close, the
        // caller resumes from the last version it saw.
        if (name === "TimeoutError") return void Queue.endUnsafe(queue)
        if (name === "AbortError") return // we aborted it: the stream is already gone
        const statusCode = (err as { statusCode?: unknown }).statusCode
        failWith(
          typeof statusCode === "number"
            ? fromStatus(operation, "watch", statusCode, undefined, describeError(err))
            : toKubeApiError(operation, "watch")(err)
        )
      }
      return Effect.acquireRelease(
        call(operation, "watch", () => new Watch(kc).watch(path, params, onEvent, onDone)),
        (controller) => Effect.sync(() => controller.abort())
      )
    })
  }

  const create = (kind: ResourceKind, object: KubeObject) => {
    const namespace = object.metadata.namespace ?? ""
    const name = object.metadata.name
    return call(op("create", kind, namespace, name), "create", () =>
      kind.namespaced
        ? co.createNamespacedCustomObject(
          { ...gv(kind), namespace, body: object, fieldManager: FIELD_MANAGER },
          callOptions(kind)
        )
        : co.createClusterCustomObject({ ...gv(kind), body: object, fieldManager: FIELD_MANAGER }, callOptions(kind)))
      .pipe(Effect.map((o) => withType(kind, o)))
  }

  const replace = (kind: ResourceKind, object: KubeObject) => {
    const namespace = object.metadata.namespace ?? ""
    const name = object.metadata.name
    return call(op("replace", kind, namespace, name), "replace", () =>
      kind.namespaced
        ? co.replaceNamespacedCustomObject(
          { ...gv(kind), namespace, name, body: object, fieldManager: FIELD_MANAGER },
          callOptions(kind)
        )
        : co.replaceClusterCustomObject(
          { ...gv(kind), name, body: object, fieldManager: FIELD_MANAGER },
          callOptions(kind)
        )).pipe(Effect.map((o) => withType(kind, o)))
  }

  const patch = (kind: ResourceKind, namespace: string, name: string, body: MergePatch) =>
    call(op("patch", kind, namespace, name), "patch", () =>
      kind.namespaced
        ? co.patchNamespacedCustomObject(
          { ...gv(kind), namespace, name, body, fieldManager: FIELD_MANAGER },
          callOptions(kind, true)
        )
        : co.patchClusterCustomObject(
          { ...gv(kind), name, body, fieldManager: FIELD_MANAGER },
          callOptions(kind, true)
        )).pipe(Effect.map((o) => withType(kind, o)))

  const patchStatus = (kind: ResourceKind, namespace: string, name: string, body: MergePatch) =>
    call(op("patchStatus", kind, namespace, name), "patch", () =>
      kind.namespaced
        ? co.patchNamespacedCustomObjectStatus(
          { ...gv(kind), namespace, name, body, fieldManager: FIELD_MANAGER },
          callOptions(kind, true)
        )
        : co.patchClusterCustomObjectStatus(
          { ...gv(kind), name, body, fieldManager: FIELD_MANAGER },
          callOptions(kind, true)
        )).pipe(Effect.map((o) => withType(kind, o)))

  const del = (kind: ResourceKind, namespace: string, name: string, options: DeleteOptions = {}) => {
    const body = options.uid !== undefined ? { preconditions: { uid: options.uid } } : undefined
    return call(op("delete", kind, namespace, name), "delete", () =>
      kind.namespaced
        ? co.deleteNamespacedCustomObject(
          { ...gv(kind), namespace, name, ...(body !== undefined ? { body } : {}) },
          callOptions(kind)
        )
        : co.deleteClusterCustomObject(
          { ...gv(kind), name, ...(body !== undefined ? { body } : {}) },
          callOptions(kind)
        )).pipe(Effect.asVoid)
  }

  return KubeApi.of({ serves, get, list, watch, create, replace, patch, patchStatus, delete: del })
}

export interface KubeApiLiveOptions extends KubeConfigOptions {}

export const KubeApiLive = {
  /** `KubeApi` on the cluster the kubeconfig points at (see `loadKubeConfig` for the search order). */
  layer: (options: KubeApiLiveOptions = {}): Layer.Layer<KubeApi, KubeApiError> =>
    Layer.effect(
      KubeApi,
      Effect.map(loadKubeConfig(options), ({ kubeConfig }) => makeKubeApi(kubeConfig))
    ),
  /** `KubeApi` on an already loaded configuration. */
  layerFromKubeConfig: (kc: KubeConfig): Layer.Layer<KubeApi> => Layer.succeed(KubeApi, makeKubeApi(kc))
} as const
