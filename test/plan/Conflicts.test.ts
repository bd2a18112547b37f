import { assert, describe, it } from "@effect/vitest"
import type { KubeObject, ObjectMeta } from "../../src/domain/Kube.ts"
import { hostnameHolder, keyOf, serviceHolder } from "../../src/plan/Conflicts.ts"
import { servesHost, targetServiceOf } from "../../src/plan/Claims.ts"
import { childLabels, ownerReference } from "../../src/plan/Ownership.ts"
import { testOwner } from "../support/Fixtures.ts"

const FQDN = "httpbin.kyma.local"
const T0 = "2024-01-01T00:00:00Z"
const T1 = "2024-01-02T00:00:00Z"
const T2 = "2024-01-03T00:00:00Z"

const virtualService = (
  namespace: string,
  name: string,
  hosts: ReadonlyArray<unknown>,
  meta: Partial<ObjectMeta> = {}
): KubeObject => ({
  apiVersion: "networking.istio.io/v1alpha3",
  kind: "VirtualService",
  metadata: { name, namespace, creationTimestamp: T1, ...meta },
  spec: { hosts, gateways: ["kyma-gateway.kyma-system.svc.cluster.local"] }
})

/** Our own VirtualService, owned the way the controller writes it. */
const ours = (meta: Partial<ObjectMeta> = {}): KubeObject =>
  virtualService(testOwner.namespace, testOwner.name, [FQDN], {
    labels: childLabels(testOwner),
    ownerReferences: [ownerReference(testOwner)],
    ...meta
  })

const api = (name: string, service: unknown, meta: Partial<ObjectMeta> = {}): KubeObject => ({
  apiVersion: "gateway.kyma-project.io/v1alpha2",
  kind: "Api",
  metadata: { name, namespace: "default", uid: `uid-${name}`, creationTimestamp: T1, ...meta },
  spec: { service: { name: service, port: 80 }, hostname: name }
})

describe("hostnameHolder (SPEC 6, code 4)", () => {
  it("nobody holds a host nobody serves", () => {
    assert.isUndefined(hostnameHolder(testOwner, FQDN, []))
    assert.isUndefined(hostnameHolder(testOwner, FQDN, [virtualService("other", "x", ["other.kyma.local"])]))
  })

  it("a foreign VirtualService in any namespace holds the host", () => {
    const foreign = virtualService("team-b", "legacy", [FQDN])
    assert.strictEqual(hostnameHolder(testOwner, FQDN, [foreign]), foreign)
  })

  it("a foreign VirtualService serving several hosts, one of them ours, holds it", () => {
    const foreign = virtualService("team-b", "legacy", ["a.kyma.local", FQDN])
    assert.strictEqual(hostnameHolder(testOwner, FQDN, [foreign]), foreign)
  })

  it("compares hosts case-insensitively", () => {
    const foreign = virtualService("team-b", "legacy", ["HttpBin.Kyma.Local"])
    assert.strictEqual(hostnameHolder(testOwner, FQDN, [foreign]), foreign)
    assert.strictEqual(hostnameHolder(testOwner, "HTTPBIN.KYMA.LOCAL", [virtualService("team-b", "legacy", [FQDN])])?.metadata.name, "legacy")
  })

  it("our own VirtualService never blocks us", () => {
    assert.isUndefined(hostnameHolder(testOwner, FQDN, [ours()]))
  })

  it("ownership is read from our labels when the ownerReference is missing", () => {
    assert.isUndefined(hostnameHolder(testOwner, FQDN, [ours({ ownerReferences: [] })]))
  })

  it("ownership is read from the controller ownerReference when the labels are missing", () => {
    assert.isUndefined(hostnameHolder(testOwner, FQDN, [ours({ labels: {} })]))
  })

  it("a VirtualService with our name but another Api's uid is foreign", () => {
    const other = { ...testOwner, uid: "uid-of-a-deleted-api" }
    const stale = virtualService(testOwner.namespace, testOwner.name, [FQDN], {
      labels: childLabels(other),
      ownerReferences: [ownerReference(other)]
    })
    assert.strictEqual(hostnameHolder(testOwner, FQDN, [stale]), stale)
  })

  it("a VirtualService that is being deleted does not hold the host", () => {
    assert.isUndefined(hostnameHolder(testOwner, FQDN, [virtualService("team-b", "legacy", [FQDN], { deletionTimestamp: T2 })]))
  })

  it("ours keeps the host against younger foreign ones", () => {
    assert.isUndefined(hostnameHolder(testOwner, FQDN, [
      virtualService("team-b", "late", [FQDN], { creationTimestamp: T2 }),
      ours({ creationTimestamp: T1 })
    ]))
  })

  it("an older foreign one holds the host even when ours exists", () => {
    const older = virtualService("team-b", "early", [FQDN], { creationTimestamp: T0 })
    assert.strictEqual(hostnameHolder(testOwner, FQDN, [ours({ creationTimestamp: T1 }), older]), older)
  })

  it("among foreign ones the oldest is named, whatever the input order", () => {
    const a = virtualService("team-b", "b", [FQDN], { creationTimestamp: T2 })
    const b = virtualService("team-c", "c", [FQDN], { creationTimestamp: T0 })
    const c = virtualService("team-a", "a", [FQDN], { creationTimestamp: T1 })
    assert.strictEqual(hostnameHolder(testOwner, FQDN, [a, b, c]), b)
    assert.strictEqual(hostnameHolder(testOwner, FQDN, [c, a, b]), b)
  })

  it("equal ages are broken by namespace/name", () => {
    const a = virtualService("team-b", "x", [FQDN], { creationTimestamp: T1 })
    const b = virtualService("team-a", "y", [FQDN], { creationTimestamp: T1 })
    assert.strictEqual(hostnameHolder(testOwner, FQDN, [a, b]), b)
    assert.strictEqual(hostnameHolder(testOwner, FQDN, [b, a]), b)
  })

  it("when the holder goes away or changes host, nobody holds it any more (self-healing)", () => {
    const holder = virtualService("team-b", "legacy", [FQDN], { creationTimestamp: T0 })
    assert.strictEqual(hostnameHolder(testOwner, FQDN, [holder, ours()]), holder)
    assert.isUndefined(hostnameHolder(testOwner, FQDN, [ours()]))
    assert.isUndefined(hostnameHolder(testOwner, FQDN, [virtualService("team-b", "legacy", ["moved.kyma.local"], { creationTimestamp: T0 }), ours()]))
  })

  it("a VirtualService without hosts, or with odd hosts, is ignored", () => {
    const noSpec: KubeObject = { apiVersion: "networking.istio.io/v1alpha3", kind: "VirtualService", metadata: { name: "x", namespace: "y" } }
    assert.isUndefined(hostnameHolder(testOwner, FQDN, [noSpec, virtualService("y", "z", [42, null])]))
  })

  it("gives the same answer for the same input (determinism)", () => {
    const cs = [virtualService("b", "b", [FQDN], { creationTimestamp: T1 }), virtualService("a", "a", [FQDN], { creationTimestamp: T1 })]
    assert.deepStrictEqual(hostnameHolder(testOwner, FQDN, cs), hostnameHolder(testOwner, FQDN, [...cs].reverse()))
  })
})

describe("serviceHolder (SPEC 6, code 5)", () => {
  it("an Api alone holds its service", () => {
    const self = api("one", "httpbin")
    assert.isUndefined(serviceHolder(self, "httpbin", [self]))
    assert.isUndefined(serviceHolder(self, "httpbin", []))
  })

  it("the oldest Api by creationTimestamp holds the service", () => {
    const older = api("zeta", "httpbin", { creationTimestamp: T0 })
    const self = api("alpha", "httpbin", { creationTimestamp: T1 })
    assert.strictEqual(serviceHolder(self, "httpbin", [self, older]), older)
    assert.isUndefined(serviceHolder(older, "httpbin", [self, older]))
  })

  it("equal creationTimestamps are broken by name", () => {
    const a = api("a", "httpbin", { creationTimestamp: T1 })
    const b = api("b", "httpbin", { creationTimestamp: T1 })
    assert.strictEqual(serviceHolder(b, "httpbin", [b, a]), a)
    assert.isUndefined(serviceHolder(a, "httpbin", [b, a]))
  })

  it("is not symmetric: exactly one of two claimants holds (no mutual 5 after a restart)", () => {
    const a = api("a", "httpbin", { creationTimestamp: T1 })
    const b = api("b", "httpbin", { creationTimestamp: T1 })
    const blocked = [a, b].filter((self) => serviceHolder(self, "httpbin", [a, b]) !== undefined)
    assert.deepStrictEqual(blocked.map((x) => x.metadata.name), ["b"])
  })

  it("Apis in other namespaces do not count", () => {
    const elsewhere = api("old", "httpbin", { namespace: "team-b", creationTimestamp: T0 })
    const self = api("new", "httpbin", { creationTimestamp: T2 })
    assert.isUndefined(serviceHolder(self, "httpbin", [elsewhere, self]))
  })

  it("Apis targeting another service do not count", () => {
    const self = api("new", "httpbin", { creationTimestamp: T2 })
    assert.isUndefined(serviceHolder(self, "httpbin", [api("old", "orders", { creationTimestamp: T0 }), self]))
  })

  it("a holder being deleted no longer holds, so the next one proceeds", () => {
    const holder = api("old", "httpbin", { creationTimestamp: T0, deletionTimestamp: T2 })
    const self = api("new", "httpbin", { creationTimestamp: T1 })
    assert.isUndefined(serviceHolder(self, "httpbin", [holder, self]))
  })

  it("a holder retargeted elsewhere no longer holds", () => {
    const self = api("new", "httpbin", { creationTimestamp: T1 })
    assert.strictEqual(serviceHolder(self, "httpbin", [api("old", "httpbin", { creationTimestamp: T0 }), self])?.metadata.name, "old")
    assert.isUndefined(serviceHolder(self, "httpbin", [api("old", "orders", { creationTimestamp: T0 }), self]))
  })

  it("the next oldest takes over when the holder goes, not the youngest", () => {
    const second = api("second", "httpbin", { creationTimestamp: T1 })
    const third = api("third", "httpbin", { creationTimestamp: T2 })
    assert.strictEqual(serviceHolder(third, "httpbin", [second, third]), second)
    assert.isUndefined(serviceHolder(second, "httpbin", [second, third]))
  })

  it("judges self by the service it targets now, not a stale cached copy", () => {
    const stale = api("self", "orders", { creationTimestamp: T0 })
    const self = api("self", "httpbin", { creationTimestamp: T0 })
    const other = api("other", "httpbin", { creationTimestamp: T1 })
    assert.isUndefined(serviceHolder(self, "httpbin", [stale, other]))
  })

  it("a half-broken older Api still counts as a claim", () => {
    const broken: KubeObject = { ...api("old", "httpbin", { creationTimestamp: T0 }), spec: { service: { name: "httpbin" } } }
    const self = api("new", "httpbin", { creationTimestamp: T1 })
    assert.strictEqual(serviceHolder(self, "httpbin", [broken, self]), broken)
  })

  it("gives the same answer for the same input (determinism)", () => {
    const cs = [api("b", "httpbin"), api("a", "httpbin"), api("c", "httpbin")]
    assert.deepStrictEqual(serviceHolder(cs[2]!, "httpbin", cs), serviceHolder(cs[2]!, "httpbin", [...cs].reverse()))
  })
})

describe("targetServiceOf / servesHost / keyOf", () => {
  it("reads the target service leniently", () => {
    assert.strictEqual(targetServiceOf(api("a", "httpbin")), "httpbin")
    assert.isUndefined(targetServiceOf(api("a", 42)))
    assert.isUndefined(targetServiceOf({ apiVersion: "v", kind: "Api", metadata: { name: "a" } }))
    assert.isUndefined(targetServiceOf({ apiVersion: "v", kind: "Api", metadata: { name: "a" }, spec: "junk" }))
  })

  it("servesHost compares case-insensitively", () => {
    assert.isTrue(servesHost(virtualService("a", "b", ["X.Kyma.Local"]), "x.kyma.local"))
    assert.isFalse(servesHost(virtualService("a", "b", ["y.kyma.local"]), "x.kyma.local"))
  })

  it("keyOf is namespace/name, the form lastError names a holder in", () => {
    assert.strictEqual(keyOf(virtualService("team-b", "legacy", [])), "team-b/legacy")
  })
})
