/**
 * Kubernetes Events on an Api (SPEC 8, revised): the reconciler hands over one Normal Event when
 * an Api becomes Ready and one Warning per new failure or conflict. Events are best effort and
 * off the reconcile path: `record` only queues (it never waits, fails or retries a pass), and one
 * background fiber writes them, as client-go's broadcaster does. A repeat of the same reason and
 * message on the same Api updates the existing Event's count and time instead of creating another,
 * as Kubernetes' own recorders do.
 *
 * Events also yield the API server to convergence: while passes wait in the work queue (the
 * app hands over the queue's `idle` latch, `holdWhileBusy`), the writer holds Events back, each for
 * at most `HOLD_LIMIT`, and only while fewer than `HOLD_ROOM` wait, so holding never makes the
 * queue drop one. In a burst of new Apis an Event costs the server about as much as a child's
 * create, and the status that says Ready matters more than the notice that says so.
 */
import { Clock, Context, Duration, Effect, Latch, Layer, Queue } from "effect"
import { boundMessage } from "../../machines/Child.ts"
import { hash53 } from "../util/Hash.ts"
import { Kinds, type KubeObject } from "../domain/Kube.ts"
import { KubeApi, orAbsent } from "./KubeApi.ts"

export type EventType = "Normal" | "Warning"

export interface EventRecord {
  readonly type: EventType
  readonly reason: string
  readonly message: string
}

export const COMPONENT = "api-controller"

/**
 * Events waiting to be written; beyond this, new ones are dropped (and logged), never waited for.
 * Held Events pile up during a burst (one per Api turning Ready); each keeps a few strings.
 */
const QUEUE_LIMIT = 16_384
/** Events remembered for aggregation; the oldest are forgotten first. */
const REMEMBERED = 8192
/**
 * The longest an Event waits for the work queue to drain before it is written anyway: a burst of
 * 10,000 new Apis takes about two minutes here. A backlog that outlasts it is an overloaded
 * controller, whose Events then flow at the rate they come.
 */
export const HOLD_LIMIT = Duration.minutes(5)
/** With this many Events waiting, they are written however busy the work queue is (a quarter of the queue stays free for new ones). */
export const HOLD_ROOM = (QUEUE_LIMIT / 4) * 3
/** On shutdown, how long the Events still waiting may take to be written. */
const SHUTDOWN_FLUSH = Duration.seconds(5)

interface Sent {
  readonly name: string
  readonly namespace: string
  count: number
}

/** What an Event names of its object: only this is kept while it waits, not the object. */
interface Involved {
  readonly apiVersion: string
  readonly kind: string
  readonly name: string
  readonly namespace: string
  readonly uid: string | undefined
  readonly resourceVersion: string | undefined
}

const involvedOf = (o: KubeObject): Involved => ({
  apiVersion: o.apiVersion,
  kind: o.kind,
  name: o.metadata.name,
  namespace: o.metadata.namespace ?? "default",
  uid: o.metadata.uid,
  resourceVersion: o.metadata.resourceVersion
})

const seconds = (millis: number) => new Date(millis).toISOString().replace(/\.\d+Z$/, "Z")

export class EventRecorder extends Context.Service<EventRecorder, {
  /** Queue an Event about `involved`; returns at once. */
  readonly record: (involved: KubeObject, event: EventRecord) => Effect.Effect<void>
  /** Until every Event queued so far has been written or given up, holding none back (shutdown, tests). */
  readonly flush: Effect.Effect<void>
  /** While `idle` is closed (passes wait in the work queue), Events are held back (see above). */
  readonly holdWhileBusy: (idle: Latch.Latch) => Effect.Effect<void>
}>()("api-controller/k8s/EventRecorder") {
  static readonly layer = Layer.effect(
    EventRecorder,
    Effect.gen(function*() {
      const kube = yield* KubeApi
      const queue = yield* Queue.dropping<{ readonly involved: Involved; readonly event: EventRecord; readonly at: number }>(QUEUE_LIMIT)
      const sent = new Map<string, Sent>()
      let counter = 0
      // Only the writer waits on it, never the reconciler.
      let idle: Latch.Latch | undefined
      let flushing = 0
      // Opened by a flush, or by a queue too full to hold: a held Event stops waiting at once.
      const release = Latch.makeUnsafe(false)
      // Open while nothing waits or is being written: what a flush waits for.
      const empty = Latch.makeUnsafe(true)
      const roomy = () => Queue.sizeUnsafe(queue) < HOLD_ROOM - 1

      /** Until no pass waits, or the Event queued at `at` has waited `HOLD_LIMIT`, or `HOLD_ROOM` wait, or a flush. */
      const hold = (at: number) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const left = at + Duration.toMillis(HOLD_LIMIT) - now
          if (idle === undefined || Latch.isOpen(idle) || flushing > 0 || !roomy() || left <= 0) return Effect.void
          release.closeUnsafe()
          return Effect.raceFirst(idle.await, Effect.raceFirst(release.await, Effect.sleep(Duration.millis(left))))
        })

      const write = Effect.fn("EventRecorder.write")(function*(involved: Involved, event: EventRecord) {
        const at = seconds(yield* Clock.currentTimeMillis)
        const namespace = involved.namespace
        const message = boundMessage(event.message)
        // The message as its hash: thousands of remembered Events need not keep every message.
        const key = `${involved.uid ?? ""}|${event.type}|${event.reason}|${hash53(message)}`
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
        const name = `${involved.name}.${Date.parse(at).toString(16)}${counter.toString(16).padStart(5, "0")}`
        yield* kube.create(Kinds.Event, {
          apiVersion: "v1",
          kind: "Event",
          metadata: { name, namespace },
          involvedObject: involved,
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
        sent.set(key, { name, namespace, count: 1 })
        if (sent.size > REMEMBERED) sent.delete(sent.keys().next().value!)
      })

      yield* Effect.forkScoped(
        Effect.forever(
          Effect.flatMap(Queue.take(queue), ({ involved, event, at }) =>
            hold(at).pipe(
              Effect.andThen(write(involved, event)),
              Effect.catch((e) =>
                // An unreachable server is said once, by the passes and watches that meet it too (ServerOutage.ts).
                (e.answered ? Effect.logWarning : Effect.logDebug)("could not record event", { reason: event.reason, error: e.message })
              ),
              Effect.ensuring(Effect.sync(() => void (Queue.sizeUnsafe(queue) === 0 && empty.openUnsafe())))
            )
          )
        )
      )

      const flush = Effect.suspend(() => {
        flushing++
        release.openUnsafe()
        return empty.await
      }).pipe(Effect.ensuring(Effect.sync(() => void flushing--)))
      // On shutdown, write what is held (briefly: the server may be the reason for the shutdown).
      yield* Effect.addFinalizer(() => flush.pipe(Effect.timeout(SHUTDOWN_FLUSH), Effect.ignore))
      return EventRecorder.of({
        flush,
        holdWhileBusy: (latch) => Effect.sync(() => void (idle = latch)),
        record: (involved, event) =>
          Effect.flatMap(Clock.currentTimeMillis, (at) => {
            empty.closeUnsafe()
            return Queue.offer(queue, { involved: involvedOf(involved), event, at })
          }).pipe(
            Effect.flatMap((accepted) => {
              if (!roomy()) release.openUnsafe()
              return accepted ? Effect.void : Effect.logWarning("event dropped: too many waiting", { reason: event.reason })
            })
          )
      })
    })
  )

  /** Records nothing; for tests that do not look at Events. */
  static readonly layerTest = Layer.succeed(
    EventRecorder,
    EventRecorder.of({ record: () => Effect.void, flush: Effect.void, holdWhileBusy: () => Effect.void })
  )
}
