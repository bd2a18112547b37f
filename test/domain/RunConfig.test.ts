/**
 * `api-controller run`'s flags and environment, decoded as one Schema (src/cli/RunConfig.ts):
 * every problem of either at once, one line each, and the lease timings checked by the same rule
 * leader election enforces.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { decodeRunConfig, parseDuration, type RunFlagValues } from "../../src/cli/RunConfig.ts"
import { formatProblem } from "../../src/domain/Problems.ts"
import { testEnv } from "../support/Fixtures.ts"

const flags: RunFlagValues = {
  workers: 2,
  resyncPeriod: "10m",
  healthPort: 8081,
  webPort: undefined,
  leaderElect: false,
  leaseDuration: "15s",
  renewDeadline: "10s",
  retryPeriod: "2s"
}

const problems = (env: Record<string, string>, over: Partial<RunFlagValues> = {}) => {
  const r = decodeRunConfig(env, { ...flags, ...over })
  return Result.isFailure(r) ? r.failure.map(formatProblem) : []
}

describe("run's configuration: flags and environment as one Schema", () => {
  it("good flags and environment give the controller's configuration and the run options", () => {
    const r = decodeRunConfig(testEnv, flags)
    assert.isTrue(Result.isSuccess(r))
    if (Result.isSuccess(r)) {
      assert.strictEqual(r.success.config.domainName, "kyma.local")
      assert.deepStrictEqual([r.success.workers, r.success.resyncMillis, r.success.leaseMillis], [2, 600_000, 15_000])
      assert.isFalse(r.success.leaderElect)
    }
  })

  it("a bad variable and bad flags are reported together, one line each", () => {
    assert.deepStrictEqual(problems({ ...testEnv, DOMAIN_NAME: "kyma local" }, { workers: 0, resyncPeriod: "soon", healthPort: 70_000 }), [
      "DOMAIN_NAME: expected a DNS domain such as kyma.local, got \"kyma local\"",
      "--workers: expected at least 1, got 0",
      "--resync-period: expected a duration such as 30s, 10m or 1h, got \"soon\"",
      "--health-port: expected 0-65535, got 70000"
    ])
  })

  it("LEADER_ELECT=true turns leader election on, and then the lease timings must make sense", () => {
    const r = decodeRunConfig({ ...testEnv, LEADER_ELECT: "true" }, flags)
    assert.isTrue(Result.isSuccess(r) && r.success.leaderElect)
    assert.deepStrictEqual(problems({ ...testEnv, LEADER_ELECT: "true" }, { leaseDuration: "5s", renewDeadline: "10s" }), [
      "--lease-duration, --renew-deadline, --retry-period: leaseDuration (5000ms) must be greater than renewDeadline (10000ms)"
    ])
    assert.deepStrictEqual(problems(testEnv, { leaseDuration: "5s", renewDeadline: "10s" }), [], "without leader election they are not used")
  })

  it("durations read as Kubernetes users write them", () => {
    assert.deepStrictEqual(["15s", "2m", "1h30m", "500ms", "30"].map(parseDuration), [15_000, 120_000, 5_400_000, 500, 30_000])
    assert.deepStrictEqual(["", "soon", "10 s", "1d"].map(parseDuration), [undefined, undefined, undefined, undefined])
  })
})
