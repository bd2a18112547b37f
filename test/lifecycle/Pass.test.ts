/**
 * The decision of one pass as pure code (src/lifecycle/Pass.ts): from the observed world to the
 * machines' states, the writes they ask for and the status, with the server's answers given by
 * a table instead of a cluster. One row per behaviour.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { ApiObject } from "../../src/domain/Api.ts"
import { apiVersionOf, Kinds, type KubeObject } from "../../src/domain/Kube.ts"
import type { Observation, PassSettings } from "../../src/lifecycle/Observation.ts"
import { type ChildWrite, type PassDecision, runPass, type WriteFailure } from "../../src/lifecycle/Pass.ts"
import { authenticationPlan } from "../../src/plan/AuthenticationPlan.ts"
import { desiredPolicy, IstioPolicyBackend } from "../../src/plan/IstioPolicyBackend.ts"
import { IstioSecurityBackend } from "../../src/plan/IstioSecurityBackend.ts"
import type { Owner } from "../../src/plan/Ownership.ts"
import { desiredVirtualService } from "../../src/plan/VirtualServicePlan.ts"
import { googleJwt, testConfig } from "../support/Fixtures.ts"

const NOW = "2026-11-30T10:00:00Z"
const owner: Owner = { apiVersion: "gateway.kyma-project.io/v1alpha2", kind: "Api", name: "orders", namespace: "shop", uid: "api-uid" }

const legacy: PassSettings = { config: testConfig, backend: IstioPolicyBackend, virtualServiceKind: Kinds.VirtualService }
const security: PassSettings = { config: testConfig, backend: IstioSecurityBackend, virtualServiceKind: Kinds.VirtualServiceV1 }

const withAuth = { service: { name: "orders", port: 8080 }, hostname: "orders", authentication: [googleJwt] }
const noAuth = { service: { name: "orders", port: 8080 }, hostname: "orders" }

const apiOf = (spec: unknown, status?: unknown): ApiObject => ({
  apiVersion: owner.apiVersion,
  kind: owner.kind,
  metadata: { name: owner.name, namespace: owner.namespace, uid: owner.uid, resourceVersion: "10", generation: 1, creationTimestamp: "2026-11-30T09:00:00Z" },
  spec,
  ...(status !== undefined ? { status } : {})
})

let serial = 100
/** A child as the server holds it: with a uid and a resourceVersion. */
const stored = (o: KubeObject, creationTimestamp = "2026-11-30T09:00:01Z"): KubeObject => ({
  ...o,
  metadata: { ...o.metadata, uid: `${o.kind}-uid`, resourceVersion: String(serial++), creationTimestamp }
})

const plannedVs = (spec: typeof noAuth, settings = legacy) => stored(desiredVirtualService(owner, spec as never, testConfig, settings.virtualServiceKind))
const plannedPolicy = (spec: typeof withAuth) => stored(desiredPolicy(owner, authenticationPlan(spec as never, testConfig)!))

const world = (api: ApiObject, over: Partial<Observation> = {}): Observation => ({
  api,
  virtualService: undefined,
  authentication: [],
  hostClaims: [],
  serviceClaims: [api as KubeObject],
  service: undefined,
  neighbours: [],
  ...over
})

/** Answers every write as a server would, unless `fail` says otherwise. */
const decide = (obs: Observation, settings = legacy, fail: (w: ChildWrite) => WriteFailure | undefined = () => undefined) =>
  Effect.runSync(runPass(obs, settings, (w) => {
    const failure = fail(w)
    if (failure !== undefined) return Effect.fail(failure)
    return Effect.succeed(w.op === "delete" ? undefined : stored(w.object))
  }, NOW))

const writes = (o: PassDecision) =>
  o.writes.map(({ write: w, failure }) =>
    `${w.op} ${w.kind.kind}${w.op === "delete" ? "" : ` ${apiVersionOf(w.kind)}`}${failure !== undefined ? " (failed)" : ""}`
  )
const states = (o: PassDecision) => [o.after.validation.state, o.after.authentication.state, o.after.virtualService.state]
const codes = (o: PassDecision) => [o.status.validationStatus, o.status.authenticationStatus?.code, o.status.virtualService?.code]
const ready = (o: PassDecision) => o.status.conditions?.find((c) => c.type === "Ready")

describe("one pass, as a decision table", () => {
  it("a new Api with authentication: authentication first, then the VirtualService, all Created in one pass", () => {
    const o = decide(world(apiOf(withAuth)))
    assert.deepStrictEqual(writes(o), ["create Policy authentication.istio.io/v1alpha1", "create VirtualService networking.istio.io/v1alpha3"])
    assert.deepStrictEqual(states(o), ["Valid", "Created", "Created"])
    assert.deepStrictEqual(codes(o), [2, 2, 2])
    assert.strictEqual(o.status.virtualService?.resource?.uid, "VirtualService-uid", "the resource is the server's answer")
    assert.strictEqual(ready(o)?.status, "True")
    assert.deepStrictEqual(o.events, [{ type: "Normal", reason: "Ready", message: "exposed, authentication enforced" }])
    assert.deepStrictEqual(o.transitions.map((t) => `${t.machine}: ${t.from} -> ${t.to}`), [
      "validation: Pending -> Valid",
      "authentication: Disabled -> Created",
      "virtualService: NotCreated -> Created"
    ])
    assert.isFalse(o.retry)
  })

  it("a new Api without authentication: only the VirtualService; authenticationStatus is left out", () => {
    const o = decide(world(apiOf(noAuth)))
    assert.deepStrictEqual(writes(o), ["create VirtualService networking.istio.io/v1alpha3"])
    assert.deepStrictEqual(states(o), ["Valid", "Disabled", "Created"])
    assert.isUndefined(o.status.authenticationStatus)
    assert.strictEqual(ready(o)?.message, "exposed without authentication")
  })

  it("a converged Api: no write, no transition, no Event, the same status", () => {
    const first = decide(world(apiOf(withAuth)))
    const vs = plannedVs(withAuth)
    const policy = plannedPolicy(withAuth)
    const again = decide(world(apiOf(withAuth, {
      ...first.status,
      virtualService: { code: 2, resource: { name: "orders", uid: vs.metadata.uid!, version: vs.metadata.resourceVersion! } },
      authenticationStatus: { code: 2, resource: { name: "orders", uid: policy.metadata.uid!, version: policy.metadata.resourceVersion! } }
    }), { virtualService: vs, authentication: [{ kind: Kinds.Policy, object: policy }], hostClaims: [vs] }))
    assert.deepStrictEqual(writes(again), [])
    assert.deepStrictEqual(again.transitions, [])
    assert.deepStrictEqual(again.events, [])
  })

  it("a changed port updates the VirtualService in place", () => {
    const vs = plannedVs(noAuth)
    const o = decide(world(apiOf({ ...noAuth, service: { name: "orders", port: 9090 } }, { validationStatus: 2, virtualService: { code: 2 } }), {
      virtualService: vs,
      hostClaims: [vs]
    }))
    assert.deepStrictEqual(writes(o), ["update VirtualService networking.istio.io/v1alpha3"])
    assert.deepStrictEqual(states(o), ["Valid", "Disabled", "Created"])
  })

  it("authentication turned off deletes ours and drops authenticationStatus", () => {
    const policy = plannedPolicy(withAuth)
    const vs = plannedVs(noAuth)
    const o = decide(world(apiOf({ ...withAuth, authenticationEnabled: false }, { validationStatus: 2, virtualService: { code: 2 }, authenticationStatus: { code: 2 } }), {
      virtualService: vs,
      hostClaims: [vs],
      authentication: [{ kind: Kinds.Policy, object: policy }]
    }))
    assert.deepStrictEqual(writes(o), ["delete Policy"])
    assert.deepStrictEqual(states(o), ["Valid", "Disabled", "Created"])
    assert.isUndefined(o.status.authenticationStatus)
  })

  it("a switch to istio-security creates the new children before it deletes the old Policy", () => {
    const policy = plannedPolicy(withAuth)
    const vs = plannedVs(withAuth, security)
    const service: KubeObject = { apiVersion: "v1", kind: "Service", metadata: { name: "orders", namespace: "shop" }, spec: { selector: { app: "orders" } } }
    const o = decide(world(apiOf(withAuth, { validationStatus: 2, virtualService: { code: 2 }, authenticationStatus: { code: 2 } }), {
      virtualService: vs,
      hostClaims: [vs],
      authentication: [{ kind: Kinds.Policy, object: policy }],
      service
    }), security)
    assert.deepStrictEqual(writes(o), [
      "create RequestAuthentication security.istio.io/v1",
      "create AuthorizationPolicy security.istio.io/v1",
      "create AuthorizationPolicy security.istio.io/v1",
      "create PeerAuthentication security.istio.io/v1",
      "delete Policy"
    ])
    assert.deepStrictEqual(
      o.writes.flatMap(({ write: w }) => (w.op === "create" ? [`${w.object.metadata.name} ${(w.object["spec"] as { action?: string }).action ?? ""}`.trim()] : [])),
      ["orders", "orders-deny DENY", "orders ALLOW", "orders"],
      "the DENY goes in before the ALLOW"
    )
    assert.deepStrictEqual(states(o), ["Valid", "Created", "Created"])
    assert.strictEqual(o.status.authenticationStatus?.resource?.uid, "RequestAuthentication-uid", "status names the RequestAuthentication")
  })

  it("a retryable failure writing authentication exposes nothing: both wait, and the pass asks to retry", () => {
    const o = decide(world(apiOf(withAuth)), legacy, (w) => (w.kind === Kinds.Policy ? { message: "503", reason: "transient" } : undefined))
    assert.deepStrictEqual(writes(o), ["create Policy authentication.istio.io/v1alpha1 (failed)"])
    assert.deepStrictEqual(states(o), ["Valid", "InProgress", "InProgress"])
    assert.deepStrictEqual(codes(o), [2, 1, 1])
    assert.strictEqual(o.status.authenticationStatus?.lastError, "503 (will retry)")
    assert.isTrue(o.retry)
    assert.deepStrictEqual(o.events, [], "waiting is not a failure worth an Event")
  })

  it("a permanent failure writing authentication is an error, exposes nothing, and is a Warning", () => {
    const o = decide(world(apiOf(withAuth)), legacy, (w) => (w.kind === Kinds.Policy ? { message: "forbidden", reason: "permanent" } : undefined))
    assert.deepStrictEqual(states(o), ["Valid", "Error", "NotCreated"])
    assert.strictEqual(ready(o)?.reason, "AuthenticationFailed")
    assert.deepStrictEqual(o.events, [{ type: "Warning", reason: "AuthenticationFailed", message: "forbidden" }])
    assert.isFalse(o.retry, "nothing to retry until something changes")
  })

  it("an older VirtualService serving our host makes us withdraw ours", () => {
    const vs = plannedVs(noAuth)
    const older: KubeObject = stored(
      { apiVersion: "networking.istio.io/v1alpha3", kind: "VirtualService", metadata: { name: "first", namespace: "elsewhere" }, spec: { hosts: ["ORDERS.kyma.local"] } },
      "2026-11-30T08:00:00Z"
    )
    const o = decide(world(apiOf(noAuth, { validationStatus: 2, virtualService: { code: 2 } }), { virtualService: vs, hostClaims: [vs, older] }))
    assert.deepStrictEqual(writes(o), ["delete VirtualService"])
    assert.deepStrictEqual(states(o), ["Valid", "Disabled", "HostnameOccupied"])
    assert.include(o.status.virtualService?.lastError ?? "", "elsewhere/first")
    assert.isUndefined(o.status.virtualService?.resource)
  })

  it("an invalid update keeps the last good children and says what is wrong", () => {
    const vs = plannedVs(withAuth)
    const policy = plannedPolicy(withAuth)
    const o = decide(world(apiOf({ ...withAuth, hostname: "orders.example.com" }, { validationStatus: 2, virtualService: { code: 2 }, authenticationStatus: { code: 2 } }), {
      virtualService: vs,
      authentication: [{ kind: Kinds.Policy, object: policy }],
      hostClaims: [vs]
    }))
    assert.deepStrictEqual(writes(o), [])
    assert.deepStrictEqual(states(o), ["Invalid", "Created", "Created"])
    assert.strictEqual(ready(o)?.reason, "InvalidSpec")
    assert.deepStrictEqual(o.events.map((e) => e.type), ["Warning"])
  })

  it("under istio-security, a missing target Service is an authentication error and nothing is exposed", () => {
    const o = decide(world(apiOf(withAuth)), security)
    assert.deepStrictEqual(writes(o), [])
    assert.deepStrictEqual(states(o), ["Valid", "Error", "NotCreated"])
    assert.include(o.status.authenticationStatus?.lastError ?? "", "Service shop/orders does not exist")
  })

  it("an older Api on the same Service: TargetServiceOccupied, nothing written", () => {
    const older = { ...apiOf(noAuth), metadata: { ...apiOf(noAuth).metadata, name: "aaa", uid: "older", creationTimestamp: "2026-11-30T08:00:00Z" } }
    const o = decide(world(apiOf(noAuth), { serviceClaims: [older as KubeObject, apiOf(noAuth) as KubeObject] }))
    assert.deepStrictEqual(writes(o), [])
    assert.deepStrictEqual(states(o), ["TargetServiceOccupied", "Disabled", "NotCreated"])
    assert.include(o.status.lastError ?? "", "shop/aaa")
  })

  it("the loser of a target-Service race withdraws: its VirtualService first, then its authentication children", () => {
    const vs = plannedVs(withAuth)
    const policy = plannedPolicy(withAuth)
    const older = { ...apiOf(withAuth), metadata: { ...apiOf(withAuth).metadata, name: "aaa", uid: "older", creationTimestamp: "2026-11-30T08:00:00Z" } }
    const converged = { validationStatus: 2, virtualService: { code: 2 }, authenticationStatus: { code: 2 } }
    const lost = world(apiOf(withAuth, converged), {
      virtualService: vs,
      authentication: [{ kind: Kinds.Policy, object: policy }],
      hostClaims: [vs],
      serviceClaims: [older as KubeObject, apiOf(withAuth) as KubeObject]
    })
    const o = decide(lost)
    assert.deepStrictEqual(writes(o), ["delete VirtualService", "delete Policy"])
    assert.deepStrictEqual(states(o), ["TargetServiceOccupied", "NotCreated", "NotCreated"])
    assert.deepStrictEqual(codes(o), [5, 0, 0])
    assert.isUndefined(o.status.virtualService?.resource)
    assert.isUndefined(o.status.authenticationStatus?.resource)
    assert.isFalse(o.retry)

    // The VirtualService cannot be removed: the authentication children stay, and the pass retries.
    const held = decide(lost, legacy, (w) => (w.kind === Kinds.VirtualService ? { message: "503", reason: "transient" } : undefined))
    assert.deepStrictEqual(writes(held), ["delete VirtualService (failed)"])
    assert.deepStrictEqual(states(held), ["TargetServiceOccupied", "InProgress", "InProgress"])
    assert.strictEqual(held.status.authenticationStatus?.resource?.uid, "Policy-uid", "status names the Policy still in place")
    assert.include(held.status.authenticationStatus?.lastError ?? "", "still exposes the service")
    assert.isTrue(held.retry)
  })

  it("authentication turned off by an Api that also lost its Service: both go, the VirtualService first", () => {
    const vs = plannedVs(withAuth)
    const policy = plannedPolicy(withAuth)
    const spec = { ...withAuth, authenticationEnabled: false }
    const older = { ...apiOf(spec), metadata: { ...apiOf(spec).metadata, name: "aaa", uid: "older", creationTimestamp: "2026-11-30T08:00:00Z" } }
    const o = decide(world(apiOf(spec, { validationStatus: 2, virtualService: { code: 2 }, authenticationStatus: { code: 2 } }), {
      virtualService: vs,
      authentication: [{ kind: Kinds.Policy, object: policy }],
      hostClaims: [vs],
      serviceClaims: [older as KubeObject, apiOf(spec) as KubeObject]
    }))
    assert.deepStrictEqual(writes(o), ["delete VirtualService", "delete Policy"])
    assert.deepStrictEqual(states(o), ["TargetServiceOccupied", "Disabled", "NotCreated"])
  })

  it("an Api whose Service an older Api's Service shares in a way Istio cannot keep apart is Ready, Shared, with a WorkloadIsolated condition and one Warning", () => {
    const service = (name: string, selector: Record<string, string>): KubeObject => ({ apiVersion: "v1", kind: "Service", metadata: { name, namespace: "shop" }, spec: { selector } })
    const older: KubeObject = {
      ...apiOf({ service: { name: "orders-public", port: 8080 }, hostname: "orders-public" }),
      metadata: { ...apiOf(noAuth).metadata, name: "public", uid: "older", creationTimestamp: "2026-11-30T08:00:00Z" }
    }
    const o = decide(world(apiOf(withAuth), {
      service: service("orders", { app: "shared" }),
      neighbours: [{ service: service("orders-public", { app: "shared" }), apis: [older] }]
    }), security)
    assert.deepStrictEqual(states(o), ["Shared", "Created", "Created"])
    assert.deepStrictEqual(codes(o), [2, 2, 2])
    assert.strictEqual(ready(o)?.status, "True")
    const isolated = o.status.conditions?.find((c) => c.type === "WorkloadIsolated")
    assert.strictEqual(isolated?.status, "False")
    assert.strictEqual(isolated?.reason, "WorkloadShared")
    assert.include(isolated?.message ?? "", "Api shop/public")
    assert.include(o.status.lastError ?? "", "Api shop/public asks for no authentication")
    assert.deepStrictEqual(o.events.map((e) => `${e.type} ${e.reason}`), ["Normal Ready", "Warning WorkloadShared"])
    // The older Api's names are left to it by our DENY policy: its Service selects every pod ours does.
    const deny = o.writes.find(({ write: w }) => w.op === "create" && w.object.metadata.name === "orders-deny")?.write
    const notHosts = deny?.op === "create" ? (deny.object["spec"] as { rules: Array<{ to?: Array<{ operation: { notHosts?: Array<string> } }> }> }).rules[0]?.to?.[0]?.operation.notHosts : undefined
    assert.include(notHosts ?? [], "orders-public.kyma.local")
    assert.include(notHosts ?? [], "orders-public.shop.svc.cluster.local:*")
    assert.notInclude(notHosts ?? [], "orders.kyma.local")

    // Read back from its own status, the Api is still Shared: no transition, no Event, the same status.
    const again = decide(world(apiOf(withAuth, o.status), {
      service: service("orders", { app: "shared" }),
      neighbours: [{ service: service("orders-public", { app: "shared" }), apis: [older] }]
    }), security)
    assert.strictEqual(again.after.validation.state, "Shared")
    assert.deepStrictEqual(again.transitions.filter((t) => t.machine === "validation"), [])
    assert.deepStrictEqual(again.events, [])
  })

  it("an object we do not own under our name is an error, and never written", () => {
    const foreign = stored({ apiVersion: "networking.istio.io/v1alpha3", kind: "VirtualService", metadata: { name: "orders", namespace: "shop" }, spec: { hosts: ["x.kyma.local"] } })
    const o = decide(world(apiOf(noAuth), { virtualService: foreign }))
    assert.deepStrictEqual(writes(o), [])
    assert.deepStrictEqual(states(o), ["Valid", "Disabled", "Error"])
  })

  it("a thousand problems still make a status small enough to write: a few spelled out, then how many more", () => {
    const paths = Array.from({ length: 1024 }, (_, i) => ({ regex: `(${i}` }))
    const o = decide(world(apiOf({ ...noAuth, authentication: [{ type: "JWT", jwt: { ...googleJwt.jwt, triggerRule: { excludedPaths: paths } } }] })))
    assert.strictEqual(o.after.validation.state, "Invalid")
    assert.match(o.status.lastError ?? "", /; and 1019 more$/)
    assert.isBelow(JSON.stringify(o.status).length, 4096)
  })
})
