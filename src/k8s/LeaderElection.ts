/**
 * Leader election on a `coordination.k8s.io/v1` Lease, the way client-go's `leaderelection`
 * package does it (the JavaScript client has no helper), so only one controller instance writes.
 *
 *   follower: every retryPeriod (+ jitter) read the Lease; take it when it is missing (create),
 *             free (holderIdentity ""), ours, or expired - and write with the resourceVersion we
 *             read, so of two candidates racing for it one gets 409 and stays follower.
 *   leader:   renew every retryPeriod; when no renewal has succeeded for renewDeadline, stop
 *             (the work is interrupted and fails with `LeadershipLost`).
 *   shutdown: give the Lease up (holderIdentity "", as client-go's ReleaseOnCancel) after the
 *             work has stopped, so the next candidate takes over at its next retry.
 *
 * "Expired" is judged by OUR clock: a Lease is expired when its record has not changed for
 * leaseDurationSeconds since we first saw it as it is now. The holder's renewTime is written
 * with the holder's clock, and clocks of two nodes need not agree; the moment we saw the record
 * change only needs our own clock. The cost is that a fresh candidate waits one full lease
 * duration before taking over a dead holder's Lease, however old its renewTime looks.
 *
 * Safety comes from the ordering of the three durations: the leader gives up at
 * renewDeadline after its last successful renewal began, which is before any other candidate can
 * see the Lease as expired (leaseDuration after it saw that renewal), with leaseDuration -
 * renewDeadline left over for the work to stop.
 */
import {
  Clock,
  Context,
  Duration,
  Effect,
  Layer,
  Option,
  Random,
  Schema,
  Semaphore,
  Stream,
  SubscriptionRef
} from "effect"
import { apiVersionOf, Kinds, type KubeObject } from "../domain/Kube.ts"
import { jsonEqual } from "../util/MergePatch.ts"
import { ServerOutage } from "./ServerOutage.ts"
import { KubeApi, type KubeApiError } from "./KubeApi.ts"

export interface LeaderElectionConfig {
  /** Namespace of the Lease (usually the controller's own). */
  readonly namespace: string
  /** Name of the Lease, e.g. `api-controller`. */
  readonly name: string
  /** Unique per process: pod name plus a random suffix (see `makeIdentity`). */
  readonly identity: string
  /** How long others wait after the last change they saw before taking over. Default 15s. */
  readonly leaseDuration?: Duration.Input
  /** How long the leader keeps trying to renew before it gives up. Default 10s. */
  readonly renewDeadline?: Duration.Input
  /** Pause between attempts, for followers (plus jitter) and for the leader's renewals. Default 2s. */
  readonly retryPeriod?: Duration.Input
  /**
   * Followers wait retryPeriod * (1 + random * jitterFactor), so candidates started together
   * spread out instead of hitting the API server in step. Default 1.2, as client-go.
   */
  readonly jitterFactor?: number
  /** Give the Lease up when `runWhileLeader` ends (work done, failed or interrupted). Default true. */
  readonly releaseOnCancel?: boolean
}

/** client-go's defaults (and kube-controller-manager's): 15s / 10s / 2s. */
export const DEFAULT_LEASE_DURATION = Duration.seconds(15)
export const DEFAULT_RENEW_DEADLINE = Duration.seconds(10)
export const DEFAULT_RETRY_PERIOD = Duration.seconds(2)
export const DEFAULT_JITTER_FACTOR = 1.2

/** The configuration cannot be safe: one line per problem. */
export class LeaderElectionConfigError extends Schema.TaggedError<LeaderElectionConfigError>()(
  "LeaderElectionConfigError",
  { problems: Schema.Array(Schema.String) }
) {
  override get message(): string {
    return `leader election: ${this.problems.join("; ")}`
  }
}

/** We held the Lease and no longer do: whatever ran under it has been stopped. */
export class LeadershipLost extends Schema.TaggedError<LeadershipLost>()("LeadershipLost", {
  /** `namespace/name` of the Lease. */
  lease: Schema.String,
  identity: Schema.String,
  reason: Schema.Literals(["RenewDeadlineExceeded", "TakenOver"]),
  detail: Schema.String
}) {
  override get message(): string {
    return `lost leadership of lease ${this.lease} as ${this.identity}: ${this.reason}: ${this.detail}`
  }
}

/** The fields of `LeaseSpec` leader election reads and writes; the server keeps any others. */
const LeaseSpec = Schema.Struct({
  holderIdentity: Schema.optionalKey(Schema.String),
  leaseDurationSeconds: Schema.optionalKey(Schema.Number),
  acquireTime: Schema.optionalKey(Schema.String),
  renewTime: Schema.optionalKey(Schema.String),
  leaseTransitions: Schema.optionalKey(Schema.Number)
})
type LeaseSpec = typeof LeaseSpec.Type

const decodeSpec = Schema.decodeUnknownOption(LeaseSpec)

/**
 * MicroTime as the API server writes it: RFC 3339 with exactly six fractional digits. Our clock
 * has milliseconds, so the last three digits are zero.
 */
export const microTime = (millis: number): string => new Date(millis).toISOString().replace(/Z$/, "000Z")

/** `base` plus a random suffix, so a restarted pod with the same name is a new candidate. */
export const makeIdentity = (base: string): Effect.Effect<string> =>
  Effect.map(Random.nextIntBetween(0, 36 ** 6 - 1), (n) => `${base}_${n.toString(36).padStart(6, "0")}`)

/** What one attempt at the Lease found. Failures are data: the loops decide what they mean. */
type Attempt =
  | { readonly _tag: "Acquired" }
  | { readonly _tag: "Renewed" }
  | { readonly _tag: "HeldByOther"; readonly holder: string }
  | { readonly _tag: "Failed"; readonly error: KubeApiError }

/** The Lease as we last saw it, and since when (our clock) its record has looked like this. */
interface Observation {
  readonly lease: KubeObject
  readonly spec: LeaseSpec
  readonly since: number
}

export interface LeaderElectionShape {
  readonly identity: string
  /** `namespace/name` of the Lease. */
  readonly lease: string
  /** Whether we hold the Lease right now (false as soon as a renewal deadline passes). */
  readonly isLeader: Effect.Effect<boolean>
  /** The current value, then every change: for a metric or a log line. */
  readonly changes: Stream.Stream<boolean>
  /**
   * Wait until we hold the Lease, then run `work` while renewing it. If renewal fails past
   * renewDeadline or someone else takes the Lease, `work` is interrupted (and has stopped) before
   * this fails with `LeadershipLost`. However it ends - work done, failed, interrupted - the
   * Lease is released afterwards (unless `releaseOnCancel: false`). Calls run one at a time.
   */
  readonly runWhileLeader: <A, E, R>(work: Effect.Effect<A, E, R>) => Effect.Effect<A, E | LeadershipLost, R>
}

export class LeaderElection extends Context.Service<LeaderElection, LeaderElectionShape>()(
  "api-controller/k8s/LeaderElection"
) {
  static readonly layer = (
    config: LeaderElectionConfig
  ): Layer.Layer<LeaderElection, LeaderElectionConfigError, KubeApi> => Layer.effect(LeaderElection, make(config))

  /**
   * Leader election switched off (a single replica, or a local run): always the leader, and
   * `runWhileLeader` is just the work.
   */
  static readonly layerAlwaysLeader = (identity = "single"): Layer.Layer<LeaderElection> =>
    Layer.succeed(LeaderElection, LeaderElection.of({
      identity,
      lease: "",
      isLeader: Effect.succeed(true),
      changes: Stream.succeed(true),
      runWhileLeader: (work) => work
    }))
}

/**
 * The same two rules client-go enforces on lease timings: the leader must give up before others
 * may take over, and it must get more than one (jittered) attempt at renewing before it gives up.
 * The one place they are written; the command line checks its flags with it too.
 */
export const leaseTimingProblems = (
  leaseMillis: number,
  renewMillis: number,
  retryMillis: number,
  jitterFactor: number = DEFAULT_JITTER_FACTOR
): ReadonlyArray<string> => [
  ...(leaseMillis <= renewMillis ? [`leaseDuration (${leaseMillis}ms) must be greater than renewDeadline (${renewMillis}ms)`] : []),
  ...(renewMillis <= retryMillis * Math.max(1, jitterFactor)
    ? [`renewDeadline (${renewMillis}ms) must be greater than retryPeriod * jitterFactor (${retryMillis}ms * ${Math.max(1, jitterFactor)})`]
    : [])
]

interface Timings {
  readonly leaseMillis: number
  readonly renewMillis: number
  readonly retryMillis: number
  readonly jitterFactor: number
}

const validate = (config: LeaderElectionConfig): Effect.Effect<Timings, LeaderElectionConfigError> => {
  const problems: Array<string> = []
  const millis = (key: string, input: Duration.Input | undefined, fallback: Duration.Duration): number => {
    const d = input === undefined ? Option.some(fallback) : Duration.fromInput(input)
    if (Option.isNone(d) || !Duration.isFinite(d.value) || !Duration.isPositive(d.value)) {
      problems.push(`${key} must be a positive, finite duration`)
      return NaN
    }
    return Duration.toMillis(d.value)
  }
  const leaseMillis = millis("leaseDuration", config.leaseDuration, DEFAULT_LEASE_DURATION)
  const renewMillis = millis("renewDeadline", config.renewDeadline, DEFAULT_RENEW_DEADLINE)
  const retryMillis = millis("retryPeriod", config.retryPeriod, DEFAULT_RETRY_PERIOD)
  const jitterFactor = config.jitterFactor ?? DEFAULT_JITTER_FACTOR
  if (!(jitterFactor >= 0)) problems.push(`jitterFactor must be >= 0, got ${jitterFactor}`)
  if (config.identity === "") problems.push("identity must not be empty")
  if (config.name === "") problems.push("lease name must not be empty")
  if (config.namespace === "") problems.push("lease namespace must not be empty")
  // Only between durations that are themselves valid: one bad value should make one line, not three.
  const comparable = [leaseMillis, renewMillis, retryMillis, jitterFactor].every(Number.isFinite)
  if (comparable) problems.push(...leaseTimingProblems(leaseMillis, renewMillis, retryMillis, jitterFactor))
  return problems.length > 0
    ? Effect.fail(new LeaderElectionConfigError({ problems }))
    : Effect.succeed({ leaseMillis, renewMillis, retryMillis, jitterFactor })
}

/** A leader elector for one Lease and one identity. Needs `KubeApi`; starts nothing until used. */
export const make = Effect.fn("LeaderElection.make")(function*(config: LeaderElectionConfig) {
  const timings = yield* validate(config)
  const kube = yield* KubeApi
  // Where the app has one, an API server that does not answer is said there, once for all (ServerOutage.ts).
  const outage = yield* Effect.serviceOption(ServerOutage)
  const waiter = { informer: "lease" } as const
  /** Says a failed lease request: once through ServerOutage when the server did not answer, else as a warning. */
  const failed = (message: string, error: KubeApiError | undefined, detail: Record<string, unknown> = {}) =>
    Option.isSome(outage) && (error === undefined || !error.answered)
      ? Effect.andThen(outage.value.unanswered(waiter, { message: error?.message ?? "timed out" }), Effect.logDebug(message, detail))
      : Effect.logWarning(message, detail)
  const succeeded = Option.isSome(outage) ? outage.value.answered(waiter) : Effect.void
  const { namespace, name, identity } = config
  const releaseOnCancel = config.releaseOnCancel ?? true
  const leaseKey = `${namespace}/${name}`
  const leaseSeconds = Math.ceil(timings.leaseMillis / 1000)

  const leader = yield* SubscriptionRef.make(false)
  const oneAtATime = yield* Semaphore.make(1)
  let observed: Observation | undefined

  const setLeader = (value: boolean) =>
    Effect.flatMap(
      SubscriptionRef.get(leader),
      (was) => (was === value ? Effect.void : SubscriptionRef.set(leader, value))
    )

  const specOf = (lease: KubeObject): LeaseSpec =>
    // The API server validates LeaseSpec's types, so a spec we cannot read is one we never see;
    // treating it as empty (free) is what client-go does with a missing record.
    Option.getOrElse(decodeSpec(lease["spec"] ?? {}), (): LeaseSpec => ({}))

  /**
   * Remember the Lease. `since` moves only when the record changed (client-go compares the raw
   * record): that moment on our clock is where the holder's lease duration starts counting.
   */
  const observe = (lease: KubeObject, now: number, wrote: boolean) => {
    const spec = specOf(lease)
    const before = observed
    observed = wrote || before === undefined || !jsonEqual(before.spec, spec)
      ? { lease, spec, since: now }
      : { ...before, lease }
    const holder = spec.holderIdentity ?? ""
    // Only news from others is worth a line; our own writes have their own.
    return !wrote && holder !== (before?.spec.holderIdentity ?? "") && holder !== identity
      ? Effect.logInfo(holder === "" ? "lease released by its holder" : "new leader observed", { holder })
      : Effect.void
  }

  /** The record we write: ours now; acquireTime and transitions carried over only on a renewal. */
  const ourSpec = (previous: LeaseSpec, now: number): LeaseSpec => {
    const renewing = previous.holderIdentity === identity
    return {
      ...previous,
      holderIdentity: identity,
      leaseDurationSeconds: leaseSeconds,
      acquireTime: renewing && previous.acquireTime !== undefined ? previous.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (previous.leaseTransitions ?? 0) + (renewing ? 0 : 1)
    }
  }

  const withSpec = (lease: KubeObject, spec: LeaseSpec): KubeObject => ({ ...lease, spec })

  const create = Effect.fn("LeaderElection.create")(function*(now: number) {
    const created = yield* Effect.result(kube.create(Kinds.Lease, {
      apiVersion: apiVersionOf(Kinds.Lease),
      kind: Kinds.Lease.kind,
      metadata: { name, namespace },
      spec: {
        holderIdentity: identity,
        leaseDurationSeconds: leaseSeconds,
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: 0
      }
    }))
    // AlreadyExists: another candidate created it first; we read it at the next attempt.
    if (created._tag === "Failure") return { _tag: "Failed", error: created.failure } as const
    yield* observe(created.success, now, true)
    return { _tag: "Acquired" } as const
  })

  /** One read-decide-write round, client-go's tryAcquireOrRenew. */
  const tryAcquireOrRenew = Effect.fn("LeaderElection.tryAcquireOrRenew")(function*() {
    const now = yield* Clock.currentTimeMillis
    const wasLeader = yield* SubscriptionRef.get(leader)

    // Fast path while leading: write over what we wrote last time, no read. If anyone else wrote
    // in between, the stale resourceVersion makes this a 409 and we fall back to reading.
    const last = observed
    if (wasLeader && last !== undefined && last.spec.holderIdentity === identity) {
      const renewed = yield* Effect.result(kube.replace(Kinds.Lease, withSpec(last.lease, ourSpec(last.spec, now))))
      if (renewed._tag === "Success") {
        yield* observe(renewed.success, now, true)
        return { _tag: "Renewed" } as Attempt
      }
    }

    const got = yield* Effect.result(kube.get(Kinds.Lease, namespace, name))
    if (got._tag === "Failure") {
      return got.failure.reason === "NotFound" ? yield* create(now) : { _tag: "Failed", error: got.failure } as Attempt
    }
    yield* observe(got.success, now, false)
    const current = observed!
    const holder = current.spec.holderIdentity ?? ""
    if (holder !== "" && holder !== identity) {
      // The holder's own duration: it promised to renew within it. Ours only if it wrote none.
      const holderMillis = (current.spec.leaseDurationSeconds ?? 0) > 0
        ? current.spec.leaseDurationSeconds! * 1000
        : timings.leaseMillis
      if (now < current.since + holderMillis) return { _tag: "HeldByOther", holder } as Attempt
    }
    // Free, ours, or expired: write with the resourceVersion we read, so a race is a 409 we lose.
    const written = yield* Effect.result(kube.replace(Kinds.Lease, withSpec(current.lease, ourSpec(current.spec, now))))
    if (written._tag === "Failure") return { _tag: "Failed", error: written.failure } as Attempt
    yield* observe(written.success, now, true)
    return (holder === identity ? { _tag: "Renewed" } : { _tag: "Acquired" }) as Attempt
  })

  const jittered = Effect.map(
    Random.next,
    (r) => Duration.millis(Math.round(timings.retryMillis * (1 + r * timings.jitterFactor)))
  )

  /** Try until we hold the Lease. Returns the time (our clock) the winning attempt started. */
  const acquire = Effect.fn("LeaderElection.acquire")(function*() {
    yield* Effect.logDebug("waiting for leadership")
    while (true) {
      const start = yield* Clock.currentTimeMillis
      const attempt = yield* tryAcquireOrRenew()
      if (attempt._tag !== "Failed") yield* succeeded
      if (attempt._tag === "Acquired" || attempt._tag === "Renewed") {
        yield* setLeader(true)
        const transitions = observed?.spec.leaseTransitions ?? 0
        yield* Effect.logInfo("became leader", { transitions })
        return start
      }
      // A lost race (409) is the normal way to lose; anything else is worth a line.
      const lostRace = attempt._tag === "Failed" &&
        (attempt.error.reason === "Conflict" || attempt.error.reason === "AlreadyExists")
      if (attempt._tag === "Failed" && !lostRace) {
        yield* failed("could not read or write the lease", attempt.error, { error: attempt.error.message })
      }
      yield* Effect.sleep(yield* jittered)
    }
  })

  const lost = (reason: LeadershipLost["reason"], detail: string) =>
    setLeader(false).pipe(
      Effect.andThen(Effect.logWarning("lost leadership", { reason, detail })),
      Effect.andThen(Effect.fail(new LeadershipLost({ lease: leaseKey, identity, reason, detail })))
    )

  /**
   * Renew every retryPeriod until it fails for renewDeadline. The deadline counts from when the
   * last successful renewal STARTED: the server may have committed it at any point after that, so
   * that is the earliest any follower can have started counting its lease duration.
   */
  const renew = Effect.fn("LeaderElection.renew")(function*(acquiredAt: number) {
    let lastRenewal = acquiredAt
    let lastError = ""
    let wait = timings.retryMillis
    while (true) {
      yield* Effect.sleep(Duration.millis(wait))
      const start = yield* Clock.currentTimeMillis
      const left = lastRenewal + timings.renewMillis - start
      // A request that hangs must not carry us past the deadline.
      const attempt = left > 0 ? yield* Effect.timeoutOption(tryAcquireOrRenew(), Duration.millis(left)) : Option.none()
      if (Option.isSome(attempt) && attempt.value._tag !== "Failed") yield* succeeded
      if (Option.isSome(attempt) && (attempt.value._tag === "Renewed" || attempt.value._tag === "Acquired")) {
        lastRenewal = start
        wait = timings.retryMillis
        continue
      }
      if (Option.isSome(attempt) && attempt.value._tag === "HeldByOther") {
        return yield* lost("TakenOver", `lease now held by ${attempt.value.holder}`)
      }
      const now = yield* Clock.currentTimeMillis
      const remaining = lastRenewal + timings.renewMillis - now
      if (left > 0) {
        lastError = Option.isSome(attempt) && attempt.value._tag === "Failed"
          ? attempt.value.error.message
          : "timed out"
      }
      if (remaining <= 0) {
        return yield* lost("RenewDeadlineExceeded", `no renewal for ${now - lastRenewal}ms (last error: ${lastError})`)
      }
      const error = Option.isSome(attempt) && attempt.value._tag === "Failed" ? attempt.value.error : undefined
      yield* failed("lease renewal failed; retrying", error, { error: lastError, remainingMillis: remaining })
      // Retry on schedule, but wake up at the deadline rather than after it.
      wait = Math.min(timings.retryMillis, remaining)
    }
  })

  /**
   * Hand the Lease over: holderIdentity "" lets any candidate take it at its next attempt,
   * instead of waiting a lease duration. Written over the resourceVersion we last wrote, so if
   * someone took it meanwhile this is a 409 and changes nothing. Best effort and bounded: if the
   * API server does not answer, the Lease simply expires.
   */
  const release = Effect.fn("LeaderElection.release")(function*() {
    const wasLeader = yield* SubscriptionRef.get(leader)
    yield* setLeader(false)
    const last = observed
    if (!wasLeader || !releaseOnCancel || last === undefined || last.spec.holderIdentity !== identity) return
    const now = yield* Clock.currentTimeMillis
    const spec: LeaseSpec = {
      ...last.spec,
      holderIdentity: "",
      leaseDurationSeconds: 1,
      acquireTime: microTime(now),
      renewTime: microTime(now)
    }
    const written = yield* kube.replace(Kinds.Lease, withSpec(last.lease, spec)).pipe(
      Effect.timeoutOption(Duration.millis(timings.renewMillis)),
      Effect.result
    )
    if (written._tag === "Success" && Option.isSome(written.success)) {
      yield* observe(written.success.value, now, true)
      yield* Effect.logInfo("released the lease")
    } else {
      const why = written._tag === "Failure" ? written.failure.message : "timed out"
      yield* Effect.logWarning("could not release the lease; it will expire", { error: why })
    }
  })

  // On the elector's own log lines only; the work's lines stay as the caller annotates them.
  const annotate = Effect.annotateLogs({ lease: leaseKey, identity })

  const runWhileLeader = <A, E, R>(work: Effect.Effect<A, E, R>): Effect.Effect<A, E | LeadershipLost, R> =>
    acquire().pipe(
      annotate,
      // raceFirst interrupts the loser and waits for it: when LeadershipLost comes out, the work
      // has stopped; when the work ends, renewals have stopped.
      Effect.flatMap((acquiredAt) => Effect.raceFirst(work, annotate(renew(acquiredAt)))),
      // Installed before acquiring, so an interrupt right after a successful write still releases.
      Effect.ensuring(annotate(release())),
      Effect.withSpan("LeaderElection.runWhileLeader"),
      oneAtATime.withPermits(1)
    )

  return LeaderElection.of({
    identity,
    lease: leaseKey,
    isLeader: SubscriptionRef.get(leader),
    changes: SubscriptionRef.changes(leader),
    runWhileLeader
  })
})
