/**
 * One Api's lifecycle as data (src/visual/ApiView.ts), which the web view and `describe` both
 * render: the spec in a few words with authentication as the plan decides it (SPEC 4), each
 * machine's state and code under the catalog's headings, and a timeline that folds the Events
 * reporting a kept transition into it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { decodeSpec } from "../../src/domain/Api.ts"
import { authenticationPlan } from "../../src/plan/AuthenticationPlan.ts"
import { apiView, machineColumns, parseReason, specSummary, timelineOf } from "../../src/visual/ApiView.ts"
import { catalog, MACHINE_NAMES } from "../../machines/Catalog.ts"
import { api, blockedStatus, createdStatus, event } from "./ApiFixtures.ts"
import { testConfig } from "../support/Fixtures.ts"

const service = { name: "orders", port: 8080 }
const jwt = (issuer: string, triggerRule?: unknown) => ({ issuer, jwksUri: `${issuer}/keys`, ...(triggerRule !== undefined ? { triggerRule } : {}) })

describe("an Api as the views show it", () => {
  it("summarises the spec's authentication as SPEC 4 decides it", () => {
    const summary = (spec: Record<string, unknown>) => specSummary({ service, hostname: "orders", ...spec })
    assert.strictEqual(summary({}).authentication, "off (no rules)")
    assert.isUndefined(summary({}).mtls, "no authentication, no peer authentication")
    assert.strictEqual(
      summary({ authenticationEnabled: true }).authentication,
      "JWT with the controller's default issuer (authenticationEnabled: true, no rules)"
    )
    assert.deepStrictEqual(summary({ authenticationEnabled: true }).issuers, [])
    assert.strictEqual(
      summary({ authenticationEnabled: false, authentication: [{ type: "JWT", jwt: jwt("https://i") }] }).authentication,
      "off (authenticationEnabled: false; 1 rule(s) ignored)"
    )
    const two = summary({
      authentication: [
        { type: "JWT", jwt: jwt("https://a", { excludedPaths: [{ exact: "/status" }, { prefix: "/web" }] }) },
        { type: "JWT", jwt: jwt("https://b") }
      ],
      disableIstioAuthPolicyMTLS: true
    })
    assert.strictEqual(two.service, "orders:8080")
    assert.strictEqual(two.authentication, "JWT, 2 rule(s): https://a, https://b; 2 path(s) need no token")
    assert.deepStrictEqual(two.issuers, ["https://a", "https://b"])
    assert.strictEqual(two.mtls, "peer mTLS off for this Api")
    assert.strictEqual(summary({ authentication: [{ type: "JWT", jwt: jwt("https://a") }] }).mtls, "peer mTLS as configured")
  })

  it("calls authentication on exactly when the plan does: a rule that is not a JWT rule turns nothing on", () => {
    const specs = [
      {},
      { authenticationEnabled: true },
      { authenticationEnabled: false },
      { authenticationEnabled: false, authentication: [{ type: "JWT", jwt: jwt("https://a") }] },
      { authentication: [{ type: "JWT", jwt: jwt("https://a") }] },
      { authentication: [{ type: "OAuth", jwt: jwt("https://a") }] },
      { authentication: [{ type: "JWT" }] },
      { authenticationEnabled: true, authentication: [{ type: "OAuth" }] }
    ].map((s) => ({ service, hostname: "orders", ...s }))
    for (const spec of specs) {
      const decoded = decodeSpec(spec)
      assert.isTrue(Result.isSuccess(decoded), JSON.stringify(spec))
      const on = authenticationPlan(Result.getOrThrow(decoded), testConfig) !== undefined
      assert.strictEqual(!specSummary(spec).authentication.startsWith("off"), on, JSON.stringify(spec))
    }
    assert.strictEqual(specSummary(specs[5]).authentication, "off (no rules)")
  })

  it("still describes a spec that does not decode: what is written, and no authentication", () => {
    const bad = specSummary({ service: { name: "Orders!", port: 80 }, hostname: "orders" })
    assert.strictEqual(bad.service, "Orders!:80")
    assert.strictEqual(bad.authentication, "none: the spec is invalid (see validation)")
    assert.strictEqual(specSummary("nonsense").service, "?:?")
  })

  it("reads each machine's state and code from the status, in the catalog's order and under its headings", () => {
    assert.deepStrictEqual(machineColumns.map((c) => c.machine), MACHINE_NAMES)
    assert.deepStrictEqual(machineColumns.map((c) => c.title), ["Validation", "Authentication", "VirtualService"])
    const view = apiView(api(blockedStatus))
    assert.deepStrictEqual(
      view.machines.map((m) => [m.machine, m.title, m.state, m.code, m.off]),
      [
        ["validation", "Validation", "Valid", 2, false],
        ["authentication", "Authentication", "Disabled", undefined, true],
        ["virtualService", "VirtualService", "HostnameOccupied", 4, false]
      ]
    )
    assert.deepStrictEqual(view.machines.map((m) => m.statusField), MACHINE_NAMES.map((n) => catalog[n].statusField))
    assert.match(view.machines[2]!.lastError ?? "", /other\/holder/)
    assert.strictEqual(view.ready?.reason, "HostnameOccupied")
    // No status yet: every machine in its initial state; only authentication is off by it.
    const fresh = apiView(api(undefined)).machines
    assert.deepStrictEqual(fresh.map((m) => [m.state, m.off]), [["Pending", false], ["Disabled", true], ["NotCreated", false]])
  })

  it("folds an Event into the transition it reports, keeps the others, oldest first", () => {
    const events = [
      event("HostnameOccupied", "2026-05-01T10:00:02Z", "hostname orders.kyma.local is already used by VirtualService other/holder"),
      // older than anything the status kept
      event("InvalidSpec", "2026-05-01T09:00:00Z", "an earlier incarnation's story"),
      event("Ready", "2026-05-01T10:05:02Z", "exposed without authentication", { count: 3 }),
      // another object's Event, and an Event of a deleted Api of the same name
      event("Ready", "2026-05-01T10:00:01Z", "x", { involvedObject: { kind: "Api", name: "billing", namespace: "shop" } }),
      event("Ready", "2026-05-01T10:00:01Z", "y", { involvedObject: { kind: "Api", name: "orders", namespace: "shop", uid: "old" } })
    ]
    const timeline = timelineOf(api(createdStatus), events)
    assert.deepStrictEqual(
      timeline.map((t) => [t.at, t.machine, t.from, t.to, t.reason, t.source]),
      [
        ["2026-05-01T09:00:00Z", "validation", undefined, "Invalid", undefined, "event"],
        ["2026-05-01T10:00:01Z", "validation", "Pending", "Valid", undefined, "status"],
        ["2026-05-01T10:00:01Z", "virtualService", "NotCreated", "HostnameOccupied", undefined, "both"],
        ["2026-05-01T10:05:01Z", "virtualService", "HostnameOccupied", "InProgress", undefined, "status"],
        ["2026-05-01T10:05:02Z", "virtualService", "InProgress", "Created", undefined, "status"],
        ["2026-05-01T10:05:02Z", undefined, undefined, undefined, "Ready", "event"]
      ]
    )
    assert.strictEqual(timeline[2]!.type, "Warning")
    assert.strictEqual(timeline[5]!.count, 3)
  })

  it("an Event is folded only into a transition a few seconds from it", () => {
    const far = timelineOf(api(blockedStatus), [event("HostnameOccupied", "2026-05-01T11:00:00Z", "again")])
    assert.deepStrictEqual(far.map((t) => t.source), ["status", "status", "event"])
  })

  it("reads the reconciler's Event reasons: a failed state's Ready reason names its machine and state", () => {
    assert.deepStrictEqual(parseReason("InvalidSpec"), { machine: "validation", to: "Invalid" })
    assert.deepStrictEqual(parseReason("TargetServiceOccupied"), { machine: "validation", to: "TargetServiceOccupied" })
    assert.deepStrictEqual(parseReason("HostnameOccupied"), { machine: "virtualService", to: "HostnameOccupied" })
    assert.deepStrictEqual(parseReason("AuthenticationFailed"), { machine: "authentication", to: "Error" })
    assert.isUndefined(parseReason("Ready"))
    assert.isUndefined(parseReason("Scheduled"))
  })
})
