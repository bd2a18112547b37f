/**
 * Kubernetes Events on an Api (SPEC 8, revised): the reconciler hands over one Normal Event when
 * an Api becomes Ready and one Warning per new failure or conflict. Events are best effort and
 * off the reconcile path: `record` only queues (it never waits, fails or retries a pass), and a
 * background fiber writes them. A repeat of the same reason and message on the same Api updates
 * the existing Event's count and time instead of creating another, as Kubernetes' own recorders do.
 */
import { Clock, Context, Effect, Layer, Queue } from "effect"
import { Kinds, type KubeObject } from "../domain/Kube.ts"
import { KubeApi, orAbsent } from "./KubeApi.ts"

export type EventType = "Normal" | "Warning"

export interface EventRecord {
  readonly type: EventType
  readonly reason: string
  readonly message: string
}

export const COMPONENT = "api-controller"

/** Events waiting to be written; beyond this, new ones are dropped (and logged), never waited for. */
const QUEUE_LIMIT = 4096
/** Events remembered for aggregation; the oldest are forgotten first. */
const REMEMBERED = 8192
/** Events written at once. */
const CONCURRENCY = 4

interface Sent {
  readonly name: string
  readonly namespace: string
  readonly firstTimestamp: string
  count: number
}

const seconds = (millis: number) => new Date(millis).toISOString().replace(/\.\d+Z$/, "Z")

export class EventRecorder extends Context.Service<EventRecorder, {
  /** Queue an Event about `involved`; returns at once. */
  readonly record: (involved: KubeObject, event: EventRecord) => Effect.Effect<void>
  /** Until every Event queued so far has been written or given up (shutdown, tests). */
  readonly flush: Effect.Effect<void>
}>()("api-controller/k8s/EventRecorder") {
  static readonly layer = Layer.effect(
    EventRecorder,
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const queue = yield* Queue.dropping<{ readonly involved: KubeObject; readonly event: EventRecord }>(QUEUE_LIMIT)
      const sent = new Map<string, Sent>()
      let counter = 0
      let writing = 0

      const write = Effect.fn("EventRecorder.write")(function*(involved: KubeObject, event: EventRecord) {
        const at = seconds(yield* Clock.currentTimeMillis)
        const namespace = involved.metadata.namespace ?? "default"
        const message = event.message.slice(0, 1024)
        const key = `${involved.metadata.uid ?? ""}|${event.type}|${event.reason}|${message}`
        const previous = sent.get(key)
        if (previous !== undefined) {
          previous.count++
          const updated = yield* orAbsent(kube.patch(Kinds.Event, previous.namespace, previous.name, {
            count: previous.count,
            lastTimestamp: at
          }))
          if (updated !== undefined) return
          sent.delete(key) // expired on the server (Events live an hour): write a new one
        }
        counter = (counter + 1) % 1_000_000
        const name = `${involved.metadata.name}.${Date.parse(at).toString(16)}${counter.toString(16).padStart(5, "0")}`
        yield* kube.create(Kinds.Event, {
          apiVersion: "v1",
          kind: "Event",
          metadata: { name, namespace },
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
          message,
          source: { component: COMPONENT },
          reportingComponent: COMPONENT,
          reportingInstance: COMPONENT,
          firstTimestamp: at,
          lastTimestamp: at,
          count: 1
        })
        sent.set(key, { name, namespace, firstTimestamp: at, count: 1 })
        if (sent.size > REMEMBERED) sent.delete(sent.keys().next().value!)
      })

      yield* Effect.forkScoped(
        Effect.forever(
          Effect.flatMap(Queue.take(queue), ({ involved, event }) =>
            Effect.suspend(() => {
              writing++
              return write(involved, event).pipe(
                Effect.catch((e) => Effect.logWarning("could not record event", { reason: event.reason, error: e.message })),
                Effect.ensuring(Effect.sync(() => void writing--))
              )
            })
          )
        ).pipe(Effect.replicateEffect(CONCURRENCY, { concurrency: "unbounded", discard: true }))
      )

      const idle = Effect.map(Queue.size(queue), (n) => n === 0 && writing === 0)
      return EventRecorder.of({
        flush: Effect.gen(function*() {
          while (!(yield* idle)) yield* Effect.yieldNow
        }),
        record: (involved, event) =>
          Queue.offer(queue, { involved, event }).pipe(
            Effect.flatMap((accepted) =>
              accepted ? Effect.void : Effect.logWarning("event dropped: too many waiting", { reason: event.reason })
            )
          )
      })
    })
  )

  /** Records nothing; for tests that do not look at Events. */
  static readonly layerDiscard = Layer.succeed(EventRecorder, EventRecorder.of({ record: () => Effect.void, flush: Effect.void }))
}
