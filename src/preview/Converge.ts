/**
 * Convergence, simulated: the controller's passes (lifecycle/Pass.ts `runPass`, the same pure
 * decision a real pass makes) over every Api of a `Snapshot`, each gathering its world through the
 * snapshot's `ClusterView` (controller/Gather.ts) and writing into it, round after round until a
 * round writes nothing, so the passes interact as the controller's do: a hostname or a Service one
 * Api takes is taken for the next, a loser withdraws, a freed host is picked up.
 *
 * What the simulation assumes, where the controller's order is not fixed: within a round the
 * oldest Api (creationTimestamp, then namespace/name) passes first, so of two new Apis racing for
 * one host the older one creates its VirtualService first and wins. Every write the server would
 * accept is accepted (admission policies and webhooks are not modelled); a create of a kind the
 * cluster does not serve fails as it does for the reconciler.
 */
import { Effect, Option, Schema } from "effect"
import { writeFailureReasonOf } from "../../machines/WriteFailure.ts"
import { ApiObject, LEGACY_FINALIZER } from "../domain/Api.ts"
import { apiVersionOf, Kinds, type KubeObject, objectKey, type ResourceKind } from "../domain/Kube.ts"
import { gatherer } from "../controller/Gather.ts"
import { type SettingsShape, unservedKindMessage } from "../controller/Settings.ts"
import { type ChildWrite, type PassDecision, runPass, type WriteFailure, type Writer } from "../lifecycle/Pass.ts"
import { byAge } from "../plan/Conflicts.ts"
import { diffMergePatch, jsonEqual } from "../util/MergePatch.ts"
import { kindKeyOf, type Snapshot } from "./Snapshot.ts"

/** A child some Api's passes wrote (or whose removal they caused). */
export interface ChildRef {
  readonly kind: ResourceKind
  readonly namespace: string
  readonly name: string
}

export interface Convergence {
  /** Rounds run, the last one (when settled) writing nothing. */
  readonly rounds: number
  /** A round wrote nothing within the bound. */
  readonly settled: boolean
  /** Each Api's last pass, by `namespace/name`. */
  readonly decisions: ReadonlyMap<string, PassDecision>
  /** The children each Api's passes wrote, by `namespace/name`, in first-write order. */
  readonly touched: ReadonlyMap<string, ReadonlyArray<ChildRef>>
  /** Apis no pass was run for, and why. */
  readonly skipped: ReadonlyMap<string, string>
}

/** Enough for any chain of interactions among real Apis (each round settles at least one more). */
export const MAX_ROUNDS = 25

const decodeApi = Schema.decodeUnknownOption(ApiObject)

const specOf = (o: KubeObject) => {
  const { apiVersion: _a, kind: _k, metadata: _m, status: _s, ...rest } = o
  return rest
}

/** Sends one write into the snapshot, answering as the server would. */
const writerInto = (snapshot: Snapshot, settings: SettingsShape, now: string, record: (ref: ChildRef) => void): Writer<never> => (w: ChildWrite) =>
  Effect.suspend((): Effect.Effect<KubeObject | undefined, WriteFailure> => {
    const namespace = w.op === "delete" ? w.namespace : w.object.metadata.namespace ?? ""
    const name = w.op === "delete" ? w.name : w.object.metadata.name
    const operation = `${w.op} ${w.kind.plural} ${objectKey(namespace, name)}`
    if (!snapshot.serves(w.kind)) {
      return w.op === "create"
        ? Effect.fail({ reason: "kindNotServed", message: unservedKindMessage(settings, w.kind) })
        : Effect.fail({ reason: writeFailureReasonOf(w.op, "NotFound"), message: `${operation}: NotFound: the server could not find the requested resource` })
    }
    const existing = snapshot.get(w.kind, namespace, name)
    record({ kind: w.kind, namespace, name })
    switch (w.op) {
      case "create": {
        if (existing !== undefined) {
          return Effect.fail({ reason: writeFailureReasonOf("create", "AlreadyExists"), message: `${operation}: AlreadyExists: ${w.kind.plural} "${name}" already exists` })
        }
        const created: KubeObject = {
          ...w.object,
          apiVersion: apiVersionOf(w.kind),
          metadata: {
            ...w.object.metadata,
            uid: snapshot.placeholder(),
            resourceVersion: snapshot.placeholder(),
            generation: 1,
            creationTimestamp: now
          }
        }
        snapshot.put(w.kind, created)
        return Effect.succeed(created)
      }
      case "update": {
        if (existing === undefined) {
          return Effect.fail({ reason: writeFailureReasonOf("update", "NotFound"), message: `${operation}: NotFound: ${w.kind.plural} "${name}" not found` })
        }
        const generation = existing.metadata.generation ?? 1
        const updated: KubeObject = {
          ...w.object,
          apiVersion: apiVersionOf(w.kind),
          metadata: {
            ...w.object.metadata,
            resourceVersion: snapshot.placeholder(),
            generation: jsonEqual(specOf(existing), specOf(w.object)) ? generation : generation + 1
          }
        }
        snapshot.put(w.kind, updated)
        return Effect.succeed(updated)
      }
      case "delete":
        // Already gone is what was wanted (SPEC 8).
        snapshot.remove(w.kind, namespace, name)
        return Effect.succeed(undefined)
    }
  })

/** Runs the controller's passes over every Api of `snapshot` until a round writes nothing. */
export const converge = (
  snapshot: Snapshot,
  settings: SettingsShape,
  now: string,
  maxRounds = MAX_ROUNDS
): Effect.Effect<Convergence> =>
  Effect.gen(function*() {
    const view = snapshot.view()
    const observe = gatherer(view, settings)
    const decisions = new Map<string, PassDecision>()
    const touched = new Map<string, Array<ChildRef>>()
    const skipped = new Map<string, string>()

    const recorder = (key: string) => (ref: ChildRef) => {
      const list = touched.get(key) ?? []
      if (!list.some((r) => kindKeyOf(r.kind) === kindKeyOf(ref.kind) && r.namespace === ref.namespace && r.name === ref.name)) {
        list.push(ref)
      }
      touched.set(key, list)
    }

    for (let round = 1; round <= maxRounds; round++) {
      let wrote = false
      for (const raw of [...snapshot.list(Kinds.Api)].sort(byAge)) {
        const namespace = raw.metadata.namespace ?? ""
        const key = objectKey(namespace, raw.metadata.name)
        const decoded = decodeApi(raw)
        if (Option.isNone(decoded)) {
          skipped.set(key, "the Api has no namespace or uid; the controller ignores it")
          continue
        }
        let api = decoded.value
        // The finalizer of an earlier version: the reconciler drops it before it decides.
        if ((api.metadata.finalizers ?? []).includes(LEGACY_FINALIZER)) {
          api = { ...api, metadata: { ...api.metadata, finalizers: api.metadata.finalizers!.filter((f) => f !== LEGACY_FINALIZER) } }
          snapshot.put(Kinds.Api, api as KubeObject)
        }
        if (api.metadata.deletionTimestamp !== undefined) {
          skipped.set(key, "the Api is being deleted; garbage collection removes its children")
          continue
        }
        const world = yield* Effect.orDie(observe(api as KubeObject))
        const decision = yield* runPass({ ...world, api }, settings, writerInto(snapshot, settings, now, recorder(key)), now)
        decisions.set(key, decision)
        if (decision.writes.some((w) => w.failure === undefined)) wrote = true
        if (diffMergePatch(api.status ?? {}, decision.status) !== undefined) {
          snapshot.put(Kinds.Api, {
            ...(api as KubeObject),
            metadata: { ...api.metadata, resourceVersion: snapshot.placeholder() },
            status: decision.status
          })
          wrote = true
        }
      }
      if (!wrote) return { rounds: round, settled: true, decisions, touched, skipped }
    }
    return { rounds: maxRounds, settled: false, decisions, touched, skipped }
  })
