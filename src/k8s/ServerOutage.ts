/**
 * An API server that does not answer (no connection, a 5xx, a 429: `KubeApiError.answered`), said
 * once: one warning when the first pass or informer fails for it, and one line when one that
 * waited gets an answer, with how many waited. In an outage every pass fails and retries and every
 * informer relists again and again; a line for each (1,256 warnings in a 10 s outage with 500
 * Apis) says nothing the first did not, so each failure goes to its own log at debug.
 */
import { Clock, Context, Effect, Layer } from "effect"

/** Who waits: an Api (its key; its passes) or an informer (its resource). */
export type Waiter = { readonly api: string } | { readonly informer: string }

export class ServerOutage extends Context.Service<ServerOutage, {
  /** A request of `who` got no answer. */
  readonly unanswered: (who: Waiter, error: { readonly message: string }) => Effect.Effect<void>
  /** `who` got an answer (or needs none any more): if it waited, the outage is over. */
  readonly answered: (who: Waiter) => Effect.Effect<void>
}>()("api-controller/k8s/ServerOutage") {
  static readonly layer = Layer.sync(ServerOutage, () => {
    let since: number | undefined
    const apis = new Set<string>()
    const informers = new Set<string>()
    let failures = 0
    const setOf = (who: Waiter) => ("api" in who ? apis : informers)
    const nameOf = (who: Waiter) => ("api" in who ? who.api : who.informer)
    return ServerOutage.of({
      unanswered: (who, error) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          failures++
          setOf(who).add(nameOf(who))
          if (since !== undefined) return Effect.void
          since = now
          return Effect.logWarning("the API server does not answer; passes and watches wait and retry with backoff", { error: error.message })
        }),
      answered: (who) =>
        Effect.suspend(() => {
          if (since === undefined || !setOf(who).has(nameOf(who))) return Effect.void
          return Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const line = Effect.logInfo("the API server answers again", {
              apisWaited: apis.size,
              informersWaited: informers.size,
              failures,
              seconds: Math.round((now - since!) / 100) / 10
            })
            since = undefined
            apis.clear()
            informers.clear()
            failures = 0
            return line
          })
        })
    })
  })
}
