/**
 * Hostile and odd input that passes admission, on the real server, with the controller (the
 * production bundle) in a process of its own: limits, unicode, the schema's maximum of excluded
 * paths, regular expressions that backtrack catastrophically, the same issuer twice, an Api
 * updated many times per second, status edited by hand, children stripped of their labels or
 * ownerReferences, a foreign object under a child's name, a namespace deleted with Apis in it.
 * Every case ends with a final status that says what is true, and the controller never logs an
 * uncaught error.
 */
import { existsSync } from "node:fs"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Kinds, type KubeObject } from "../../src/domain/Kube.ts"
import type { ControllerProcess } from "./support/ControllerProcess.ts"
import { uncaughtErrors } from "./support/ControllerProcess.ts"
import { assess, figureOf, notConverged, report, snapshot, waitFor } from "./support/Figures.ts"
import { REPO_ROOT } from "./support/FaultPlane.ts"
import { sleep, startWorld, type World } from "./support/Scenario.ts"

const NS = "hostile"
let w: World
let c: ControllerProcess

beforeAll(async () => {
  w = await startWorld("hostile input")
  c = await w.controller("hostile")
  await c.start()
  await w.client.ensureNamespace(NS)
})

afterAll(async () => {
  if (c !== undefined) {
    const crashed = uncaughtErrors(c.lines())
    await w?.stop()
    assert.deepStrictEqual(crashed, [], "the controller logged no uncaught error")
    assert.deepStrictEqual(c.stray(), [], "and nothing but JSON log lines")
  } else await w?.stop()
})

const api = (name: string, spec: Record<string, unknown>, namespace = NS): KubeObject => ({
  apiVersion: "gateway.kyma-project.io/v1alpha2",
  kind: "Api",
  metadata: { name, namespace },
  spec
})

const jwt = (issuer: string, excludedPaths?: ReadonlyArray<Record<string, string>>, jwksUri = "https://keys.example.com/jwks") => ({
  type: "JWT",
  jwt: { issuer, jwksUri, ...(excludedPaths !== undefined ? { triggerRule: { excludedPaths } } : {}) }
})

/** Every Api the cases create in NS, for the last case: their statuses must still be final at the end. */
const created: Array<string> = []
const create = (o: KubeObject) => {
  if (o.metadata.namespace === NS) created.push(o.metadata.name)
  return w.client.retry((k) => k.create(Kinds.Api, o))
}
const get = (kind: typeof Kinds.Api | typeof Kinds.VirtualService | typeof Kinds.Policy, name: string, namespace = NS) =>
  w.client.retry((k) => k.get(kind, namespace, name))

interface StatusView {
  readonly observedGeneration?: number
  readonly validationStatus?: number
  readonly lastError?: string
  readonly virtualService?: { readonly code?: number; readonly lastError?: string }
  readonly authenticationStatus?: { readonly code?: number; readonly lastError?: string }
}
const statusOf = (o: KubeObject) => (o["status"] ?? {}) as StatusView

/** Until the named Api has converged (see Figures.notConverged); the seconds it took. */
const converged = async (name: string, namespace = NS, timeoutMs = 60_000) => {
  const started = Date.now()
  const { assessment, at } = await waitFor(w.client, {
    select: (a) => a.metadata.namespace === namespace && a.metadata.name === name,
    expected: 1,
    timeoutMs
  })
  assert.isDefined(at, `${namespace}/${name}: ${assessment.notConverged.join("; ")}`)
  return { seconds: (at! - started) / 1000, assessment }
}

/** Until `check` holds for the Api's status for the current generation. */
const statusUntil = async (name: string, check: (s: StatusView) => boolean, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const o = await get(Kinds.Api, name)
    const s = statusOf(o)
    if (s.observedGeneration === o.metadata.generation && check(s)) return s
    if (Date.now() > deadline) return assert.fail(`${name}: status never got there: ${JSON.stringify(s)}`)
    await sleep(250)
  }
}

const record = (scenario: string, names: ReadonlyArray<string>, seconds: number, extra: Record<string, string | number> = {}) =>
  snapshot(w.client).then((s) =>
    report(figureOf(`hostile: ${scenario}`, assess(s, (a) => a.metadata.namespace === NS && names.includes(a.metadata.name)), seconds, extra))
  )

describe("hostile and odd input", () => {
  it("names and hostnames at their length limits", async () => {
    const longName = `n${"x".repeat(61)}z` // 63, a DNS label
    const longNs = `ns${"y".repeat(60)}z` // 63
    await w.client.ensureNamespace(longNs)
    const label63 = `h${"a".repeat(61)}z`
    await create(api(longName, { service: { name: `s${"v".repeat(61)}c`, port: 65535 }, hostname: label63 }, longNs))
    const { seconds } = await converged(longName, longNs)
    const vs = await get(Kinds.VirtualService, longName, longNs)
    assert.deepStrictEqual((vs["spec"] as { hosts: Array<string> }).hosts, [`${label63}.kyma.local`])
    assert.strictEqual(vs.metadata.labels?.["apiName"], longName)

    // 253 characters of hostname pass the CRD (a DNS name) but lie outside the domain: code 3.
    const far = [label63, label63, label63, `e${"b".repeat(60)}`].join(".")
    assert.strictEqual(far.length, 253)
    await create(api("far-host", { service: { name: "far", port: 1 }, hostname: far }))
    const s = await statusUntil("far-host", (x) => x.validationStatus === 3)
    assert.include(s.lastError ?? "", "spec.hostname")
    await record("length limits", ["far-host"], seconds, { "63-char name, namespace, label": "converged" })
  })

  it("unicode in issuers, key URIs and excluded paths is carried through unchanged", async () => {
    const paths = [{ exact: "/статус" }, { prefix: "/公開/" }, { suffix: "/😀" }, { regex: "^/ünï(.*)$" }]
    await create(api("unicode", {
      service: { name: "unicode", port: 80 },
      hostname: "unicode",
      authentication: [jwt("https://issuer.example.com/ünï/😀", paths, "https://keys.example.com/ключи")]
    }))
    const { seconds } = await converged("unicode")
    const policy = await get(Kinds.Policy, "unicode")
    const origin = (policy["spec"] as { origins: Array<{ jwt: Record<string, unknown> }> }).origins[0]!.jwt
    assert.strictEqual(origin["issuer"], "https://issuer.example.com/ünï/😀")
    assert.deepStrictEqual((origin["trigger_rules"] as Array<{ excluded_paths: unknown }>)[0]!.excluded_paths, paths)
    await record("unicode", ["unicode"], seconds)
  })

  it("excludedPaths at the schema's maximum (16 rules of 64 paths) and catastrophically backtracking regexes: the pass stays bounded", async () => {
    // Classic exponential-time patterns; only ever compiled by the controller, never run.
    const evil = ["^(a+)+$", "^(([a-z])+.)+[A-Z]([a-z])+$", "(x+x+)+y", "^(\\w+\\s?)*$", "(.*a){25}", "^(a|aa)+$", "^(a|a?)+$", "(\\d+)*\\d+x"]
    const rules = Array.from({ length: 16 }, (_, r) =>
      jwt(`https://issuer-${r}.example.com`, Array.from({ length: 64 }, (_, p) => ({ regex: `${evil[p % evil.length]}${"|/p" + p}` }))))
    const started = Date.now()
    await create(api("maximal", { service: { name: "maximal", port: 80 }, hostname: "maximal", authentication: rules }))
    await converged("maximal")
    const seconds = (Date.now() - started) / 1000
    const origins = ((await get(Kinds.Policy, "maximal"))["spec"] as { origins: Array<{ jwt: { trigger_rules: Array<{ excluded_paths: Array<unknown> }> } }> }).origins
    assert.strictEqual(origins.length, 16)
    assert.isTrue(origins.every((o) => o.jwt.trigger_rules[0]!.excluded_paths.length === 64))
    await record("16 x 64 backtracking regexes", ["maximal"], seconds, { "create to converged s": seconds.toFixed(1) })
  })

  it("the same issuer twice: with the same key set it is served, with two different ones it is refused naming the field", async () => {
    await create(api("same-issuer", {
      service: { name: "same-issuer", port: 80 },
      hostname: "same-issuer",
      authentication: [jwt("https://twice.example.com"), jwt("https://twice.example.com", [{ exact: "/health" }])]
    }))
    const { seconds } = await converged("same-issuer")
    await create(api("two-key-sets", {
      service: { name: "two-key-sets", port: 80 },
      hostname: "two-key-sets",
      authentication: [jwt("https://twice.example.com"), jwt("https://twice.example.com", undefined, "https://other.example.com/jwks")]
    }))
    const s = await statusUntil("two-key-sets", (x) => x.validationStatus === 3)
    assert.include(s.lastError ?? "", "spec.authentication[1].jwt.jwksUri")
    await record("same issuer twice", ["same-issuer", "two-key-sets"], seconds)
  })

  it("an Api updated 20 times a second for 3 s ends on its last spec", async () => {
    await create(api("busy", { service: { name: "busy", port: 1000 }, hostname: "busy" }))
    await converged("busy")
    const started = Date.now()
    const updates = 60
    // One merge patch every 50 ms, not waiting for the answers: the writes overlap like a script's.
    const sent: Array<Promise<unknown>> = []
    for (let i = 1; i <= updates; i++) {
      sent.push(w.client.retry((k) => k.patch(Kinds.Api, NS, "busy", { spec: { service: { name: "busy", port: 1000 + i } } })))
      await sleep(50)
    }
    await Promise.all(sent)
    const rate = updates / ((Date.now() - started) / 1000)
    const lastPort = ((await get(Kinds.Api, "busy"))["spec"] as { service: { port: number } }).service.port
    const { seconds } = await converged("busy")
    const vs = await get(Kinds.VirtualService, "busy")
    const http = (vs["spec"] as { http: Array<{ route: Array<{ destination: { port: { number: number } } }> }> }).http
    assert.strictEqual(http[0]!.route[0]!.destination.port.number, lastPort)
    await record("60 updates in 3 s", ["busy"], seconds, { "updates per s": rate.toFixed(1) })
  })

  it("a status edited by hand is put right", async () => {
    await create(api("edited", { service: { name: "edited", port: 80 }, hostname: "edited" }))
    await converged("edited")
    await w.client.retry((k) =>
      k.patchStatus(Kinds.Api, NS, "edited", {
        status: {
          validationStatus: 5,
          lastError: "edited by hand",
          observedGeneration: 999,
          virtualService: { code: 4, lastError: "edited by hand" },
          conditions: [{ type: "Ready", status: "False", reason: "Edited", message: "by hand", lastTransitionTime: "2020-01-01T00:00:00Z" }]
        }
      })
    )
    const started = Date.now()
    const { seconds } = await converged("edited")
    const s = statusOf(await get(Kinds.Api, "edited"))
    assert.strictEqual(s.validationStatus, 2)
    assert.notInclude(JSON.stringify(s), "edited by hand")
    await record("status edited by hand", ["edited"], (Date.now() - started) / 1000, { "put right after s": seconds.toFixed(1) })
  })

  it("labels or ownerReferences stripped from children by hand are put back", async () => {
    await create(api("stripped", { service: { name: "stripped", port: 80 }, hostname: "stripped", authentication: [jwt("https://strip.example.com")] }))
    await converged("stripped")
    const vs = await get(Kinds.VirtualService, "stripped")
    await w.client.retry((k) => k.replace(Kinds.VirtualService, { ...vs, metadata: { ...vs.metadata, labels: {} } }))
    const policy = await get(Kinds.Policy, "stripped")
    await w.client.retry((k) => k.replace(Kinds.Policy, { ...policy, metadata: { ...policy.metadata, ownerReferences: [] } }))
    const started = Date.now()
    const deadline = started + 60_000
    for (;;) {
      const [v, p] = await Promise.all([get(Kinds.VirtualService, "stripped"), get(Kinds.Policy, "stripped")])
      if (v.metadata.labels?.["createdBy"] === "api-controller" && (p.metadata.ownerReferences ?? []).some((r) => r.controller === true)) break
      if (Date.now() > deadline) assert.fail(`not put back: labels ${JSON.stringify(v.metadata.labels)}, ownerReferences ${JSON.stringify(p.metadata.ownerReferences)}`)
      await sleep(250)
    }
    await converged("stripped")
    await record("labels / ownerReferences stripped", ["stripped"], (Date.now() - started) / 1000)
  })

  it("a foreign object under a child's name is never modified or deleted", async () => {
    const foreign: KubeObject = {
      apiVersion: "networking.istio.io/v1alpha3",
      kind: "VirtualService",
      metadata: { name: "squatted", namespace: NS, labels: { team: "someone-else" } },
      spec: { hosts: ["elsewhere.example.com"], http: [{ route: [{ destination: { host: "elsewhere", port: { number: 1 } } }] }] }
    }
    const before = await w.client.retry((k) => k.create(Kinds.VirtualService, foreign))
    // And one of ours that loses its labels and ownerReference: from then on it is foreign too.
    await create(api("disowned", { service: { name: "disowned", port: 80 }, hostname: "disowned" }))
    await converged("disowned")
    const ours = await get(Kinds.VirtualService, "disowned")
    const disowned = await w.client.retry((k) =>
      k.replace(Kinds.VirtualService, { ...ours, metadata: { ...ours.metadata, labels: {}, ownerReferences: [] } })
    )
    await create(api("squatted", { service: { name: "squatted", port: 80 }, hostname: "squatted" }))
    const s = await statusUntil("squatted", (x) => x.validationStatus === 2 && x.virtualService?.code === 3)
    assert.include(s.virtualService?.lastError ?? "", "squatted")
    await sleep(5_000)
    const after = await get(Kinds.VirtualService, "squatted")
    assert.strictEqual(after.metadata.resourceVersion, before.metadata.resourceVersion, "the foreign VirtualService was not written")
    assert.deepStrictEqual(after["spec"], foreign["spec"])
    const stillDisowned = await get(Kinds.VirtualService, "disowned")
    assert.strictEqual(stillDisowned.metadata.resourceVersion, disowned.metadata.resourceVersion, "the disowned one neither")
    await w.client.retry((k) => k.delete(Kinds.Api, NS, "squatted"))
    await sleep(3_000)
    assert.strictEqual((await get(Kinds.VirtualService, "squatted")).metadata.uid, before.metadata.uid, "deleting the Api leaves it")
    report(figureOf("hostile: foreign object under a child's name", assess(await snapshot(w.client), (a) => a.metadata.name === "disowned"), undefined, {
      "foreign writes": 0
    }))
  })

  const hasNamespaceController = existsSync(join(REPO_ROOT, ".bin/kube-controller-manager"))
  it.runIf(hasNamespaceController)("a namespace deleted with Apis in it goes away, and so do their children", async () => {
    const ns = "doomed"
    await w.client.ensureNamespace(ns)
    const count = 20
    await w.client.createAll(Kinds.Api, Array.from({ length: count }, (_, i) =>
      api(`doomed-${i}`, { service: { name: `svc-${i}`, port: 80 }, hostname: `doomed-${i}`, authentication: [jwt("https://doomed.example.com")] }, ns)))
    await waitFor(w.client, { select: (a) => a.metadata.namespace === ns, expected: count, timeoutMs: 120_000 })
    const started = Date.now()
    await w.client.retry((k) => k.delete(Kinds.Namespace, "", ns))
    const deadline = started + 120_000
    for (;;) {
      const gone = await w.client.run((k) => k.get(Kinds.Namespace, "", ns)).then(() => false, () => true)
      if (gone) break
      if (Date.now() > deadline) assert.fail(`namespace ${ns} still there after 120 s`)
      await sleep(500)
    }
    const seconds = (Date.now() - started) / 1000
    const s = await snapshot(w.client)
    const left = [...s.apis, ...s.virtualServices, ...s.policies].filter((o) => o.metadata.namespace === ns)
    assert.deepStrictEqual(left.map((o) => `${o.kind} ${o.metadata.name}`), [])
    report(figureOf("hostile: namespace deleted with 20 Apis", assess(s, (a) => a.metadata.namespace === ns), seconds, {
      "namespace gone after s": seconds.toFixed(1)
    }))
  })

  it("every Api the cases above created still has a final status once they have all run", async () => {
    // Run alone (-t), there is nothing to look at: that is a failure, not a pass.
    assert.isNotEmpty(created, "no case above created an Api: run this one with them")
    const s = await snapshot(w.client)
    // squatted is deleted by its case; disowned's VirtualService is foreign on purpose.
    const expected = created.filter((name) => name !== "squatted" && name !== "disowned")
    const found = new Map(s.apis.filter((a) => a.metadata.namespace === NS).map((a) => [a.metadata.name, a]))
    const open = expected.flatMap((name) => {
      const a = found.get(name)
      if (a === undefined) return [`${name}: gone`]
      const why = notConverged(a, s)
      return why === undefined ? [] : [`${name}: ${why}`]
    })
    assert.deepStrictEqual(open, [])
  })
})
