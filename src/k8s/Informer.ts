/**
 * A list + watch cache of one kind, as client-go's reflector keeps it: list, then watch from the
 * list's resourceVersion; when the watch ends, resume from the last version seen (bookmarks
 * included); when the server says 410 Gone, relist and report the difference; on any other
 * failure, back off and try again. Every change is passed to `onChange` after the store is
 * updated, so a handler that reads the store sees the new state.
 *
 * Objects this process writes go into the store as soon as the server answers (`wrote`), as
 * client-go's mutation cache does: a pass never reads an older version of what the pass before it
 * wrote, whichever of its writes' watch events have arrived. Versions are compared as the integers
 * the API server gives out (etcd revisions, as client-go's integer comparison assumes); a version
 * that is not one is never written through.
 */
import { Deferred, Duration, Effect, Random, type Schedule, type Scope, Stream } from "effect"
import { type Backoff, jitteredDelayOf, scheduleOf } from "../util/Backoff.ts"
import { type KubeObject, keyOf, objectKey, type ResourceKind } from "../domain/Kube.ts"
import { jsonEqual } from "../util/MergePatch.ts"
import { KubeApi, type KubeApiError } from "./KubeApi.ts"
import { ServerOutage } from "./ServerOutage.ts"

export type ChangeType = "ADDED" | "MODIFIED" | "DELETED"

export interface Change {
  readonly kind: ResourceKind
  readonly type: ChangeType
  readonly object: KubeObject
  /** The previous version, for MODIFIED and DELETED. */
  readonly old: KubeObject | undefined
}

export interface Informer {
  readonly kind: ResourceKind
  readonly get: (namespace: string, name: string) => KubeObject | undefined
  readonly list: () => ReadonlyArray<KubeObject>
  readonly size: () => number
  /** Completes once the first list is in the store. */
  readonly synced: Effect.Effect<void>
  readonly isSynced: () => boolean
  /** Relists since start, for metrics and tests. */
  readonly relists: () => number
  /**
   * An object as the server answered a write of it (create, update, patch): stored and reported
   * now, unless the store holds that version or a newer one already. Its own watch event, when it
   * comes, then changes nothing and is not reported again.
   */
  readonly wrote: (object: KubeObject) => Effect.Effect<void>
}

export interface InformerOptions {
  readonly namespace?: string
  readonly labelSelector?: string
  readonly onChange: (change: Change) => Effect.Effect<void>
  /**
   * Applied to every listed or watched object before it is stored or reported, as client-go's
   * `SetTransform` is: the store keeps only what the transform returns, so fields no reader needs
   * cost no memory. It must keep metadata.name, namespace and resourceVersion, and may change the
   * object it is given only in ways no reader can tell (sharing equal strings): that object is the
   * client's fresh parse, and the transform's result is the only copy kept.
   */
  readonly transform?: (object: KubeObject) => KubeObject
  /** Pause between failed list or watch attempts. */
  readonly retry?: Schedule.Schedule<unknown, unknown>
}

const DIGITS = /^\d+$/

/** `a`'s version is `b`'s or later; false when either is not an integer version (then nobody can tell). */
export const sameOrNewer = (a: string | undefined, b: string | undefined): boolean =>
  a !== undefined && b !== undefined && (a === b || (DIGITS.test(a) && DIGITS.test(b) && (a.length !== b.length ? a.length > b.length : a > b)))

/** Failed lists and watches: 200 ms, 400 ms, ... at most 30 s (the one backoff policy). */
const informerBackoff: Backoff = { base: Duration.millis(200), max: Duration.seconds(30), jitter: 0.1 }
const defaultRetry = scheduleOf(informerBackoff)

/** Starts the informer in the current scope; it stops when the scope closes. */
export const makeInformer = (
  kind: ResourceKind,
  options: InformerOptions
): Effect.Effect<Informer, never, KubeApi | ServerOutage | Scope.Scope> =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const store = new Map<string, KubeObject>()
    const synced = yield* Deferred.make<void>()
    let isSynced = false
    let relists = 0
    const listOptions = {
      ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
      ...(options.labelSelector !== undefined ? { labelSelector: options.labelSelector } : {})
    }

    const transform = options.transform ?? ((o: KubeObject) => o)

    const emit = (type: ChangeType, object: KubeObject, old: KubeObject | undefined) => options.onChange({ kind, type, object, old })

    const versionOf = (o: KubeObject | undefined) => o?.metadata.resourceVersion

    /** Replace the store with a fresh list, reporting what changed since the last view. */
    const relist = Effect.gen(function*() {
      const list = yield* kube.list(kind, listOptions)
      relists++
      const seen = new Set<string>()
      for (const listed of list.items) {
        const item = transform(listed)
        const key = keyOf(item)
        seen.add(key)
        const old = store.get(key)
        // A write of ours answered after the list was taken is newer than what the list says.
        if (old !== undefined && old.metadata.resourceVersion !== item.metadata.resourceVersion &&
          sameOrNewer(versionOf(old), versionOf(item))) continue
        store.set(key, item)
        if (old === undefined) yield* emit("ADDED", item, undefined)
        else if (old.metadata.resourceVersion !== item.metadata.resourceVersion || !jsonEqual(old, item)) {
          yield* emit("MODIFIED", item, old)
        }
      }
      for (const [key, old] of [...store]) {
        if (!seen.has(key)) {
          store.delete(key)
          yield* emit("DELETED", old, old)
        }
      }
      if (!isSynced) {
        isSynced = true
        yield* Deferred.succeed(synced, undefined)
      }
      return list.resourceVersion
    })

    /** Watch from `from` until the stream ends (Right: resume here) or fails. */
    const watchFrom = (from: string): Effect.Effect<string, KubeApiError> => {
      let rv = from
      return kube.watch(kind, { ...listOptions, resourceVersion: from }).pipe(
        Stream.runForEach((event) =>
          Effect.suspend(() => {
            if (event.type === "BOOKMARK") {
              rv = event.resourceVersion
              return Effect.void
            }
            const version = versionOf(event.object)
            rv = version ?? rv
            const key = keyOf(event.object)
            const old = store.get(key)
            if (event.type === "DELETED") {
              // A version we wrote after this deletion (the object made anew) stays.
              if (old !== undefined && versionOf(old) !== version && sameOrNewer(versionOf(old), version)) return Effect.void
              store.delete(key)
              return emit("DELETED", transform(event.object), old)
            }
            // The echo of our own write (`wrote`), or older: the store has it already.
            if (old !== undefined && sameOrNewer(versionOf(old), version)) return Effect.void
            const object = transform(event.object)
            store.set(key, object)
            return emit(old === undefined ? "ADDED" : "MODIFIED", object, old)
          })
        ),
        Effect.map(() => rv)
      )
    }

    const retry = options.retry ?? defaultRetry

    // A streak of failed lists and watches is one warning at its start and one line at its end;
    // the attempts in between at debug. A server that does not answer is said once for every
    // informer and pass (ServerOutage.ts).
    const outage = yield* ServerOutage
    const who = { informer: kind.plural }
    let streak = 0
    let warned = false
    const failed = (what: "list" | "watch", error: KubeApiError) =>
      Effect.suspend(() => {
        streak++
        const fields = { kind: kind.plural, error: error.message, failures: streak }
        if (!error.answered) return Effect.andThen(outage.unanswered(who, error), Effect.logDebug(`${what} failed, the API server does not answer; retrying with backoff`, fields))
        if (warned) return Effect.logDebug(`${what} failed again; retrying with backoff`, fields)
        warned = true
        return Effect.logWarning(`${what} failed; retrying with backoff`, fields)
      })
    const listed = relist.pipe(
      Effect.tapError((e) => failed("list", e)),
      Effect.retry(retry),
      Effect.tap(() =>
        Effect.suspend(() => {
          if (streak === 0) return Effect.void
          const failures = streak
          const said = warned
          streak = 0
          warned = false
          return Effect.andThen(
            outage.answered(who),
            said ? Effect.logInfo("listed again; watching", { kind: kind.plural, failures }) : Effect.void
          )
        })
      )
    )

    const run: Effect.Effect<never> = Effect.gen(function*() {
      let rv = yield* listed
      let failures = 0
      while (true) {
        const outcome = yield* Effect.result(watchFrom(rv))
        if (outcome._tag === "Success") {
          failures = 0
          rv = outcome.success // the server closed the watch: resume where we were
          continue
        }
        const error = outcome.failure
        if (error.reason !== "Gone") {
          // Backed off: a watch that keeps failing (a 403, say) must not relist every second.
          failures++
          yield* failed("watch", error)
          yield* Effect.sleep(jitteredDelayOf(informerBackoff, failures, yield* Random.next))
        } else yield* Effect.logDebug("watch expired (410); relisting", { kind: kind.plural })
        rv = yield* listed
      }
    }).pipe(Effect.annotateLogs({ informer: kind.plural })) as Effect.Effect<never>

    yield* Effect.forkScoped(run)

    return {
      kind,
      get: (namespace, name) => store.get(objectKey(namespace, name)),
      list: () => [...store.values()],
      size: () => store.size,
      synced: Deferred.await(synced),
      isSynced: () => isSynced,
      relists: () => relists,
      wrote: (written) =>
        Effect.suspend(() => {
          const version = versionOf(written)
          if (version === undefined || !DIGITS.test(version)) return Effect.void
          const key = keyOf(written)
          const old = store.get(key)
          if (old !== undefined && sameOrNewer(versionOf(old), version)) return Effect.void
          const object = transform(written)
          store.set(key, object)
          return emit(old === undefined ? "ADDED" : "MODIFIED", object, old)
        })
    }
  })
