/**
 * The semantics the controller relies on from the Kubernetes API, as one table of tests that
 * runs against every `KubeApi`: the in-memory cluster (test/k8s/MemoryCluster.test.ts, fast
 * tier) and a real kube-apiserver (test/cluster/KubeApiLive.test.ts). When the two disagree the
 * real server is right and the fake gets fixed.
 *
 * Objects are VirtualServices (Istio's real CRD, with a status subresource) and Apis (ours,
 * status preserved as written).
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Fiber, type Layer, type Scope, Stream } from "effect"
import { Kinds, type KubeObject } from "../../src/domain/Kube.ts"
import { KubeApi, type KubeApiError, type WatchEvent } from "../../src/k8s/KubeApi.ts"

export interface ContractFixture {
  /** A namespace of this test's own. */
  readonly namespace: string
  /** A second one, for namespace filtering. */
  readonly otherNamespace: string
  /**
   * A resourceVersion the server keeps no history for any more (after the writes so far): a
   * watch from it must fail with Gone. The fake compacts its history; the real server's watch
   * cache starts long after resourceVersion "1".
   */
  readonly expiredResourceVersion: Effect.Effect<string>
}

export interface ContractWorld<R, E> {
  /** Shown in the describe block. */
  readonly name: string
  /** Built once per test. */
  readonly layer: () => Layer.Layer<KubeApi | R, E>
  readonly fixture: Effect.Effect<ContractFixture, KubeApiError, KubeApi | R | Scope.Scope>
}

// ---------------------------------------------------------------------------------------------
// objects

let seq = 0
const uniqueName = (base: string) => `${base}-${(seq++).toString(36)}`

export const virtualService = (
  namespace: string,
  name: string,
  options: { readonly labels?: Record<string, string>; readonly host?: string } = {}
): KubeObject => ({
  apiVersion: "networking.istio.io/v1alpha3",
  kind: "VirtualService",
  metadata: { name, namespace, ...(options.labels !== undefined ? { labels: options.labels } : {}) },
  spec: {
    hosts: [options.host ?? `${name}.kyma.local`],
    gateways: ["kyma-gateway.kyma-system.svc.cluster.local"],
    http: [{
      match: [{ uri: { regex: "/.*" } }],
      route: [{ destination: { host: `httpbin.${namespace}.svc.cluster.local`, port: { number: 8000 } } }]
    }]
  }
})

export const apiObject = (namespace: string, name: string, extra: Partial<KubeObject> = {}): KubeObject => ({
  apiVersion: "gateway.kyma-project.io/v1alpha2",
  kind: "Api",
  metadata: { name, namespace },
  spec: { service: { name: "httpbin", port: 8000 }, hostname: name },
  ...extra
})

const rvOf = (o: KubeObject) => o.metadata.resourceVersion ?? ""
const genOf = (o: KubeObject) => o.metadata.generation ?? -1
const specOf = (o: KubeObject) => o["spec"] as Record<string, unknown>

const failureOf = <A, R>(e: Effect.Effect<A, KubeApiError, R>): Effect.Effect<KubeApiError, string, R> =>
  Effect.flatMap(
    Effect.result(e),
    (r) => r._tag === "Failure" ? Effect.succeed(r.failure) : Effect.fail("expected the call to fail, it succeeded")
  )

const withoutBookmarks = (s: Stream.Stream<WatchEvent, KubeApiError>) => s.pipe(Stream.filter((e) => e.type !== "BOOKMARK"))

// ---------------------------------------------------------------------------------------------
// the table

export const kubeApiContract = <R, E>(world: ContractWorld<R, E>): void => {
  describe(`KubeApi contract: ${world.name}`, () => {
    const test = (
      title: string,
      body: (fx: ContractFixture, kube: KubeApi["Service"]) => Effect.Effect<void, unknown, KubeApi | R | Scope.Scope>
    ) =>
      it.live(title, () =>
        Effect.scoped(Effect.gen(function*() {
          const fx = yield* world.fixture
          const kube = yield* KubeApi
          yield* body(fx, kube)
        })).pipe(Effect.provide(world.layer())))

    test("create stores the object with uid, resourceVersion, generation 1; get reads it back; a missing name is NotFound", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("vs")
        const created = yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, name))
        assert.strictEqual(created.metadata.name, name)
        assert.strictEqual(created.metadata.namespace, fx.namespace)
        assert.isString(created.metadata.uid)
        assert.notStrictEqual(rvOf(created), "")
        assert.strictEqual(genOf(created), 1)
        assert.isString(created.metadata.creationTimestamp)
        assert.strictEqual(created.apiVersion, "networking.istio.io/v1alpha3")
        assert.strictEqual(created.kind, "VirtualService")

        const got = yield* kube.get(Kinds.VirtualService, fx.namespace, name)
        assert.strictEqual(got.metadata.uid, created.metadata.uid)
        assert.strictEqual(rvOf(got), rvOf(created))
        assert.deepStrictEqual(specOf(got), specOf(created))

        const missing = yield* failureOf(kube.get(Kinds.VirtualService, fx.namespace, uniqueName("missing")))
        assert.strictEqual(missing.reason, "NotFound")
      }))

    test("creating a name that exists fails with AlreadyExists", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("vs")
        yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, name))
        const err = yield* failureOf(kube.create(Kinds.VirtualService, virtualService(fx.namespace, name)))
        assert.strictEqual(err.reason, "AlreadyExists")
      }))

    test("replace with the current resourceVersion succeeds; with a stale one it fails with Conflict", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("vs")
        const v1 = yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, name))
        const v2 = yield* kube.replace(Kinds.VirtualService, {
          ...v1,
          spec: { ...specOf(v1), hosts: ["changed.kyma.local"] }
        })
        assert.notStrictEqual(rvOf(v2), rvOf(v1))
        assert.deepStrictEqual(specOf(v2)["hosts"], ["changed.kyma.local"])

        const err = yield* failureOf(kube.replace(Kinds.VirtualService, {
          ...v1,
          spec: { ...specOf(v1), hosts: ["lost-update.kyma.local"] }
        }))
        assert.strictEqual(err.reason, "Conflict")
        const now = yield* kube.get(Kinds.VirtualService, fx.namespace, name)
        assert.deepStrictEqual(specOf(now)["hosts"], ["changed.kyma.local"])
      }))

    test("replace without a resourceVersion is Invalid; with another object's uid it is a Conflict", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("vs")
        const created = yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, name))
        const { resourceVersion: _rv, ...metaWithoutRv } = created.metadata
        const unconditional = yield* failureOf(kube.replace(Kinds.VirtualService, { ...created, metadata: metaWithoutRv }))
        assert.strictEqual(unconditional.reason, "Invalid")
        assert.isTrue(
          (unconditional.causes ?? []).some((c) => c.field === "metadata.resourceVersion"),
          unconditional.message
        )

        const otherUid = yield* failureOf(kube.replace(Kinds.VirtualService, {
          ...created,
          metadata: { ...created.metadata, uid: "00000000-0000-4000-8000-00000000ffff" }
        }))
        assert.strictEqual(otherUid.reason, "Conflict")
      }))

    test("create refuses an object that still carries a resourceVersion (a copy of a read object)", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("vs")
        const created = yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, name))
        yield* kube.delete(Kinds.VirtualService, fx.namespace, name)
        const err = yield* failureOf(kube.create(Kinds.VirtualService, created))
        assert.strictEqual(err.reason, "ServerError")
        assert.include(err.detail, "resourceVersion should not be set")
      }))

    test("server-set metadata in a create is replaced; empty labels and finalizers are not stored", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("vs")
        const vs = virtualService(fx.namespace, name)
        const created = yield* kube.create(Kinds.VirtualService, {
          ...vs,
          metadata: {
            ...vs.metadata,
            uid: "00000000-0000-4000-8000-00000000abcd",
            generation: 7,
            creationTimestamp: "2000-01-01T00:00:00Z",
            labels: {},
            finalizers: []
          }
        })
        assert.notStrictEqual(created.metadata.uid, "00000000-0000-4000-8000-00000000abcd")
        assert.strictEqual(genOf(created), 1)
        assert.notStrictEqual(created.metadata.creationTimestamp, "2000-01-01T00:00:00Z")
        assert.isUndefined(created.metadata.labels)
        assert.isUndefined(created.metadata.finalizers)

        const labelled = yield* kube.patch(Kinds.VirtualService, fx.namespace, name, { metadata: { labels: { a: "1" } } })
        const emptied = yield* kube.patch(Kinds.VirtualService, fx.namespace, name, { metadata: { labels: { a: null } } })
        assert.isUndefined(emptied.metadata.labels)
        assert.notStrictEqual(rvOf(emptied), rvOf(labelled))
      }))

    test("a write that changes nothing keeps the resourceVersion", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("api")
        const created = yield* kube.create(Kinds.Api, apiObject(fx.namespace, name))
        const same = yield* kube.patch(Kinds.Api, fx.namespace, name, { spec: { hostname: name } })
        assert.strictEqual(rvOf(same), rvOf(created))
        const status = yield* kube.patchStatus(Kinds.Api, fx.namespace, name, { status: { validationStatus: 2 } })
        const sameStatus = yield* kube.patchStatus(Kinds.Api, fx.namespace, name, { status: { validationStatus: 2 } })
        assert.strictEqual(rvOf(sameStatus), rvOf(status))
      }))

    test("generation counts spec changes only: labels, annotations and status leave it alone", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("api")
        const created = yield* kube.create(Kinds.Api, apiObject(fx.namespace, name))
        assert.strictEqual(genOf(created), 1)

        const labelled = yield* kube.patch(Kinds.Api, fx.namespace, name, {
          metadata: { labels: { team: "a" }, annotations: { note: "x" } }
        })
        assert.strictEqual(genOf(labelled), 1)
        assert.notStrictEqual(rvOf(labelled), rvOf(created))

        const withStatus = yield* kube.patchStatus(Kinds.Api, fx.namespace, name, { status: { validationStatus: 2 } })
        assert.strictEqual(genOf(withStatus), 1)
        assert.notStrictEqual(rvOf(withStatus), rvOf(labelled))

        const respecced = yield* kube.patch(Kinds.Api, fx.namespace, name, { spec: { hostname: "other" } })
        assert.strictEqual(genOf(respecced), 2)

        const replaced = yield* kube.replace(Kinds.Api, {
          ...respecced,
          spec: { ...specOf(respecced), service: { name: "httpbin", port: 9000 } }
        })
        assert.strictEqual(genOf(replaced), 3)
      }))

    test("status is a subresource: status sent with create, replace or patch is ignored", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("api")
        const created = yield* kube.create(Kinds.Api, apiObject(fx.namespace, name, { status: { validationStatus: 3 } }))
        assert.isUndefined(created["status"])

        const replaced = yield* kube.replace(Kinds.Api, {
          ...created,
          metadata: { ...created.metadata, labels: { a: "1" } },
          status: { validationStatus: 3 }
        })
        assert.isUndefined(replaced["status"])
        assert.deepStrictEqual(replaced.metadata.labels, { a: "1" })

        const patched = yield* kube.patch(Kinds.Api, fx.namespace, name, {
          metadata: { labels: { a: "2" } },
          status: { validationStatus: 3 }
        })
        assert.isUndefined(patched["status"])
        assert.deepStrictEqual(patched.metadata.labels, { a: "2" })

        const got = yield* kube.get(Kinds.Api, fx.namespace, name)
        assert.isUndefined(got["status"])
      }))

    test("patchStatus changes status only: spec and metadata in the patch are ignored, generation stays", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("api")
        const created = yield* kube.create(Kinds.Api, apiObject(fx.namespace, name))
        const patched = yield* kube.patchStatus(Kinds.Api, fx.namespace, name, {
          metadata: { labels: { sneaky: "yes" } },
          spec: { hostname: "sneaky" },
          status: { validationStatus: 2, virtualService: { code: 1 } }
        })
        assert.deepStrictEqual(patched["status"], { validationStatus: 2, virtualService: { code: 1 } })
        assert.deepStrictEqual(specOf(patched), specOf(created))
        assert.isUndefined(patched.metadata.labels)
        assert.strictEqual(genOf(patched), genOf(created))

        // merge: a second patch adds to the status and removes a key with null
        const merged = yield* kube.patchStatus(Kinds.Api, fx.namespace, name, {
          status: { virtualService: { code: 2 }, validationStatus: null, observedGeneration: 1 }
        })
        assert.deepStrictEqual(merged["status"], { virtualService: { code: 2 }, observedGeneration: 1 })
      }))

    test("patchStatus with a stale metadata.resourceVersion fails with Conflict", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("api")
        const created = yield* kube.create(Kinds.Api, apiObject(fx.namespace, name))
        yield* kube.patch(Kinds.Api, fx.namespace, name, { metadata: { labels: { bump: "1" } } })
        const err = yield* failureOf(kube.patchStatus(Kinds.Api, fx.namespace, name, {
          metadata: { resourceVersion: rvOf(created) },
          status: { validationStatus: 2 }
        }))
        assert.strictEqual(err.reason, "Conflict")
        const got = yield* kube.get(Kinds.Api, fx.namespace, name)
        assert.isUndefined(got["status"])

        const current = rvOf(got)
        const ok = yield* kube.patchStatus(Kinds.Api, fx.namespace, name, {
          metadata: { resourceVersion: current },
          status: { validationStatus: 2 }
        })
        assert.deepStrictEqual(ok["status"], { validationStatus: 2 })
      }))

    test("patch with a stale metadata.resourceVersion fails with Conflict", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("vs")
        const created = yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, name))
        yield* kube.patch(Kinds.VirtualService, fx.namespace, name, { metadata: { labels: { bump: "1" } } })
        const err = yield* failureOf(kube.patch(Kinds.VirtualService, fx.namespace, name, {
          metadata: { resourceVersion: rvOf(created), labels: { bump: "2" } }
        }))
        assert.strictEqual(err.reason, "Conflict")
      }))

    test("merge patch: objects merge key by key, null removes a key, arrays are replaced whole", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("vs")
        yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, name, { labels: { a: "1", b: "2" } }))
        const patched = yield* kube.patch(Kinds.VirtualService, fx.namespace, name, {
          metadata: { labels: { a: null, c: "3" } },
          spec: { hosts: ["x.kyma.local", "y.kyma.local"], gateways: null }
        })
        assert.deepStrictEqual(patched.metadata.labels, { b: "2", c: "3" })
        assert.deepStrictEqual(specOf(patched)["hosts"], ["x.kyma.local", "y.kyma.local"])
        assert.isUndefined(specOf(patched)["gateways"])
        assert.isDefined(specOf(patched)["http"])
      }))

    test("patching a missing object fails with NotFound", (fx, kube) =>
      Effect.gen(function*() {
        const err = yield* failureOf(
          kube.patch(Kinds.VirtualService, fx.namespace, uniqueName("missing"), { metadata: { labels: { a: "1" } } })
        )
        assert.strictEqual(err.reason, "NotFound")
        const errStatus = yield* failureOf(
          kube.patchStatus(Kinds.Api, fx.namespace, uniqueName("missing"), { status: { validationStatus: 1 } })
        )
        assert.strictEqual(errStatus.reason, "NotFound")
      }))

    test("delete without finalizers removes the object at once", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("vs")
        yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, name))
        yield* kube.delete(Kinds.VirtualService, fx.namespace, name)
        const err = yield* failureOf(kube.get(Kinds.VirtualService, fx.namespace, name))
        assert.strictEqual(err.reason, "NotFound")
        const again = yield* failureOf(kube.delete(Kinds.VirtualService, fx.namespace, name))
        assert.strictEqual(again.reason, "NotFound")
      }))

    test("delete with a finalizer only marks the object; removing the last finalizer deletes it", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("api")
        const created = yield* kube.create(Kinds.Api, {
          ...apiObject(fx.namespace, name),
          metadata: { name, namespace: fx.namespace, finalizers: ["example.com/a", "example.com/b"] }
        })
        yield* kube.delete(Kinds.Api, fx.namespace, name)
        const marked = yield* kube.get(Kinds.Api, fx.namespace, name)
        assert.isString(marked.metadata.deletionTimestamp)
        assert.deepStrictEqual(marked.metadata.finalizers, ["example.com/a", "example.com/b"])
        assert.strictEqual(marked.metadata.uid, created.metadata.uid)
        // Starting deletion is a change of intent: the server bumps generation.
        assert.strictEqual(genOf(marked), genOf(created) + 1)

        // deleting again changes nothing
        yield* kube.delete(Kinds.Api, fx.namespace, name)
        const still = yield* kube.get(Kinds.Api, fx.namespace, name)
        assert.strictEqual(still.metadata.deletionTimestamp, marked.metadata.deletionTimestamp)

        // status can still be written while the object waits for its finalizers
        yield* kube.patchStatus(Kinds.Api, fx.namespace, name, { status: { validationStatus: 0 } })

        const one = yield* kube.patch(Kinds.Api, fx.namespace, name, { metadata: { finalizers: ["example.com/b"] } })
        assert.deepStrictEqual(one.metadata.finalizers, ["example.com/b"])
        yield* kube.get(Kinds.Api, fx.namespace, name)

        yield* kube.patch(Kinds.Api, fx.namespace, name, { metadata: { finalizers: null } })
        const err = yield* failureOf(kube.get(Kinds.Api, fx.namespace, name))
        assert.strictEqual(err.reason, "NotFound")
      }))

    test("an object being deleted accepts no new finalizers (Invalid)", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("api")
        yield* kube.create(Kinds.Api, {
          ...apiObject(fx.namespace, name),
          metadata: { name, namespace: fx.namespace, finalizers: ["example.com/a"] }
        })
        yield* kube.delete(Kinds.Api, fx.namespace, name)
        const err = yield* failureOf(kube.patch(Kinds.Api, fx.namespace, name, {
          metadata: { finalizers: ["example.com/a", "example.com/late"] }
        }))
        assert.strictEqual(err.reason, "Invalid")
        assert.isTrue((err.causes ?? []).some((c) => c.field === "metadata.finalizers"), err.message)
        const got = yield* kube.get(Kinds.Api, fx.namespace, name)
        assert.deepStrictEqual(got.metadata.finalizers, ["example.com/a"])
        yield* kube.patch(Kinds.Api, fx.namespace, name, { metadata: { finalizers: null } })
      }))

    test("delete with a uid precondition deletes only that incarnation (wrong uid: Conflict)", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("vs")
        const first = yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, name))
        yield* kube.delete(Kinds.VirtualService, fx.namespace, name)
        const second = yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, name))
        assert.notStrictEqual(second.metadata.uid, first.metadata.uid)

        const err = yield* failureOf(kube.delete(Kinds.VirtualService, fx.namespace, name, { uid: first.metadata.uid! }))
        assert.strictEqual(err.reason, "Conflict")
        const kept = yield* kube.get(Kinds.VirtualService, fx.namespace, name)
        assert.strictEqual(kept.metadata.uid, second.metadata.uid)

        yield* kube.delete(Kinds.VirtualService, fx.namespace, name, { uid: second.metadata.uid! })
        const gone = yield* failureOf(kube.get(Kinds.VirtualService, fx.namespace, name))
        assert.strictEqual(gone.reason, "NotFound")
      }))

    test("list filters by namespace and by label selector, sorted by name", (fx, kube) =>
      Effect.gen(function*() {
        const mark = uniqueName("run")
        const mine = { test: mark, app: "web" }
        yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, "b-web", { labels: mine }))
        yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, "a-web", { labels: mine }))
        yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, "c-db", { labels: { test: mark, app: "db" } }))
        yield* kube.create(Kinds.VirtualService, virtualService(fx.otherNamespace, "d-web", { labels: mine }))

        const inNs = yield* kube.list(Kinds.VirtualService, { namespace: fx.namespace })
        assert.deepStrictEqual(inNs.items.map((o) => o.metadata.name), ["a-web", "b-web", "c-db"])
        assert.notStrictEqual(inNs.resourceVersion, "")
        assert.isTrue(inNs.items.every((o) => o.kind === "VirtualService" && o.apiVersion !== ""))

        const web = yield* kube.list(Kinds.VirtualService, { namespace: fx.namespace, labelSelector: "app=web" })
        assert.deepStrictEqual(web.items.map((o) => o.metadata.name), ["a-web", "b-web"])

        const notWeb = yield* kube.list(Kinds.VirtualService, { labelSelector: `test=${mark},app!=web` })
        assert.deepStrictEqual(notWeb.items.map((o) => o.metadata.name), ["c-db"])

        const everywhere = yield* kube.list(Kinds.VirtualService, { labelSelector: `test=${mark},app=web` })
        assert.deepStrictEqual(
          everywhere.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort(),
          [`${fx.namespace}/a-web`, `${fx.namespace}/b-web`, `${fx.otherNamespace}/d-web`].sort()
        )

        const none = yield* kube.list(Kinds.VirtualService, { namespace: fx.namespace, labelSelector: "app=nope" })
        assert.strictEqual(none.items.length, 0)
      }))

    test("a watch from a list's resourceVersion sees ADDED, MODIFIED, DELETED in order, selector applied", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("vs")
        yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, uniqueName("before"), { labels: { w: "1" } }))
        const listed = yield* kube.list(Kinds.VirtualService, { namespace: fx.namespace, labelSelector: "w=1" })
        assert.strictEqual(listed.items.length, 1)

        const events = yield* withoutBookmarks(kube.watch(Kinds.VirtualService, {
          namespace: fx.namespace,
          labelSelector: "w=1",
          resourceVersion: listed.resourceVersion
        })).pipe(
          Stream.takeUntil((e) => e.type === "DELETED"),
          Stream.runCollect,
          Effect.timeout("30 seconds"),
          Effect.forkChild
        )

        yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, uniqueName("other"), { labels: { w: "0" } }))
        yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, name, { labels: { w: "1" } }))
        const modified = yield* kube.patch(Kinds.VirtualService, fx.namespace, name, { spec: { hosts: ["m.kyma.local"] } })
        yield* kube.delete(Kinds.VirtualService, fx.namespace, name)

        const seen = yield* Fiber.join(events)
        assert.deepStrictEqual(
          seen.map((e) => `${e.type} ${e.object.metadata.name}`),
          [`ADDED ${name}`, `MODIFIED ${name}`, `DELETED ${name}`]
        )
        const deleted = seen[2]
        assert.isTrue(deleted?.type === "DELETED" && deleted.object.metadata.uid === modified.metadata.uid)
        if (deleted?.type === "DELETED") {
          // the last stored state, at a newer resourceVersion; deleted at once, so never marked
          assert.deepStrictEqual(deleted.object.metadata.labels, { w: "1" })
          assert.isUndefined(deleted.object.metadata.deletionTimestamp)
          assert.notStrictEqual(rvOf(deleted.object), rvOf(modified))
        }
        const mod = seen[1]
        assert.isTrue(mod !== undefined && mod.type === "MODIFIED")
        if (mod?.type === "MODIFIED") {
          assert.strictEqual(rvOf(mod.object), rvOf(modified))
          assert.deepStrictEqual(specOf(mod.object)["hosts"], ["m.kyma.local"])
        }
      }))

    test("a watch across all namespaces sees every namespace's objects", (fx, kube) =>
      Effect.gen(function*() {
        const mark = uniqueName("all")
        const listed = yield* kube.list(Kinds.VirtualService, { labelSelector: `mark=${mark}` })
        const events = yield* withoutBookmarks(
          kube.watch(Kinds.VirtualService, { labelSelector: `mark=${mark}`, resourceVersion: listed.resourceVersion })
        ).pipe(Stream.take(2), Stream.runCollect, Effect.timeout("30 seconds"), Effect.forkChild)
        yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, "one", { labels: { mark } }))
        yield* kube.create(Kinds.VirtualService, virtualService(fx.otherNamespace, "two", { labels: { mark } }))
        const seen = yield* Fiber.join(events)
        assert.deepStrictEqual(
          seen.map((e) => `${e.type} ${e.object.metadata.namespace}/${e.object.metadata.name}`),
          [`ADDED ${fx.namespace}/one`, `ADDED ${fx.otherNamespace}/two`]
        )
      }))

    test("a watch sees status writes and the end of a finalized deletion", (fx, kube) =>
      Effect.gen(function*() {
        const name = uniqueName("api")
        const listed = yield* kube.list(Kinds.Api, { namespace: fx.namespace })
        const events = yield* withoutBookmarks(
          kube.watch(Kinds.Api, { namespace: fx.namespace, resourceVersion: listed.resourceVersion })
        ).pipe(
          Stream.takeUntil((e) => e.type === "DELETED"),
          Stream.runCollect,
          Effect.timeout("30 seconds"),
          Effect.forkChild
        )
        yield* kube.create(Kinds.Api, {
          ...apiObject(fx.namespace, name),
          metadata: { name, namespace: fx.namespace, finalizers: ["example.com/a"] }
        })
        yield* kube.patchStatus(Kinds.Api, fx.namespace, name, { status: { validationStatus: 2 } })
        yield* kube.delete(Kinds.Api, fx.namespace, name)
        yield* kube.patch(Kinds.Api, fx.namespace, name, { metadata: { finalizers: null } })

        const seen = yield* Fiber.join(events)
        const types = seen.map((e) => e.type)
        assert.deepStrictEqual(types, ["ADDED", "MODIFIED", "MODIFIED", "DELETED"])
        const [, status, deleting] = seen
        assert.isTrue(status?.type === "MODIFIED" && (status.object["status"] as { validationStatus?: number })
          ?.validationStatus === 2)
        assert.isTrue(deleting?.type === "MODIFIED" && deleting.object.metadata.deletionTimestamp !== undefined)
      }))

    test("a watch from a resourceVersion whose history is gone fails with Gone", (fx, kube) =>
      Effect.gen(function*() {
        yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, uniqueName("vs")))
        yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, uniqueName("vs")))
        const expired = yield* fx.expiredResourceVersion
        const result = yield* kube.watch(Kinds.VirtualService, { namespace: fx.namespace, resourceVersion: expired })
          .pipe(Stream.runCollect, Effect.timeout("30 seconds"), Effect.result)
        assert.isTrue(result._tag === "Failure", "the watch should fail")
        if (result._tag === "Failure") {
          const e = result.failure
          assert.isTrue("reason" in e && e.reason === "Gone", String(e))
        }

        // a list gives a fresh version to watch from again
        const listed = yield* kube.list(Kinds.VirtualService, { namespace: fx.namespace })
        const first = yield* withoutBookmarks(
          kube.watch(Kinds.VirtualService, { namespace: fx.namespace, resourceVersion: listed.resourceVersion })
        ).pipe(Stream.take(1), Stream.runCollect, Effect.timeout("30 seconds"), Effect.forkChild)
        const name = uniqueName("vs")
        yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, name))
        const events = yield* Fiber.join(first)
        assert.deepStrictEqual(
          events.map((e) => `${e.type} ${e.object.metadata.name}`),
          [`ADDED ${name}`]
        )
      }))

    test("a watch that is interrupted stops without an error", (fx, kube) =>
      Effect.gen(function*() {
        const listed = yield* kube.list(Kinds.VirtualService, { namespace: fx.namespace })
        const fiber = yield* kube.watch(Kinds.VirtualService, { namespace: fx.namespace, resourceVersion: listed.resourceVersion })
          .pipe(Stream.runCollect, Effect.forkChild)
        yield* Effect.sleep("50 millis")
        yield* Fiber.interrupt(fiber)
        const exit = yield* Fiber.await(fiber)
        assert.isTrue(exit._tag === "Failure" && Cause.hasInterruptsOnly(exit.cause), String(exit))
        // the API keeps working for everyone else
        yield* kube.create(Kinds.VirtualService, virtualService(fx.namespace, uniqueName("after")))
      }))
  })
}
