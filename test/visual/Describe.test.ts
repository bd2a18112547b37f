/**
 * The describe formatter (src/visual/Describe.ts) and the diagram command's output, without a
 * cluster: the spec in a few words, each machine's state and code, the children, Ready, and a
 * timeline that folds the Events reporting a kept transition into it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Option } from "effect"
import type { KubeObject } from "../../src/domain/Kube.ts"
import { diagramOutput } from "../../src/cli/Diagram.ts"
import { parseApiRef } from "../../src/cli/Describe.ts"
import { age, apiView, describeText, parseReason, specSummary, terminalSafe, timelineOf } from "../../src/visual/Describe.ts"

const uid = "11111111-2222-3333-4444-555555555555"

const api = (status: unknown, spec: unknown = { service: { name: "orders", port: 8080 }, hostname: "orders" }): KubeObject => ({
  apiVersion: "gateway.kyma-project.io/v1alpha2",
  kind: "Api",
  metadata: { name: "orders", namespace: "shop", uid, generation: 2, creationTimestamp: "2026-05-01T10:00:00Z" },
  spec,
  status
})

const blockedStatus = {
  validationStatus: 2,
  virtualService: { code: 4, lastError: "hostname orders.kyma.local is already used by VirtualService other/holder" },
  observedGeneration: 2,
  conditions: [{
    type: "Ready",
    status: "False",
    reason: "HostnameOccupied",
    message: "hostname orders.kyma.local is already used by VirtualService other/holder",
    lastTransitionTime: "2026-05-01T10:00:01Z",
    observedGeneration: 2
  }],
  transitions: [
    { machine: "validation", from: "Pending", to: "Valid", at: "2026-05-01T10:00:01Z" },
    {
      machine: "virtualService",
      from: "NotCreated",
      to: "HostnameOccupied",
      at: "2026-05-01T10:00:01Z",
      message: "hostname orders.kyma.local is already used by VirtualService other/holder"
    }
  ]
}

const createdStatus = {
  ...blockedStatus,
  virtualService: { code: 2, resource: { name: "orders", uid: "vs-uid", version: "812" } },
  conditions: [{ ...blockedStatus.conditions[0], status: "True", reason: "Ready", message: "exposed without authentication", lastTransitionTime: "2026-05-01T10:05:02Z" }],
  transitions: [
    ...blockedStatus.transitions,
    { machine: "virtualService", from: "HostnameOccupied", to: "InProgress", at: "2026-05-01T10:05:01Z" },
    { machine: "virtualService", from: "InProgress", to: "Created", at: "2026-05-01T10:05:02Z" }
  ]
}

let eventCounter = 0
const event = (reason: string, at: string, message: string, overrides: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "Event",
  metadata: { name: `orders.${eventCounter++}`, namespace: "shop" },
  involvedObject: { apiVersion: "gateway.kyma-project.io/v1alpha2", kind: "Api", name: "orders", namespace: "shop", uid },
  reason,
  message,
  type: /Occupied|Error|Failed|Invalid/.test(reason) ? "Warning" : "Normal",
  firstTimestamp: at,
  lastTimestamp: at,
  count: 1,
  ...overrides
})

const virtualService = (owned: boolean): KubeObject => ({
  apiVersion: "networking.istio.io/v1alpha3",
  kind: "VirtualService",
  metadata: {
    name: "orders",
    namespace: "shop",
    uid: "vs-uid",
    resourceVersion: "812",
    ...(owned
      ? { ownerReferences: [{ apiVersion: "gateway.kyma-project.io/v1alpha2", kind: "Api", name: "orders", uid, controller: true }] }
      : {})
  },
  spec: { hosts: ["orders.kyma.local"], gateways: ["kyma-gateway"] }
})

const policy: KubeObject = {
  apiVersion: "authentication.istio.io/v1alpha1",
  kind: "Policy",
  metadata: {
    name: "orders",
    namespace: "shop",
    uid: "p-uid",
    resourceVersion: "813",
    labels: { createdBy: "api-controller", apiName: "orders", apiNamespace: "shop", apiUid: uid }
  },
  spec: { origins: [{ jwt: { issuer: "https://accounts.google.com", jwksUri: "https://x" } }, { jwt: { issuer: "https://dex" } }] }
}

describe("describe formatter", () => {
  it("summarises the spec as SPEC 4 decides authentication", () => {
    assert.strictEqual(specSummary({ service: { name: "a", port: 80 }, hostname: "a" }).authentication, "off (no rules)")
    assert.match(specSummary({ authenticationEnabled: true }).authentication, /default issuer/)
    assert.match(
      specSummary({ authenticationEnabled: false, authentication: [{ type: "JWT", jwt: { issuer: "https://i" } }] }).authentication,
      /^off \(authenticationEnabled: false; 1 rule\(s\) ignored\)$/
    )
    const two = specSummary({
      service: { name: "orders", port: 8080 },
      authentication: [
        { type: "JWT", jwt: { issuer: "https://a", triggerRule: { excludedPaths: [{ exact: "/status" }, { prefix: "/web" }] } } },
        { type: "JWT", jwt: { issuer: "https://b" } }
      ],
      disableIstioAuthPolicyMTLS: true
    })
    assert.strictEqual(two.service, "orders:8080")
    assert.strictEqual(two.authentication, "JWT, 2 rule(s): https://a, https://b; 2 path(s) need no token")
    assert.deepStrictEqual(two.issuers, ["https://a", "https://b"])
    assert.strictEqual(two.mtls, "peer mTLS off for this Api")
    // A malformed spec is still described, not thrown on.
    assert.strictEqual(specSummary("nonsense").service, "?:?")
  })

  it("reads each machine's state and code from the status, and Ready", () => {
    const view = apiView(api(blockedStatus))
    assert.deepStrictEqual(
      view.machines.map((m) => [m.machine, m.state, m.code]),
      [["validation", "Valid", 2], ["authentication", "Disabled", undefined], ["virtualService", "HostnameOccupied", 4]]
    )
    assert.match(view.machines[2]!.lastError ?? "", /other\/holder/)
    assert.strictEqual(view.ready?.reason, "HostnameOccupied")
    // No status yet: every machine in its initial state.
    assert.deepStrictEqual(apiView(api(undefined)).machines.map((m) => m.state), ["Pending", "Disabled", "NotCreated"])
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

  it("prints spec, Ready, machines, children and the timeline as aligned text", () => {
    const now = Date.parse("2026-05-01T10:07:02Z")
    const text = describeText({
      api: api(createdStatus, {
        service: { name: "orders", port: 8080 },
        hostname: "orders",
        authentication: [{ type: "JWT", jwt: { issuer: "https://accounts.google.com" } }]
      }),
      children: [virtualService(true), policy],
      events: [event("Ready", "2026-05-01T10:05:02Z", "exposed without authentication")],
      now
    })
    const lines = text.split("\n")
    const has = (pattern: RegExp) => assert.isTrue(lines.some((l) => pattern.test(l)), `no line matches ${pattern}:\n${text}`)
    has(/^Api:\s+shop\/orders$/)
    has(/^Created:\s+2026-05-01T10:00:00Z \(7m2s ago\)$/)
    has(/^Generation:\s+2 \(status is current\)$/)
    has(/^ {2}service:\s+orders:8080$/)
    has(/^ {2}authentication:\s+JWT, 1 rule\(s\): https:\/\/accounts\.google\.com$/)
    has(/^Ready:\s+True {2}Ready: exposed without authentication {2}\(since 2026-05-01T10:05:02Z, 2m ago\)$/)
    has(/^ {2}MACHINE\s+STATE\s+CODE\s+FIELD\s+LAST ERROR$/)
    has(/^ {2}virtualService\s+Created\s+2\s+status\.virtualService\.code$/)
    has(/^ {2}authentication\s+Disabled\s+-\s+status\.authenticationStatus\.code\s+\(not reported: authentication off\)$/)
    has(/^ {2}VirtualService\s+orders\s+vs-uid\s+812\s+this Api\s+hosts: orders\.kyma\.local$/)
    has(/^ {2}Policy\s+orders\s+p-uid\s+813\s+this Api\s+origins: https:\/\/accounts\.google\.com, https:\/\/dex$/)
    has(/^ {2}2m\s+2026-05-01T10:05:02Z\s+virtualService\s+InProgress -> Created\s+status$/)
    has(/^ {2}2m\s+2026-05-01T10:05:02Z\s+-\s+Ready\s+event\s+exposed without authentication$/)
    has(/^ {2}7m1s\s+2026-05-01T10:00:01Z\s+virtualService\s+NotCreated -> HostnameOccupied\s+status\s+hostname orders\.kyma\.local is already used by VirtualService other\/holder$/)
    // Columns line up: every timeline row starts its TIME column at the header's offset.
    const header = lines.findIndex((l) => /^ {2}AGE\s+TIME/.test(l))
    const timeColumn = lines[header]!.indexOf("TIME")
    for (const row of lines.slice(header + 1).filter((l) => l.startsWith("  ") && l.trim() !== "")) {
      assert.match(row.slice(timeColumn), /^2026-/, row)
    }
  })

  it("says what is missing: no children, a foreign child, unreadable Events, no status yet", () => {
    const text = describeText({ api: api(undefined), children: [virtualService(false)], events: { error: "events is forbidden" } })
    assert.match(text, /Generation:\s+2 \(not reconciled yet\)/)
    assert.match(text, /Ready:\s+Unknown \(no condition yet\)/)
    assert.match(text, /VirtualService\s+orders\s+vs-uid\s+812\s+NOT this Api/)
    assert.match(text, /Policy\s+\(none\)/)
    assert.match(text, /\(Events could not be read: events is forbidden\)/)
    assert.match(text, /\(nothing yet\)/)
    assert.notMatch(text, /AGE/, "no AGE column without a clock")
  })

  it("ages read like kubectl's", () => {
    const t0 = Date.parse("2026-05-01T00:00:00Z")
    const at = (s: number) => new Date(t0 - s * 1000).toISOString()
    assert.deepStrictEqual(
      [5, 65, 600, 3600, 3660, 86400, 90000].map((s) => age(at(s), t0)),
      ["5s", "1m5s", "10m", "1h", "1h1m", "1d", "1d1h"]
    )
  })
})

describe("describe and diagram command lines", () => {
  it("describe takes <namespace>/<name>", () => {
    assert.deepStrictEqual(parseApiRef("shop/orders"), { namespace: "shop", name: "orders" })
    for (const bad of ["orders", "shop/", "/orders", "a/b/c", "Shop/orders"]) {
      const r = parseApiRef(bad)
      assert.isTrue("exitCode" in r && r.exitCode === 2, bad)
    }
  })

  it("diagram prints the machines, one with a highlighted state, and says why it cannot", () => {
    const out = (format: "mermaid" | "dot" | "svg", machine?: string, highlight?: string) =>
      diagramOutput({ format, machine: Option.fromUndefinedOr(machine), highlight: Option.fromUndefinedOr(highlight) })
    const all = out("mermaid")
    assert.isTrue("text" in all && (all.text.match(/stateDiagram-v2/g) ?? []).length === 3)
    const one = out("svg", "virtualService", "HostnameOccupied")
    assert.isTrue("text" in one && /<g class="state current" data-state="HostnameOccupied"/.test(one.text))
    const dot = out("dot", "authentication", "Created")
    assert.isTrue("text" in dot && /"Created" \[label="Created \(2\)", fillcolor=/.test(dot.text))
    assert.deepStrictEqual(out("svg"), { error: "--format svg draws one machine: add --machine validation|authentication|virtualService" })
    assert.deepStrictEqual(out("mermaid", undefined, "Created"), { error: "--highlight needs --machine" })
    assert.match((out("mermaid", "authentication", "HostnameOccupied") as { error: string }).error, /no state 'HostnameOccupied'/)
  })
})

describe("describe in a terminal", () => {
  // What a terminal would act on: ESC (colours, cursor moves, a new window title, clearing the
  // screen), BEL, CR (rewrites the line), the one-character CSI U+009B, and a right-to-left override.
  const hostile = "\u001b]0;pwned\u0007\u001b[2J\u001b[31mred\rReady: True\nForged: line\u009b1m\u202eevil"
  const unsafe = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/

  it("prints control and bidi characters from the cluster as visible escapes, on the line they belong to", () => {
    const evilSpec = {
      service: { name: "orders", port: 8080 },
      hostname: hostile,
      authentication: [{ type: "JWT", jwt: { issuer: `https://x.example/${hostile}`, jwksUri: "https://x.example/k" } }]
    }
    const evilStatus = {
      ...blockedStatus,
      lastError: hostile,
      virtualService: { code: 4, lastError: hostile },
      conditions: [{ ...blockedStatus.conditions[0], reason: hostile, message: hostile }],
      transitions: [{ machine: "virtualService", from: "NotCreated", to: "HostnameOccupied", at: "2026-05-01T10:00:01Z", reason: hostile, message: hostile }]
    }
    const child: KubeObject = {
      apiVersion: "networking.istio.io/v1alpha3",
      kind: "VirtualService",
      metadata: { name: "orders", namespace: "shop", uid: hostile, resourceVersion: hostile },
      spec: { hosts: [hostile] }
    }
    const event: KubeObject = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: "e", namespace: "shop" },
      involvedObject: { kind: "Api", name: "orders", namespace: "shop", uid },
      type: "Warning",
      reason: hostile,
      message: hostile,
      lastTimestamp: "2026-05-01T10:00:02Z"
    }
    const clean = describeText({ api: api(blockedStatus), children: [], events: [] })
    const text = describeText({ api: api(evilStatus, evilSpec), children: [child], events: [event] })
    for (const line of text.split("\n")) assert.notMatch(line, unsafe, JSON.stringify(line))
    assert.notInclude(text, "Forged: line\n")
    assert.include(text, "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mred\\x0dReady: True Forged: line\\x9b1m\\u202eevil")
    // No line was forged: the hostile text adds a timeline row (its Event) and nothing else.
    assert.isAtMost(text.split("\n").length, clean.split("\n").length + 2)
    const errors = describeText({ api: api(blockedStatus), children: [], events: { error: hostile } })
    assert.notMatch(errors, /\u001b/)
  })

  it("terminalSafe leaves ordinary text, unicode included, as it is", () => {
    assert.strictEqual(terminalSafe("ünï 😀 /статус <b>&"), "ünï 😀 /статус <b>&")
    assert.strictEqual(terminalSafe("a\tb\nc"), "a b c")
    assert.strictEqual(terminalSafe(undefined), "")
  })
})
