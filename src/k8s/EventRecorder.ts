/**
 * Kubernetes Events on an Api: one per state change and per failed write, so `kubectl describe
 * api` tells the story. Best effort: an Event that cannot be written is logged, never fails a pass.
 */
import { Clock, Context, Effect, Layer } from "effect"
import { Kinds, type KubeObject } from "../domain/Kube.ts"
import { KubeApi } from "./KubeApi.ts"

export type EventType = "Normal" | "Warning"

export interface EventRecord {
  readonly type: EventType
  readonly reason: string
  readonly message: string
}

export const COMPONENT = "api-controller"

export class EventRecorder extends Context.Service<EventRecorder, {
  readonly record: (involved: KubeObject, event: EventRecord) => Effect.Effect<void>
}>()("api-controller/k8s/EventRecorder") {
  static readonly layer = Layer.effect(
    EventRecorder,
    Effect.gen(function*() {
      const kube = yield* KubeApi
      let counter = 0
      return EventRecorder.of({
        record: Effect.fn("EventRecorder.record")(function*(involved: KubeObject, event: EventRecord) {
          const now = yield* Clock.currentTimeMillis
          const at = new Date(now).toISOString()
          const namespace = involved.metadata.namespace ?? "default"
          counter = (counter + 1) % 1_000_000
          const body: KubeObject = {
            apiVersion: "v1",
            kind: "Event",
            metadata: {
              name: `${involved.metadata.name}.${now.toString(16)}${counter.toString(16).padStart(5, "0")}`,
              namespace
            },
            involvedObject: {
              apiVersion: involved.apiVersion,
              kind: involved.kind,
              name: involved.metadata.name,
              namespace,
              uid: involved.metadata.uid,
              resourceVersion: involved.metadata.resourceVersion
            },
            type: event.type,
            reason: event.reason,
            message: event.message.slice(0, 1024),
            source: { component: COMPONENT },
            reportingComponent: COMPONENT,
            reportingInstance: COMPONENT,
            firstTimestamp: at.replace(/\.\d+Z$/, "Z"),
            lastTimestamp: at.replace(/\.\d+Z$/, "Z"),
            count: 1
          }
          yield* kube.create(Kinds.Event, body).pipe(
            Effect.catch((e) => Effect.logWarning("could not record event", { reason: event.reason, error: e.message }))
          )
        })
      })
    })
  )

  /** Keeps events in memory only; for tests that do not look at them. */
  static readonly layerDiscard = Layer.succeed(EventRecorder, EventRecorder.of({ record: () => Effect.void }))
}
