/**
 * One level-triggered pass for one Api (SPEC 8):
 *
 *   read the Api, its children and the conflict indexes as they are now   (ClusterView)
 *   -> decide purely: validate, plan, step the machines                    (plan/Decide.ts)
 *   -> apply only the writes the machines asked for                        (KubeApi)
 *   -> conclude purely, write status only if it changed                    (status subresource)
 *   -> tell the queue whether to look again
 *
 * The pass never trusts memory: everything it knows comes from the cluster at the start of the
 * pass, so missed or coalesced watch events change nothing. Deletion is handled here too, through
 * the finalizer: children first, then the finalizer, so cleanup also happens after downtime.
 */
import { Clock, Context, Data, Duration, Effect, Layer, Option, Schema } from "effect"
import { API_FINALIZER, ApiObject } from "../domain/Api.ts"
import { Kinds, type ObjectKey, splitKey } from "../domain/Kube.ts"
import { diffMergePatch } from "../domain/MergePatch.ts"
import { EventRecorder } from "../k8s/EventRecorder.ts"
import { KubeApi, type KubeApiError } from "../k8s/KubeApi.ts"
import {
  type ChildMachine,
  type ChildWrite,
  conclude,
  decide,
  lookupsFor,
  type Observation,
  ownerOf,
  type WriteFailure
} from "../plan/Decide.ts"
import { isOwnedBy } from "../plan/Ownership.ts"
import { ClusterView } from "./ClusterView.ts"
import { Settings } from "./Settings.ts"

/** What the queue should do with the key after a successful pass. */
export type PassResult =
  | { readonly _tag: "Done" }
  | { readonly _tag: "RequeueAfter"; readonly after: Duration.Duration }

/** A pass that must be retried with backoff: a transient API failure or a lost race (409). */
export class ReconcileError extends Data.TaggedError("ReconcileError")<{
  readonly key: ObjectKey
  readonly message: string
  readonly retryable: boolean
}> {}

const done: PassResult = { _tag: "Done" }

const fromKube = (key: ObjectKey) => (e: KubeApiError) =>
  new ReconcileError({ key, message: e.message, retryable: e.retryable })

const stateReason: Record<string, string> = {
  validation: "",
  virtualService: "VirtualService",
  policy: "Policy"
}
const warningStates = new Set(["Invalid", "TargetServiceOccupied", "Error", "HostnameOccupied"])

export class Reconciler extends Context.Service<Reconciler, {
  readonly reconcile: (key: ObjectKey) => Effect.Effect<PassResult, ReconcileError>
}>()("api-controller/controller/Reconciler") {
  static readonly layer = Layer.effect(
    Reconciler,
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const view = yield* ClusterView
      const settings = yield* Settings
      const recorder = yield* EventRecorder
      const { config, backend } = settings

      const decodeApi = Schema.decodeUnknownOption(ApiObject)

      /** Children named after the Api, whoever owns them. */
      const observeChildren = Effect.fn("Reconciler.observeChildren")(function*(namespace: string, name: string) {
        const virtualService = yield* view.get(Kinds.VirtualService, namespace, name)
        const authentication: Array<Observation["authentication"][number]> = []
        for (const kind of backend.kinds) {
          const object = yield* view.get(kind, namespace, name)
          if (object !== undefined) authentication.push({ kind, object })
        }
        return { virtualService, authentication }
      })

      const runWrite = (w: ChildWrite): Effect.Effect<void, KubeApiError> => {
        switch (w.op) {
          case "create":
            return Effect.asVoid(kube.create(w.kind, w.object))
          case "update":
            return Effect.asVoid(kube.replace(w.kind, w.object))
          case "delete":
            return kube.delete(w.kind, w.namespace, w.name, { uid: w.uid }).pipe(
              // Already gone is what we wanted (SPEC 8).
              Effect.catchIf((e) => e.reason === "NotFound", () => Effect.void)
            )
        }
      }

      const finalize = Effect.fn("Reconciler.finalize")(function*(key: ObjectKey, api: ApiObject) {
        if (!(api.metadata.finalizers ?? []).includes(API_FINALIZER)) return done
        const namespace = api.metadata.namespace!
        const owner = ownerOf(api)
        const { virtualService, authentication } = yield* observeChildren(namespace, api.metadata.name).pipe(
          Effect.mapError(fromKube(key))
        )
        const children = [
          ...(virtualService !== undefined ? [{ kind: Kinds.VirtualService, object: virtualService }] : []),
          ...authentication
        ].filter((c) => isOwnedBy(c.object.metadata, owner))
        for (const c of children) {
          yield* runWrite({
            machine: "virtualService",
            op: "delete",
            kind: c.kind,
            namespace,
            name: c.object.metadata.name,
            uid: c.object.metadata.uid ?? ""
          }).pipe(Effect.mapError(fromKube(key)))
        }
        yield* kube.patch(Kinds.Api, namespace, api.metadata.name, {
          metadata: {
            resourceVersion: api.metadata.resourceVersion,
            finalizers: (api.metadata.finalizers ?? []).filter((f) => f !== API_FINALIZER)
          }
        }).pipe(
          Effect.catchIf((e) => e.reason === "NotFound", () => Effect.void),
          Effect.mapError(fromKube(key))
        )
        yield* Effect.logInfo("Api deleted; children removed", { children: children.map((c) => c.kind.kind) })
        return done
      })

      const reconcile = Effect.fn("Reconciler.reconcile")(function*(key: ObjectKey) {
        const { namespace, name } = splitKey(key)
        const raw = yield* view.get(Kinds.Api, namespace, name).pipe(Effect.mapError(fromKube(key)))
        if (raw === undefined) return done
        const decoded = decodeApi(raw)
        if (Option.isNone(decoded)) {
          yield* Effect.logWarning("ignoring an Api object without namespace or uid")
          return done
        }
        let api = decoded.value
        if (api.metadata.deletionTimestamp !== undefined) return yield* finalize(key, api)

        // The finalizer goes on before any child exists, so no child can outlive its Api.
        if (!(api.metadata.finalizers ?? []).includes(API_FINALIZER)) {
          const patched = yield* kube.patch(Kinds.Api, namespace, name, {
            metadata: {
              resourceVersion: api.metadata.resourceVersion,
              finalizers: [...(api.metadata.finalizers ?? []), API_FINALIZER]
            }
          }).pipe(Effect.mapError(fromKube(key)))
          api = Option.getOrElse(decodeApi(patched), () => api)
        }

        // Observe.
        const lookups = lookupsFor(api, config)
        const children = yield* observeChildren(namespace, name).pipe(Effect.mapError(fromKube(key)))
        const hostClaims = lookups.fqdn !== undefined
          ? yield* view.virtualServicesForHost(lookups.fqdn).pipe(Effect.mapError(fromKube(key)))
          : []
        const serviceClaims = lookups.service !== undefined
          ? yield* view.apisForService(namespace, lookups.service).pipe(Effect.mapError(fromKube(key)))
          : []

        // Decide.
        const decision = decide({ api, ...children, hostClaims, serviceClaims }, config, backend)

        // Apply: each machine's writes in order; the first failure stops that machine's writes.
        const failures: Partial<Record<ChildMachine, WriteFailure>> = {}
        for (const w of decision.writes) {
          if (failures[w.machine] !== undefined) continue
          const outcome = yield* Effect.result(runWrite(w))
          if (outcome._tag === "Failure") {
            failures[w.machine] = { message: outcome.failure.message, retryable: outcome.failure.retryable }
            yield* Effect.logWarning("child write failed", { op: w.op, kind: w.kind.kind, error: outcome.failure.message })
          }
        }

        // Conclude, and write status only if it changed, never over a newer version of the Api.
        const now = new Date(yield* Clock.currentTimeMillis).toISOString().replace(/\.\d+Z$/, "Z")
        const conclusion = conclude(decision, failures, api.metadata.generation, now)
        const statusPatch = diffMergePatch(api.status ?? {}, conclusion.status)
        if (statusPatch !== undefined) {
          yield* kube.patchStatus(Kinds.Api, namespace, name, {
            metadata: { resourceVersion: api.metadata.resourceVersion },
            status: statusPatch
          }).pipe(Effect.mapError(fromKube(key)))
        }

        // Events are best effort and independent of each other: send them together, not one
        // after another, so they add one round trip to the pass rather than one each.
        for (const t of conclusion.transitions) {
          yield* Effect.logInfo("state changed", { machine: t.machine, from: t.from, to: t.to })
        }
        yield* Effect.forEach([
          ...conclusion.transitions.map((t) => ({
            type: warningStates.has(t.to) ? "Warning" as const : "Normal" as const,
            reason: `${stateReason[t.machine]}${t.to}`,
            message: t.message ?? `${t.machine} ${t.from} -> ${t.to}`
          })),
          ...Object.entries(failures).map(([machine, f]) => ({
            type: "Warning" as const,
            reason: `${stateReason[machine]}WriteFailed`,
            message: f.message
          }))
        ], (event) => recorder.record(raw, event), { concurrency: "unbounded", discard: true })

        if (conclusion.retryableFailure) {
          return yield* new ReconcileError({
            key,
            message: Object.values(failures).map((f) => f.message).join("; "),
            retryable: true
          })
        }
        return conclusion.awaitingConfirmation ? { _tag: "RequeueAfter", after: settings.confirmAfter } as const : done
      }, (effect, key) => Effect.annotateLogs(effect, { api: key }))

      return Reconciler.of({ reconcile })
    })
  )
}

