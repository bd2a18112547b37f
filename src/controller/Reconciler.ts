/**
 * One level-triggered pass for one Api (SPEC 8):
 *
 *   read the Api, its children, its Service and the conflict indexes as they are now   (ClusterView)
 *   -> step the machines; run the writes they ask for; feed the answers back        (lifecycle/Pass.ts)
 *   -> write status only if it changed, never over a newer version of the Api        (status subresource)
 *   -> hand the Ready Event to the recorder (off the pass's path) and tell the queue whether to retry
 *
 * The pass never trusts memory for its decision: everything it knows comes from the caches at
 * the start of the pass, so missed or coalesced watch events change nothing. The one thing it
 * remembers is what the world looked like after its own last pass (`lastSeen`), so the watch
 * echo of its own writes costs a cache lookup and nothing else.
 *
 * Deletion needs nothing from the controller: the children are owned, and garbage collection
 * removes them (SPEC 2, 8). A finalizer left by an earlier version is removed when the Api is seen.
 */
import { Clock, Context, Data, Effect, Layer, Option, Schema } from "effect"
import { LEGACY_FINALIZER, ApiObject } from "../domain/Api.ts"
import { Kinds, type KubeObject, type ObjectKey, type ResourceKind, splitKey } from "../domain/Kube.ts"
import { hash53 } from "../util/Hash.ts"
import { diffMergePatch } from "../util/MergePatch.ts"
import { EventRecorder } from "../k8s/EventRecorder.ts"
import { KubeApi, type KubeApiError, orAbsent } from "../k8s/KubeApi.ts"
import type { Observation, ObservedChild } from "../lifecycle/Observation.ts"
import { type ChildWrite, runPass, type WriteFailure } from "../lifecycle/Pass.ts"
import { claimsOf, servesHost } from "../plan/Claims.ts"
import { isRetryable, writeFailureReasonOf } from "../../machines/WriteFailure.ts"
import { ClusterView } from "./ClusterView.ts"
import { gatherer, type World } from "./Gather.ts"
import { Settings, unservedKindMessage } from "./Settings.ts"

/**
 * A pass that failed, and why: `unreachable`, the API server did not answer; `transient`, it may
 * pass as it is (a 5xx, a 429, an object gone meanwhile, a child write the machines retry);
 * `lostRace`, the Api changed under the pass (409 on its status): retried from the newer version;
 * `permanent`, only a change of the Api, the cluster or RBAC mends it.
 */
export class ReconcileError extends Data.TaggedError("ReconcileError")<{
  readonly key: ObjectKey
  readonly message: string
  readonly reason: "unreachable" | "transient" | "lostRace" | "permanent"
}> {}

/**
 * The server refused a create because the namespace is being deleted (403, cause
 * NamespaceTerminating): the namespace controller is removing the Api too.
 */
const namespaceTerminating = (e: KubeApiError) =>
  e.reason === "Forbidden" && (e.causes ?? []).some((c) => c.reason === "NamespaceTerminating")

const fromKube = (key: ObjectKey) => (e: KubeApiError) =>
  new ReconcileError({
    key,
    message: e.message,
    reason: !e.answered
      ? "unreachable"
      : e.reason === "Conflict"
      ? "lostRace"
      : isRetryable(writeFailureReasonOf("patch", e.reason))
      ? "transient"
      : "permanent"
  })

// ---------------------------------------------------------------------------------------------
// what the world looked like: resourceVersions of everything a pass reads

const stamp = (o: KubeObject | undefined): string =>
  o === undefined ? "-" : `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}@${o.metadata.resourceVersion ?? ""}`

/**
 * Equal fingerprints mean equal observations, so the pass would decide the same. Kept per Api as
 * its hash: 8 bytes instead of a string of every stamp (about 2 MB at 10,000 Apis).
 */
export const fingerprintOf = (obs: World & { readonly api: KubeObject }): number => hash53(stampsOf(obs))

const stampsOf = (obs: World & { readonly api: KubeObject }): string =>
  [
    stamp(obs.api),
    stamp(obs.virtualService),
    obs.authentication.map((c) => stamp(c.object)).sort().join(","),
    obs.hostClaims.map(stamp).sort().join(","),
    obs.serviceClaims.map(stamp).sort().join(","),
    stamp(obs.service),
    obs.neighbours.flatMap((n) => [stamp(n.service), ...n.apis.map(stamp)]).sort().join(",")
  ].join("|")

/** The observation a pass leaves behind: what it read, with its own writes' answers in place. */
const afterWrites = (
  obs: Observation,
  domainName: string,
  api: KubeObject,
  answers: ReadonlyMap<string, { readonly kind: ResourceKind; readonly object: KubeObject | undefined }>
): Observation => {
  const keyOf = (kind: string, name: string) => `${kind}/${name}`
  const apply = (kind: string, o: KubeObject | undefined, name: string): KubeObject | undefined => {
    const a = answers.get(keyOf(kind, name))
    return a === undefined ? o : a.object
  }
  const vsName = obs.api.metadata.name
  const virtualService = apply("VirtualService", obs.virtualService, vsName)
  const authentication: Array<ObservedChild> = obs.authentication.flatMap((c) => {
    const o = apply(c.kind.kind, c.object, c.object.metadata.name)
    return o === undefined ? [] : [{ kind: c.kind, object: o }]
  })
  for (const [key, a] of answers) {
    const created = a.object !== undefined && a.kind.kind !== "VirtualService" &&
      !obs.authentication.some((c) => keyOf(c.kind.kind, c.object.metadata.name) === key)
    if (created) authentication.push({ kind: a.kind, object: a.object! })
  }
  // Our VirtualService is one of the host's claims exactly when it serves the host.
  const fqdn = claimsOf(api, domainName).fqdn
  const ours = (vs: KubeObject) => vs.metadata.namespace === obs.api.metadata.namespace && vs.metadata.name === vsName
  const hostClaims = [
    ...obs.hostClaims.filter((vs) => !ours(vs)),
    ...(virtualService !== undefined && fqdn !== undefined && servesHost(virtualService, fqdn) ? [virtualService] : [])
  ]
  // The Api as written is also among the claims on its Service and among its Service's neighbours' Apis.
  const written = (a: KubeObject) => (a.metadata.uid === api.metadata.uid ? api : a)
  const serviceClaims = obs.serviceClaims.map(written)
  const neighbours = obs.neighbours.map((n) => ({ ...n, apis: n.apis.map(written) }))
  return { ...obs, api: api as Observation["api"], virtualService, authentication, hostClaims, serviceClaims, neighbours }
}

// ---------------------------------------------------------------------------------------------

export class Reconciler extends Context.Service<Reconciler, {
  /** One pass: `done`, or `skipped` when the world is as the Api's last pass left it (Controller.ts `PassOutcome`). */
  readonly reconcile: (key: ObjectKey) => Effect.Effect<"done" | "skipped", ReconcileError>
}>()("api-controller/controller/Reconciler") {
  static readonly layer = Layer.effect(
    Reconciler,
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const view = yield* ClusterView
      const settings = yield* Settings
      const recorder = yield* EventRecorder
      const { config } = settings

      const decodeApi = Schema.decodeUnknownOption(ApiObject)
      /** Per Api, the fingerprint of the world its last pass left behind. */
      const lastSeen = new Map<ObjectKey, number>()
      /**
       * Apis whose namespace refused a create because it is being deleted, by uid: the namespace
       * controller removes them with the rest, and each child it deletes first would otherwise wake
       * one more pass and one more refused create.
       */
      const leaving = new Map<ObjectKey, string>()

      /** The world around the Api; read from the Api as cached, before it is decoded, so an echo costs no decode. */
      const observe = gatherer(view, settings)

      /** A 404 on create can only mean the kind is not served (the Api's namespace exists). */
      const failureOf = (w: ChildWrite, e: KubeApiError): WriteFailure => {
        const reason = writeFailureReasonOf(w.op, e.reason)
        return { reason, message: reason === "kindNotServed" ? unservedKindMessage(settings, w.kind) : e.message }
      }

      /** What a pass's writes met: the namespace being deleted, or a server that did not answer. */
      interface Met {
        namespaceTerminating: boolean
        unanswered: boolean
      }

      const send = (
        answers: Map<string, { kind: ResourceKind; object: KubeObject | undefined }>,
        met: Met
      ) => (w: ChildWrite) => {
        const name = w.op === "delete" ? w.name : w.object.metadata.name
        const record = (object: KubeObject | undefined) => answers.set(`${w.kind.kind}/${name}`, { kind: w.kind, object })
        const sent: Effect.Effect<KubeObject | undefined, KubeApiError> = w.op === "create"
          ? kube.create(w.kind, w.object)
          : w.op === "update"
          ? kube.replace(w.kind, w.object)
          // Already gone is what we wanted (SPEC 8).
          : Effect.as(orAbsent(kube.delete(w.kind, w.namespace, w.name, { uid: w.uid })), undefined)
        return sent.pipe(
          Effect.tap((o) => Effect.andThen(Effect.sync(() => record(o)), o !== undefined ? view.wrote(w.kind, o) : Effect.void)),
          Effect.tapError((e) => {
            if (namespaceTerminating(e)) met.namespaceTerminating = true
            if (!e.answered) met.unanswered = true
            // The pass's outcome says it (Controller.ts); each write at debug.
            return Effect.logDebug("child write failed", { op: w.op, kind: w.kind.kind, error: e.message })
          }),
          Effect.mapError((e) => failureOf(w, e))
        )
      }

      /** A finalizer from before garbage collection took over would block deletion: drop it. */
      const dropLegacyFinalizer = Effect.fn("Reconciler.dropLegacyFinalizer")(function*(api: ApiObject) {
        const finalizers = api.metadata.finalizers ?? []
        if (!finalizers.includes(LEGACY_FINALIZER)) return api
        const patched = yield* orAbsent(kube.patch(Kinds.Api, api.metadata.namespace!, api.metadata.name, {
          metadata: { resourceVersion: api.metadata.resourceVersion, finalizers: finalizers.filter((f) => f !== LEGACY_FINALIZER) }
        }))
        if (patched !== undefined) yield* view.wrote(Kinds.Api, patched)
        yield* Effect.logInfo("removed the finalizer of an earlier version; children are garbage-collected now")
        return patched === undefined ? api : Option.getOrElse(decodeApi(patched), () => api)
      })

      /** As its last pass left it: the echo of this controller's own writes. */
      const unchanged = (key: ObjectKey, raw: KubeObject, world: World) => lastSeen.get(key) === fingerprintOf({ ...world, api: raw })

      const reconcile = Effect.fn("Reconciler.reconcile")(function*(key: ObjectKey) {
        const { namespace, name } = splitKey(key)
        const raw = yield* view.get(Kinds.Api, namespace, name)
        if (raw === undefined) {
          lastSeen.delete(key)
          leaving.delete(key)
          return "done"
        }
        if (leaving.get(key) === raw.metadata.uid) return "done"
        // The watch echo of this controller's own writes: the world as its last pass left it. A
        // finalizer to drop or a deletion would have changed the Api's version, so neither is missed.
        let world = yield* observe(raw)
        if (unchanged(key, raw, world)) return "skipped"
        lastSeen.delete(key)

        const decoded = decodeApi(raw)
        if (Option.isNone(decoded)) {
          yield* Effect.logWarning("ignoring an Api object without namespace or uid")
          return "done"
        }
        const api = yield* dropLegacyFinalizer(decoded.value)
        if (api.metadata.deletionTimestamp !== undefined) return "done"
        if (api !== decoded.value) world = yield* observe(api as KubeObject)
        const observation: Observation = { ...world, api }

        const now = new Date(yield* Clock.currentTimeMillis).toISOString().replace(/\.\d+Z$/, "Z")
        const answers = new Map<string, { kind: ResourceKind; object: KubeObject | undefined }>()
        const met: Met = { namespaceTerminating: false, unanswered: false }
        const outcome = yield* runPass(observation, settings, send(answers, met), now)
        // Its namespace is going, the Api with it: no status to report, no Event, nothing to retry.
        if (met.namespaceTerminating) {
          leaving.set(key, api.metadata.uid ?? "")
          yield* Effect.logDebug("the Api's namespace is being deleted; leaving the Api to it")
          return "done"
        }

        // Write status only if it changed, never over a newer version of the Api.
        let after: KubeObject = api as KubeObject
        const statusPatch = diffMergePatch(api.status ?? {}, outcome.status)
        if (statusPatch !== undefined) {
          after = yield* kube.patchStatus(Kinds.Api, namespace, name, {
            metadata: { resourceVersion: api.metadata.resourceVersion },
            status: statusPatch
          })
          yield* view.wrote(Kinds.Api, after)
        }

        // One line per pass, each machine that moved as "from -> to".
        if (outcome.transitions.length > 0) {
          yield* Effect.logInfo("state changed", Object.fromEntries(outcome.transitions.map((t) => [t.machine, `${t.from} -> ${t.to}`])))
        }
        for (const event of outcome.events) yield* recorder.record(after, event)

        if (outcome.retry) {
          return yield* new ReconcileError({
            key,
            message: outcome.writes.flatMap((w) => (w.failure !== undefined ? [w.failure.message] : [])).join("; "),
            reason: met.unanswered ? "unreachable" : "transient"
          })
        }
        if (!outcome.writes.some((w) => w.failure !== undefined)) {
          lastSeen.set(key, fingerprintOf(afterWrites(observation, config.domainName, after, answers)))
        }
        return "done"
      }, (effect, key) =>
        effect.pipe(
          Effect.catchTag("KubeApiError", (e) => Effect.fail(fromKube(key)(e))),
          Effect.annotateLogs({ api: key })
        ))

      return Reconciler.of({ reconcile })
    })
  )
}
