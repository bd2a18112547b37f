/**
 * `KubeApi` on a real API server: a small REST client on undici, and `@kubernetes/client-node` 2.0
 * for what it is good at: reading the kubeconfig (TLS, credentials, proxies) and watching
 * (`Watch`). What this file takes from client-node goes through ClientNodeAdapter.ts, on its
 * public API.
 *
 * Every kind is plain JSON on the wire and here (no typed models, no Date objects), so custom
 * resources, Leases, Events and Namespaces all come back as the same `KubeObject` the in-memory
 * cluster hands out.
 *
 * Every call is wrapped once and fails with `KubeApiError`: the reason from the HTTP status
 * (409 split into AlreadyExists/Conflict by the server's Status reason), the detail from the
 * server's Status message, and for 422 the field causes. No HTTP answer is `Transport`.
 */
import { KubeConfig, Watch } from "@kubernetes/client-node"
import { Cause, Effect, Layer, Queue, Stream } from "effect"
import type { Dispatcher } from "undici"
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
import { clusterClient, USER_AGENT } from "./ClientNodeAdapter.ts"

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

// ---------------------------------------------------------------------------------------------
// the service

/** An HTTP answer outside 2xx; its body is the server's Status. */
class StatusAnswer extends Error {
  readonly code: number
  readonly body: string
  constructor(code: number, body: string) {
    super(`HTTP ${code}`)
    this.code = code
    this.body = body
  }
}

const toKubeApiError = (operation: string, verb: string) => (e: unknown): KubeApiError => {
  if (e instanceof StatusAnswer) return fromStatus(operation, verb, e.code, e.body, e.message)
  // An answer we could not read; everything else never got an HTTP answer.
  return new KubeApiError({ reason: e instanceof SyntaxError ? "Unexpected" : "Transport", operation, detail: describeError(e) })
}

/** Lists of core kinds leave out apiVersion/kind on items; the in-memory cluster has them. */
const withType = (kind: ResourceKind, o: unknown): KubeObject => {
  const obj = o as KubeObject
  return obj.apiVersion !== undefined && obj.kind !== undefined
    ? obj
    : { ...obj, apiVersion: apiVersionOf(kind), kind: kind.kind }
}

/** Core kinds (group "") live under `/api/v1`, the rest under `/apis/<group>/<version>`. */
const groupVersionPath = (kind: ResourceKind): string =>
  kind.group === "" ? `/api/${kind.version}` : `/apis/${kind.group}/${kind.version}`

/** A namespaced kind's collection in one namespace, or across all of them without one. */
const collectionPath = (kind: ResourceKind, namespace: string | undefined): string =>
  kind.namespaced && namespace !== undefined && namespace !== ""
    ? `${groupVersionPath(kind)}/namespaces/${encodeURIComponent(namespace)}/${kind.plural}`
    : `${groupVersionPath(kind)}/${kind.plural}`

const objectPath = (kind: ResourceKind, namespace: string, name: string): string =>
  kind.namespaced
    ? `${groupVersionPath(kind)}/namespaces/${encodeURIComponent(namespace)}/${kind.plural}/${encodeURIComponent(name)}`
    : `${groupVersionPath(kind)}/${kind.plural}/${encodeURIComponent(name)}`

const WRITE = `?fieldManager=${FIELD_MANAGER}`
const JSON_TYPE = "application/json"
const MERGE_PATCH = "application/merge-patch+json"

export const makeKubeApi = (kc: KubeConfig): KubeApi["Service"] => {
  const client = clusterClient(kc)
  const watcher = new Watch(client.watchConfig)

  /**
   * One request, its answer's body read whole (a connection never waits for a caller that does
   * not read it) and parsed; an answer outside 2xx rejects with `StatusAnswer`.
   */
  const send = async (method: Dispatcher.HttpMethod, path: string, body?: unknown, contentType = JSON_TYPE): Promise<unknown> => {
    const c = await client.connection()
    const headers: Record<string, string> = { ...(await c.credentials()), accept: JSON_TYPE, "user-agent": USER_AGENT }
    if (body !== undefined) headers["content-type"] = contentType
    const res = await c.dispatcher.request({
      origin: c.origin,
      path: c.basePath + path,
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {})
    })
    const text = await res.body.text()
    if (res.statusCode < 200 || res.statusCode > 299) throw new StatusAnswer(res.statusCode, text)
    return text === "" ? undefined : JSON.parse(text)
  }

  /** The one place a request becomes an Effect. */
  const call = (
    operation: string,
    verb: string,
    method: Dispatcher.HttpMethod,
    path: string,
    body?: unknown,
    contentType?: string
  ): Effect.Effect<unknown, KubeApiError> =>
    Effect.tryPromise({ try: () => send(method, path, body, contentType), catch: toKubeApiError(operation, verb) })

  const op = (verb: string, kind: ResourceKind, namespace: string, name: string) =>
    `${verb} ${kind.plural} ${namespace}/${name}`

  const typed = (kind: ResourceKind) => Effect.map((o: unknown) => withType(kind, o))

  /** API discovery for the kind's group and version; a group/version the server does not know is a 404. */
  const serves = (kind: ResourceKind) =>
    call(`discover ${apiVersionOf(kind)}`, "get", "GET", groupVersionPath(kind)).pipe(
      Effect.map((list) => ((list as { resources?: ReadonlyArray<{ name?: string }> }).resources ?? []).some((r) => r.name === kind.plural)),
      Effect.catchIf((e) => e.reason === "NotFound", () => Effect.succeed(false))
    )

  const get = (kind: ResourceKind, namespace: string, name: string) =>
    call(op("get", kind, namespace, name), "get", "GET", objectPath(kind, namespace, name)).pipe(typed(kind))

  const list = (kind: ResourceKind, options: ListOptions = {}): Effect.Effect<ObjectList, KubeApiError> => {
    const ns = options.namespace
    const path = collectionPath(kind, ns)
    const selector = options.labelSelector !== undefined ? `&labelSelector=${encodeURIComponent(options.labelSelector)}` : ""
    type Page = { items?: ReadonlyArray<unknown>; metadata?: { resourceVersion?: string; continue?: string } }
    const page = (cont: string | undefined) =>
      call(
        op("list", kind, ns ?? "", ""),
        "list",
        "GET",
        `${path}?limit=${LIST_PAGE}${selector}${cont !== undefined ? `&continue=${encodeURIComponent(cont)}` : ""}`
      ) as Effect.Effect<Page, KubeApiError>
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
        Effect.tryPromise({
          try: () => watcher.watch(path, params, onEvent, onDone),
          catch: toKubeApiError(operation, "watch")
        }),
        (controller) => Effect.sync(() => controller.abort())
      )
    })
  }

  const create = (kind: ResourceKind, object: KubeObject) => {
    const namespace = object.metadata.namespace ?? ""
    return call(op("create", kind, namespace, object.metadata.name), "create", "POST", collectionPath(kind, namespace) + WRITE, object)
      .pipe(typed(kind))
  }

  const replace = (kind: ResourceKind, object: KubeObject) => {
    const namespace = object.metadata.namespace ?? ""
    const name = object.metadata.name
    return call(op("replace", kind, namespace, name), "replace", "PUT", objectPath(kind, namespace, name) + WRITE, object)
      .pipe(typed(kind))
  }

  const patch = (kind: ResourceKind, namespace: string, name: string, body: MergePatch) =>
    call(op("patch", kind, namespace, name), "patch", "PATCH", objectPath(kind, namespace, name) + WRITE, body, MERGE_PATCH)
      .pipe(typed(kind))

  const patchStatus = (kind: ResourceKind, namespace: string, name: string, body: MergePatch) =>
    call(
      op("patchStatus", kind, namespace, name),
      "patch",
      "PATCH",
      `${objectPath(kind, namespace, name)}/status${WRITE}`,
      body,
      MERGE_PATCH
    ).pipe(typed(kind))

  const del = (kind: ResourceKind, namespace: string, name: string, options: DeleteOptions = {}) =>
    call(
      op("delete", kind, namespace, name),
      "delete",
      "DELETE",
      objectPath(kind, namespace, name),
      options.uid !== undefined ? { preconditions: { uid: options.uid } } : undefined
    ).pipe(Effect.asVoid)

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
