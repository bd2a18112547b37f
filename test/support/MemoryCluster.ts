/**
 * An in-memory Kubernetes API server: the `KubeApi` the fast tests run against.
 *
 * It keeps the semantics the controller relies on, and no more (a fake that grows into a
 * second API server rots): one global resourceVersion, 409 on a stale write, 404,
 * `metadata.generation` bumped only when something outside metadata/status changes, a status
 * subresource for every kind, finalizers with `deletionTimestamp`, garbage collection of
 * dependents through ownerReferences (the real test server runs kube-controller-manager), list + watch from a
 * resourceVersion with 410 Gone once history is compacted. Time comes from `Clock`, uids from a
 * counter, so a run under `TestClock` is deterministic.
 *
 * The `MemoryCluster` service next to `KubeApi` is the test's handle: inject faults, count
 * requests, compact history, end watches.
 */
import { Clock, Context, Effect, Layer, Queue, Stream } from "effect"
import type { Cause } from "effect"
import { apiVersionOf, type KubeObject, type ObjectMeta, type ResourceKind } from "../../src/domain/Kube.ts"
import {
  type DeleteOptions,
  KubeApi,
  KubeApiError,
  type KubeApiErrorReason,
  type ListOptions,
  type MergePatch,
  type ObjectList,
  type RequestVerb,
  type StatusCause,
  type WatchEvent,
  type WatchOptions,
  WRITE_VERBS
} from "../../src/k8s/KubeApi.ts"
import { applyMergePatch, jsonEqual } from "../../src/util/MergePatch.ts"

export type Verb = RequestVerb
export { WRITE_VERBS }

export interface RequestRecord {
  readonly verb: Verb
  readonly plural: string
  readonly namespace: string
  readonly name: string
}

export interface Fault {
  readonly verb?: Verb
  readonly plural?: string
  readonly name?: string
  readonly reason: KubeApiErrorReason
  /** The Status causes the server would give with it (e.g. NamespaceTerminating on a 403). */
  readonly causes?: ReadonlyArray<StatusCause>
  /** How many matching requests fail; default 1. */
  readonly times?: number
}

interface StoredEvent {
  readonly rv: number
  readonly kindKey: string
  readonly namespace: string
  readonly type: "ADDED" | "MODIFIED" | "DELETED"
  readonly object: KubeObject
}

interface Watcher {
  readonly kindKey: string
  readonly namespace: string | undefined
  readonly selector: ReadonlyArray<Requirement>
  readonly queue: Queue.Queue<WatchEvent, KubeApiError | Cause.Done>
}

type Requirement = { readonly key: string; readonly op: "=" | "!=" | "exists" | "!exists"; readonly value?: string }

const parseSelector = (s: string | undefined): ReadonlyArray<Requirement> =>
  (s ?? "").split(",").map((t) => t.trim()).filter((t) => t !== "").map((t): Requirement => {
    if (t.startsWith("!")) return { key: t.slice(1), op: "!exists" }
    const ne = t.indexOf("!=")
    if (ne > 0) return { key: t.slice(0, ne).trim(), op: "!=", value: t.slice(ne + 2).trim() }
    const eq = t.indexOf("=")
    if (eq > 0) return { key: t.slice(0, eq).trim(), op: "=", value: t.slice(eq + 1).replace(/^=/, "").trim() }
    return { key: t, op: "exists" }
  })

const matches = (reqs: ReadonlyArray<Requirement>, labels: Readonly<Record<string, string>> | undefined): boolean =>
  reqs.every((r) => {
    const v = labels?.[r.key]
    switch (r.op) {
      case "=":
        return v === r.value
      case "!=":
        return v !== r.value
      case "exists":
        return v !== undefined
      case "!exists":
        return v === undefined
    }
  })

const kindKeyOf = (kind: ResourceKind) => `${kind.plural}.${kind.group}`

/** What generation tracks: everything but metadata and status. */
const specPart = (o: KubeObject): Record<string, unknown> => {
  const { apiVersion: _a, kind: _k, metadata: _m, status: _s, ...rest } = o
  return rest
}

/** `VirtualService.networking.istio.io`, as the server names a kind in messages. */
const qualifiedKind = (kind: ResourceKind) => (kind.group === "" ? kind.kind : `${kind.kind}.${kind.group}`)

/** ObjectMeta's maps and lists are `omitempty` on the server: empty ones are not stored. */
const tidyMeta = (meta: ObjectMeta): ObjectMeta => {
  const out: Record<string, unknown> = { ...meta }
  for (const k of ["labels", "annotations"] as const) {
    const v = out[k]
    if (v === null || (typeof v === "object" && Object.keys(v as object).length === 0)) delete out[k]
  }
  for (const k of ["finalizers", "ownerReferences"] as const) {
    const v = out[k]
    if (v === null || (Array.isArray(v) && v.length === 0)) delete out[k]
  }
  return out as ObjectMeta
}

const iso = (millis: number) => new Date(Math.floor(millis / 1000) * 1000).toISOString().replace(".000Z", "Z")

export interface MemoryClusterOptions {
  /** Watch history kept for resuming watches; older resourceVersions get 410 Gone. */
  readonly historyLimit?: number
  /** Kinds this server does not serve (no CRD): every request for them is a 404, as on a real server. */
  readonly unserved?: ReadonlyArray<ResourceKind>
}

export class MemoryCluster extends Context.Service<MemoryCluster, {
  /** Make matching requests fail with `reason` before they touch the store. */
  readonly injectFault: (fault: Fault) => Effect.Effect<void>
  readonly clearFaults: Effect.Effect<void>
  /** Every request so far, in order (reads included). */
  readonly requests: Effect.Effect<ReadonlyArray<RequestRecord>>
  readonly resetRequests: Effect.Effect<void>
  /** Forget watch history: resuming a watch from before now yields 410 Gone. */
  readonly compact: Effect.Effect<void>
  /** End every open watch, as an API server does on timeout or restart. */
  readonly endWatches: Effect.Effect<void>
  /** Current objects of a kind, for assertions. */
  readonly objects: (kind: ResourceKind, namespace?: string) => Effect.Effect<ReadonlyArray<KubeObject>>
}>()("api-controller/k8s/MemoryCluster") {
  /** `KubeApi` backed by memory, plus the `MemoryCluster` handle. */
  static readonly layer = (options: MemoryClusterOptions = {}): Layer.Layer<KubeApi | MemoryCluster> =>
    Layer.effectContext(Effect.gen(function*() {
      const impl = makeMemoryCluster(options)
      yield* Effect.addFinalizer(() => Effect.sync(() => impl.closeAll()))
      return Context.make(KubeApi, impl.api).pipe(Context.add(MemoryCluster, impl.control))
    }))
}

const makeMemoryCluster = (options: MemoryClusterOptions) => {
  const historyLimit = options.historyLimit ?? 10_000
  const store = new Map<string, Map<string, KubeObject>>() // kindKey -> "ns/name" -> object
  let rv = 1
  let uidCounter = 0
  let history: Array<StoredEvent> = []
  let minResumeFrom = 0 // a watch may resume from any resourceVersion >= this
  const watchers = new Set<Watcher>()
  let closed = false // after the layer's scope ends
  let faults: Array<Fault & { remaining: number }> = []
  const requests: Array<RequestRecord> = []

  const kinds = new Map<string, ResourceKind>() // kindKey -> a kind of it, for garbage collection

  const table = (kind: ResourceKind) => {
    const key = kindKeyOf(kind)
    let t = store.get(key)
    if (t === undefined) {
      t = new Map()
      store.set(key, t)
      kinds.set(key, kind)
    }
    return t
  }

  const fail = (reason: KubeApiErrorReason, operation: string, detail: string, causes?: ReadonlyArray<StatusCause>) =>
    new KubeApiError({ reason, operation, detail, ...(causes !== undefined ? { causes } : {}) })

  /** 422 as the server words it: `<Kind>.<group> "<name>" is invalid: <field>: <message>`. */
  const invalid = (kind: ResourceKind, operation: string, name: string, field: string, reason: string, message: string) =>
    fail("Invalid", operation, `${qualifiedKind(kind)} "${name}" is invalid: ${field}: ${message}`, [
      { field, reason, message }
    ])

  const served = (kind: ResourceKind) =>
    !(options.unserved ?? []).some((u) => u.group === kind.group && u.version === kind.version && u.plural === kind.plural)

  /** Records the request and fails it if a fault matches. */
  const enter = (verb: Verb, kind: ResourceKind, namespace: string, name: string): KubeApiError | undefined => {
    requests.push({ verb, plural: kind.plural, namespace, name })
    if (!served(kind)) {
      return fail("NotFound", `${verb} ${kind.plural} ${namespace}/${name}`, "the server could not find the requested resource")
    }
    const f = faults.find((f) =>
      f.remaining > 0 && (f.verb === undefined || f.verb === verb) &&
      (f.plural === undefined || f.plural === kind.plural) && (f.name === undefined || f.name === name)
    )
    if (f === undefined) return undefined
    f.remaining--
    faults = faults.filter((x) => x.remaining > 0)
    return fail(f.reason, `${verb} ${kind.plural} ${namespace}/${name}`, `injected fault (${f.reason})`, f.causes)
  }

  const publish = (kind: ResourceKind, type: StoredEvent["type"], object: KubeObject) => {
    const ev: StoredEvent = {
      rv: Number(object.metadata.resourceVersion),
      kindKey: kindKeyOf(kind),
      namespace: object.metadata.namespace ?? "",
      type,
      object: structuredClone(object)
    }
    history.push(ev)
    if (history.length > historyLimit) {
      const dropped = history.splice(0, history.length - historyLimit)
      minResumeFrom = dropped[dropped.length - 1]!.rv
    }
    for (const w of watchers) deliver(w, ev)
  }

  const deliver = (w: Watcher, ev: StoredEvent) => {
    if (w.kindKey !== ev.kindKey) return
    if (w.namespace !== undefined && w.namespace !== ev.namespace) return
    if (!matches(w.selector, ev.object.metadata.labels)) return
    Queue.offerUnsafe(w.queue, { type: ev.type, object: structuredClone(ev.object) })
  }

  const nextRv = () => String(++rv)

  const op = (verb: string, kind: ResourceKind, ns: string, name: string) => `${verb} ${kind.plural} ${ns}/${name}`

  const get = (kind: ResourceKind, namespace: string, name: string) =>
    Effect.suspend(() => {
      const injected = enter("get", kind, namespace, name)
      if (injected) return Effect.fail(injected)
      const o = table(kind).get(`${namespace}/${name}`)
      return o === undefined
        ? Effect.fail(fail("NotFound", op("get", kind, namespace, name), `${kind.plural} "${name}" not found`))
        : Effect.succeed(structuredClone(o))
    })

  const list = (kind: ResourceKind, options: ListOptions = {}) =>
    Effect.suspend((): Effect.Effect<ObjectList, KubeApiError> => {
      const injected = enter("list", kind, options.namespace ?? "", "")
      if (injected) return Effect.fail(injected)
      const selector = parseSelector(options.labelSelector)
      const items = [...table(kind).entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([, o]) => o)
        .filter((o) => options.namespace === undefined || o.metadata.namespace === options.namespace)
        .filter((o) => matches(selector, o.metadata.labels))
        .map((o) => structuredClone(o))
      return Effect.succeed({ items, resourceVersion: String(rv) })
    })

  const watch = (kind: ResourceKind, options: WatchOptions): Stream.Stream<WatchEvent, KubeApiError> =>
    Stream.callback<WatchEvent, KubeApiError>((queue) =>
      Effect.gen(function*() {
        const injected = enter("watch", kind, options.namespace ?? "", "")
        if (injected) return yield* Effect.fail(injected)
        // A closed server takes no new watch: ending a watch makes its reader resume, and
        // resuming into a closing server would add watchers as fast as they are ended.
        if (closed) return yield* Effect.fail(fail("Transport", `watch ${kind.plural}`, "the server is shut down"))
        const from = Number(options.resourceVersion)
        if (!Number.isFinite(from) || from < minResumeFrom) {
          return yield* Effect.fail(
            fail("Gone", `watch ${kind.plural}`, `too old resource version: ${options.resourceVersion} (${minResumeFrom})`)
          )
        }
        const w: Watcher = {
          kindKey: kindKeyOf(kind),
          namespace: options.namespace,
          selector: parseSelector(options.labelSelector),
          queue
        }
        // Replay what happened after `from`, then go live; all synchronous, so nothing slips between.
        for (const ev of history) if (ev.rv > from) deliver(w, ev)
        watchers.add(w)
        yield* Effect.addFinalizer(() => Effect.sync(() => watchers.delete(w)))
      })
    )

  const stamp = (meta: ObjectMeta, kind: ResourceKind, namespace: string, now: number): ObjectMeta => ({
    ...meta,
    namespace,
    uid: `00000000-0000-4000-8000-${String(++uidCounter).padStart(12, "0")}`,
    resourceVersion: nextRv(),
    generation: 1,
    creationTimestamp: iso(now)
  })

  const create = (kind: ResourceKind, object: KubeObject) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.suspend((): Effect.Effect<KubeObject, KubeApiError> => {
        const namespace = object.metadata.namespace ?? ""
        const name = object.metadata.name
        const injected = enter("create", kind, namespace, name)
        if (injected) return Effect.fail(injected)
        const t = table(kind)
        if (object.metadata.resourceVersion !== undefined && object.metadata.resourceVersion !== "") {
          // The real server answers 500 here; a copy of a read object must not be re-created as is.
          return Effect.fail(
            fail("ServerError", op("create", kind, namespace, name), "resourceVersion should not be set on objects to be created")
          )
        }
        if (t.has(`${namespace}/${name}`)) {
          return Effect.fail(
            fail("AlreadyExists", op("create", kind, namespace, name), `${kind.plural} "${name}" already exists`)
          )
        }
        const { status: _ignored, ...rest } = structuredClone(object)
        const {
          uid: _u,
          resourceVersion: _r,
          generation: _g,
          creationTimestamp: _c,
          deletionTimestamp: _d,
          ...meta
        } = rest.metadata
        const stored: KubeObject = {
          ...rest,
          apiVersion: apiVersionOf(kind),
          kind: kind.kind,
          metadata: stamp(tidyMeta(meta as ObjectMeta), kind, namespace, now)
        }
        t.set(`${namespace}/${name}`, stored)
        publish(kind, "ADDED", stored)
        return Effect.succeed(structuredClone(stored))
      })
    )

  /** Shared tail of replace/patch: keep what clients may not change, bump versions, finalize. */
  const commit = (
    kind: ResourceKind,
    current: KubeObject,
    next: KubeObject,
    operation: string
  ): Effect.Effect<KubeObject, KubeApiError> => {
    const cm = current.metadata
    if (next.metadata.uid !== undefined && next.metadata.uid !== "" && next.metadata.uid !== cm.uid) {
      // A uid in the body is a precondition: this incarnation only.
      return Effect.fail(fail(
        "Conflict",
        operation,
        `Operation cannot be fulfilled on ${kind.plural}.${kind.group} "${cm.name}": Precondition failed: UID in precondition: ${next.metadata.uid}, UID in object meta: ${cm.uid}`
      ))
    }
    if (cm.deletionTimestamp !== undefined) {
      const before = new Set(cm.finalizers ?? [])
      const added = (next.metadata.finalizers ?? []).filter((f) => !before.has(f))
      if (added.length > 0) {
        const message = `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{${
          added.map((f) => JSON.stringify(f)).join(", ")
        }}`
        return Effect.fail(invalid(kind, operation, cm.name, "metadata.finalizers", "FieldValueForbidden", message))
      }
    }
    const { status: _ignored, ...nextWithoutStatus } = next
    const merged: KubeObject = {
      ...nextWithoutStatus,
      ...(current["status"] !== undefined ? { status: current["status"] } : {}),
      apiVersion: current.apiVersion,
      kind: current.kind,
      metadata: {
        ...tidyMeta(next.metadata),
        name: cm.name,
        namespace: cm.namespace ?? "",
        uid: cm.uid!,
        creationTimestamp: cm.creationTimestamp!,
        generation: cm.generation!,
        resourceVersion: cm.resourceVersion!,
        ...(cm.deletionTimestamp !== undefined
          ? { deletionTimestamp: cm.deletionTimestamp, deletionGracePeriodSeconds: 0 }
          : {})
      }
    }
    if (jsonEqual(merged, current)) return Effect.succeed(structuredClone(current)) // no-op write: no new version
    const specChanged = !jsonEqual(specPart(merged), specPart(current))
    const stored: KubeObject = {
      ...merged,
      metadata: {
        ...merged.metadata,
        generation: cm.generation! + (specChanged ? 1 : 0),
        resourceVersion: nextRv()
      }
    }
    return Effect.succeed(finalizeOrStore(kind, current, stored))
  }

  /**
   * Store `stored`, or delete the object when it is marked for deletion and has no finalizers
   * left. As on the real server, the watch then sees the last stored state at the deletion's
   * resourceVersion, and the caller gets what it wrote at the last stored resourceVersion.
   */
  const finalizeOrStore = (kind: ResourceKind, previous: KubeObject, stored: KubeObject): KubeObject => {
    const key = `${stored.metadata.namespace ?? ""}/${stored.metadata.name}`
    if (stored.metadata.deletionTimestamp !== undefined && (stored.metadata.finalizers ?? []).length === 0) {
      table(kind).delete(key)
      publish(kind, "DELETED", {
        ...previous,
        metadata: { ...previous.metadata, resourceVersion: stored.metadata.resourceVersion! }
      })
      collectDependents(previous.metadata.uid, stored.metadata.deletionTimestamp)
      return structuredClone({
        ...stored,
        metadata: { ...stored.metadata, resourceVersion: previous.metadata.resourceVersion! }
      })
    } else {
      table(kind).set(key, stored)
      publish(kind, "MODIFIED", stored)
    }
    return structuredClone(stored)
  }

  /**
   * Garbage collection, as kube-controller-manager does it in the background: objects whose
   * ownerReferences name a deleted owner are deleted too (their own finalizers still hold them).
   */
  const collectDependents = (ownerUid: string | undefined, at: string) => {
    if (ownerUid === undefined) return
    for (const [kindKey, objects] of store) {
      const kind = kinds.get(kindKey)!
      for (const o of [...objects.values()]) {
        if (o.metadata.deletionTimestamp !== undefined) continue
        if (!(o.metadata.ownerReferences ?? []).some((r) => r.uid === ownerUid)) continue
        finalizeOrStore(kind, o, {
          ...o,
          metadata: { ...o.metadata, deletionTimestamp: at, deletionGracePeriodSeconds: 0, resourceVersion: nextRv() }
        })
      }
    }
  }

  const current = (kind: ResourceKind, verb: Verb, namespace: string, name: string) =>
    Effect.suspend((): Effect.Effect<KubeObject, KubeApiError> => {
      const injected = enter(verb, kind, namespace, name)
      if (injected) return Effect.fail(injected)
      const o = table(kind).get(`${namespace}/${name}`)
      return o === undefined
        ? Effect.fail(fail("NotFound", op(verb, kind, namespace, name), `${kind.plural} "${name}" not found`))
        : Effect.succeed(o)
    })

  const stale = (wanted: unknown, cur: KubeObject) =>
    typeof wanted === "string" && wanted !== "" && wanted !== cur.metadata.resourceVersion

  const conflict = (operation: string, name: string) =>
    fail(
      "Conflict",
      operation,
      `Operation cannot be fulfilled on "${name}": the object has been modified; please apply your changes to the latest version and try again`
    )

  const replace = (kind: ResourceKind, object: KubeObject) => {
    const namespace = object.metadata.namespace ?? ""
    const name = object.metadata.name
    const operation = op("replace", kind, namespace, name)
    return Effect.flatMap(current(kind, "replace", namespace, name), (cur) => {
      if (object.metadata.resourceVersion === undefined || object.metadata.resourceVersion === "") {
        return Effect.fail(invalid(
          kind,
          operation,
          name,
          "metadata.resourceVersion",
          "FieldValueInvalid",
          "Invalid value: 0: must be specified for an update"
        ))
      }
      if (stale(object.metadata.resourceVersion, cur)) return Effect.fail(conflict(operation, name))
      return commit(kind, cur, structuredClone(object), operation)
    })
  }

  const patch = (kind: ResourceKind, namespace: string, name: string, p: MergePatch) => {
    const operation = op("patch", kind, namespace, name)
    return Effect.flatMap(current(kind, "patch", namespace, name), (cur) => {
      const meta = p["metadata"] as { resourceVersion?: unknown } | undefined
      if (stale(meta?.resourceVersion, cur)) return Effect.fail(conflict(operation, name))
      const next = applyMergePatch(cur, p) as KubeObject
      return commit(kind, cur, next, operation)
    })
  }

  const patchStatus = (kind: ResourceKind, namespace: string, name: string, p: MergePatch) => {
    const operation = op("patchStatus", kind, namespace, name)
    return Effect.flatMap(current(kind, "patchStatus", namespace, name), (cur) => {
      const meta = p["metadata"] as { resourceVersion?: unknown } | undefined
      if (stale(meta?.resourceVersion, cur)) return Effect.fail(conflict(operation, name))
      const status = applyMergePatch(cur["status"], p["status"] ?? {})
      if (jsonEqual(status, cur["status"] ?? {})) return Effect.succeed(structuredClone(cur))
      const stored: KubeObject = {
        ...cur,
        status,
        metadata: { ...cur.metadata, resourceVersion: nextRv() }
      }
      return Effect.succeed(finalizeOrStore(kind, cur, stored))
    })
  }

  const del = (kind: ResourceKind, namespace: string, name: string, options: DeleteOptions = {}) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.flatMap(current(kind, "delete", namespace, name), (cur): Effect.Effect<void, KubeApiError> => {
        const operation = op("delete", kind, namespace, name)
        if (options.uid !== undefined && options.uid !== cur.metadata.uid) {
          return Effect.fail(fail(
            "Conflict",
            operation,
            `Operation cannot be fulfilled on ${qualifiedKind(kind)} "${name}": the UID in the precondition (${options.uid}) does not match the UID in record (${cur.metadata.uid}). The object might have been deleted and then recreated`
          ))
        }
        if (cur.metadata.deletionTimestamp !== undefined) return Effect.void
        // Marking for deletion bumps generation (it changes what the owner must do) and, for
        // kinds without graceful deletion, sets a zero grace period.
        const stored: KubeObject = {
          ...cur,
          metadata: {
            ...cur.metadata,
            deletionTimestamp: iso(now),
            deletionGracePeriodSeconds: 0,
            generation: (cur.metadata.generation ?? 0) + 1,
            resourceVersion: nextRv()
          }
        }
        finalizeOrStore(kind, cur, stored)
        return Effect.void
      })
    )

  const serves = (kind: ResourceKind) => Effect.succeed(served(kind))

  const api = KubeApi.of({ serves, get, list, watch, create, replace, patch, patchStatus, delete: del })

  const control = MemoryCluster.of({
    injectFault: (f) => Effect.sync(() => void faults.push({ ...f, remaining: f.times ?? 1 })),
    clearFaults: Effect.sync(() => void (faults = [])),
    requests: Effect.sync(() => [...requests]),
    resetRequests: Effect.sync(() => void requests.splice(0)),
    compact: Effect.sync(() => {
      history = []
      minResumeFrom = rv
    }),
    endWatches: Effect.sync(() => endAll()),
    objects: (kind, namespace) =>
      Effect.sync(() =>
        [...table(kind).values()]
          .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
          .map((o) => structuredClone(o))
      )
  })

  /** Ends the watches open now; readers that resume open new ones, which are not ended here. */
  const endAll = () => {
    const open = [...watchers]
    watchers.clear()
    for (const w of open) Queue.endUnsafe(w.queue)
  }

  const closeAll = () => {
    closed = true
    endAll()
  }

  return { api, control, closeAll }
}
