/**
 * `api-controller describe`'s terminal text (src/cli/DescribeText.ts), without a cluster: the
 * spec, each machine's state and code, the children, Ready and the timeline as aligned text, and
 * nothing from the cluster that a terminal would act on.
 */
import { assert, describe, it } from "@effect/vitest"
import type { KubeObject } from "../../src/domain/Kube.ts"
import { parseApiRef } from "../../src/cli/Describe.ts"
import { age, describeText, terminalSafe } from "../../src/cli/DescribeText.ts"
import { api, blockedStatus, createdStatus, event, policy, uid, virtualService } from "../visual/ApiFixtures.ts"

/** The kinds `describe` looks for on a legacy cluster. */
const childKinds = ["VirtualService", "Policy"]

describe("describe's text", () => {
  it("prints spec, Ready, machines, children and the timeline as aligned text", () => {
    const now = Date.parse("2026-05-01T10:07:02Z")
    const text = describeText({
      api: api(createdStatus, {
        service: { name: "orders", port: 8080 },
        hostname: "orders",
        authentication: [{ type: "JWT", jwt: { issuer: "https://accounts.google.com", jwksUri: "https://www.googleapis.com/oauth2/v3/certs" } }]
      }),
      children: [virtualService(true), policy],
      events: [event("Ready", "2026-05-01T10:05:02Z", "exposed without authentication")],
      childKinds,
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
    const text = describeText({ api: api(undefined), children: [virtualService(false)], events: { error: "events is forbidden" }, childKinds })
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

  it("notes when the child the status names has moved on in the cluster since", () => {
    const moved = { ...virtualService(true), metadata: { ...virtualService(true).metadata, resourceVersion: "900" } }
    const text = describeText({ api: api(createdStatus), children: [moved], events: [], childKinds })
    assert.include(text, "  note: status.virtualService.code.resource says version 812; the cluster has 900")
    const same = describeText({ api: api(createdStatus), children: [virtualService(true)], events: [], childKinds })
    assert.notInclude(same, "note:")
  })
})

describe("describe's command line", () => {
  it("takes <namespace>/<name>", () => {
    assert.deepStrictEqual(parseApiRef("shop/orders"), { namespace: "shop", name: "orders" })
    for (const bad of ["orders", "shop/", "/orders", "a/b/c", "Shop/orders"]) {
      const r = parseApiRef(bad)
      assert.isTrue("exitCode" in r && r.exitCode === 2, bad)
    }
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
    const clean = describeText({ api: api(blockedStatus), children: [], events: [], childKinds })
    const text = describeText({ api: api(evilStatus, evilSpec), children: [child], events: [event], childKinds })
    for (const line of text.split("\n")) assert.notMatch(line, unsafe, JSON.stringify(line))
    assert.notInclude(text, "Forged: line\n")
    assert.include(text, "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mred\\x0dReady: True Forged: line\\x9b1m\\u202eevil")
    // No line was forged: the hostile text adds a timeline row (its Event) and nothing else.
    assert.isAtMost(text.split("\n").length, clean.split("\n").length + 2)
    const errors = describeText({ api: api(blockedStatus), children: [], events: { error: hostile }, childKinds })
    assert.notMatch(errors, /\u001b/)
  })

  it("terminalSafe leaves ordinary text, unicode included, as it is", () => {
    assert.strictEqual(terminalSafe("ünï 😀 /статус <b>&"), "ünï 😀 /статус <b>&")
    assert.strictEqual(terminalSafe("a\tb\nc"), "a b c")
    assert.strictEqual(terminalSafe(undefined), "")
  })
})
