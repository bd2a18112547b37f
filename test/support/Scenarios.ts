/**
 * The behaviour scenarios of SPEC.md, written once and run in four worlds: against the in-memory
 * cluster (test/controller/Scenarios.test.ts) and against a real kube-apiserver
 * (test/cluster/Scenarios.test.ts), each under both authentication backends (SPEC 10). Same
 * table, different layers, so the fake cannot drift from the real server unnoticed and neither
 * backend is second class. Scenarios drive the reconciler pass by pass and assert the world.
 *
 * What authentication looks like is read back backend-independently (`authenticationShape`):
 * issuers in order, each origin's excluded paths, mTLS. The exact objects each backend renders
 * are pinned by the golden tests in test/plan/.
 */
import { assert } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { type ApiStatus, decodeStatus } from "../../src/domain/Api.ts"
import { Kinds, type KubeObject, type ObjectKey, objectKey, type ResourceKind, splitKey } from "../../src/domain/Kube.ts"
import { ClusterView } from "../../src/controller/ClusterView.ts"
import { Reconciler } from "../../src/controller/Reconciler.ts"
import { Settings } from "../../src/controller/Settings.ts"
import { ALL_AUTHENTICATION_KINDS, BACKENDS } from "../../src/plan/Backends.ts"
import { EventRecorder } from "../../src/k8s/EventRecorder.ts"
import { KubeApi, orAbsent } from "../../src/k8s/KubeApi.ts"
import { type AuthenticationBackend, childName } from "../../src/plan/AuthenticationBackend.ts"
import { gatewayRef } from "../../src/plan/VirtualServicePlan.ts"
import { apiObject, type ApiSpecInput, googleJwt, testConfig } from "./Fixtures.ts"

/** Where a scenario runs: two namespaces of its own, the backend, and how to wait for the cluster. */
export class ScenarioEnv extends Context.Service<ScenarioEnv, {
  readonly namespace: string
  readonly otherNamespace: string
  readonly backend: AuthenticationBackend
  /** Retries an assertion until it holds: at once in memory, for a while on a real cluster (garbage collection). */
  readonly eventually: <A, E, R>(check: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}>()("test/ScenarioEnv") {}

export type ScenarioEffect = Effect.Effect<void, unknown, KubeApi | Reconciler | ScenarioEnv>

export interface Scenario {
  readonly name: string
  /** Only under these backends (default: both). */
  readonly backends?: ReadonlyArray<AuthenticationBackend["name"]>
  readonly run: ScenarioEffect
}

/**
 * The reconciler settings a world runs a backend with, as discovery would pick them: every
 * authentication kind observed; the VirtualService as `networking.istio.io/v1` next to today's
 * security kinds, as `v1alpha3` next to the legacy Policy (pre-1.6 Istio).
 */
export const scenarioSettings = (backend: AuthenticationBackend) => ({
  backend,
  virtualServiceKind: backend.selectsWorkload ? Kinds.VirtualServiceV1 : Kinds.VirtualService,
  authenticationKinds: [...backend.kinds, ...ALL_AUTHENTICATION_KINDS.filter((k) => !backend.kinds.includes(k))]
})

// --- vocabulary ------------------------------------------------------------------------------

const env = Effect.service(ScenarioEnv)

const split = (key: ObjectKey): [string, string] => {
  const { namespace, name } = splitKey(key)
  return [namespace, name]
}

/** The target Service of an Api, with a selector, so workload-selecting backends can secure it. */
export const ensureService = (name: string, selector: Readonly<Record<string, string>> = { app: name }, port = 80) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const { namespace } = yield* env
    yield* kube.create(Kinds.Service, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace },
      spec: { selector, ports: [{ name: "http", port }] }
    }).pipe(Effect.catchIf((e) => e.reason === "AlreadyExists", () => Effect.void))
  })

export const createApi = (name: string, spec: ApiSpecInput) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const { namespace } = yield* env
    const service = spec.service?.name
    const port = typeof spec.service?.port === "number" ? spec.service.port : 80
    if (typeof service === "string" && /^[a-z0-9-]+$/.test(service)) yield* ensureService(service, { app: service }, port)
    yield* kube.create(Kinds.Api, apiObject(namespace, name, spec))
    return objectKey(namespace, name)
  })

/** Reconcile until each key's pass asks for nothing more; passes alternate between keys. */
export const settle = (...keys: ReadonlyArray<ObjectKey>) =>
  Effect.gen(function*() {
    const reconciler = yield* Reconciler
    const quiet = new Set<ObjectKey>()
    for (let round = 0; round < 8 && quiet.size < keys.length; round++) {
      for (const key of keys) {
        if (quiet.has(key)) continue
        const r = yield* Effect.result(reconciler.reconcile(key))
        if (r._tag === "Success" || r.failure.reason === "permanent") quiet.add(key)
      }
    }
    assert.strictEqual(quiet.size, keys.length, `reconcile of ${keys.join(", ")} did not settle`)
  })

export const statusOf = (key: ObjectKey) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const api = yield* kube.get(Kinds.Api, ...split(key))
    return decodeStatus(api["status"])
  })

export const apiOf = (key: ObjectKey) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    return yield* kube.get(Kinds.Api, ...split(key))
  })

export const find = (kind: ResourceKind, namespace: string, name: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    return yield* orAbsent(kube.get(kind, namespace, name))
  })

export const virtualServiceOf = (key: ObjectKey) => find(Kinds.VirtualService, ...split(key))

/** The children of `kinds` (default: the scenario's backend) named after the Api that exist. */
export const authenticationOf = (key: ObjectKey, kinds?: ReadonlyArray<ResourceKind>) =>
  Effect.gen(function*() {
    const { backend } = yield* env
    const found: Array<KubeObject> = []
    const [namespace, name] = split(key)
    // Every child name any backend writes for these kinds (an AuthorizationPolicy and its `-deny`).
    const slots = [...backend.slots, ...BACKENDS.flatMap((b) => b.slots)].filter((slot, i, all) =>
      (kinds ?? backend.kinds).includes(slot.kind) && all.findIndex((o) => o.kind === slot.kind && o.suffix === slot.suffix) === i
    )
    for (const slot of slots) {
      const o = yield* find(slot.kind, namespace, childName(name, slot))
      if (o !== undefined) found.push(o)
    }
    return found
  })

/** What the authentication children enforce, read back the same way for both backends. */
export interface AuthenticationShape {
  readonly issuers: ReadonlyArray<string>
  /** Per issuer: the paths its origin excludes, as `exact:/a`, `prefix:/b`, `suffix:/c`, `regex:...`. */
  readonly excluded: Readonly<Record<string, ReadonlyArray<string>>>
  readonly mtls: boolean
}

const fromIstioPath = (p: string) =>
  p.endsWith("*") ? `prefix:${p.slice(0, -1)}` : p.startsWith("*") ? `suffix:${p.slice(1)}` : `exact:${p}`

export const authenticationShape = (children: ReadonlyArray<KubeObject>): AuthenticationShape => {
  const byKind = (kind: string) => children.find((c) => c.kind === kind)
  const policy = byKind("Policy")
  if (policy !== undefined) {
    const origins = (specOf(policy)?.["origins"] ?? []) as ReadonlyArray<
      { jwt: { issuer: string; trigger_rules?: ReadonlyArray<{ excluded_paths: ReadonlyArray<Record<string, string>> }> } }
    >
    return {
      issuers: origins.map((o) => o.jwt.issuer),
      excluded: Object.fromEntries(origins.map((o) => [
        o.jwt.issuer,
        (o.jwt.trigger_rules ?? []).flatMap((r) => r.excluded_paths.map((p) => Object.entries(p).map(([k, v]) => `${k}:${v}`)[0]!))
      ])),
      mtls: specOf(policy)?.["peers"] !== undefined
    }
  }
  const ra = byKind("RequestAuthentication")
  const ap = children.find((c) => c.kind === "AuthorizationPolicy" && specOf(c)?.["action"] === "ALLOW")
  const rules = (specOf(ap)?.["rules"] ?? []) as ReadonlyArray<{
    from?: ReadonlyArray<{ source: { requestPrincipals?: ReadonlyArray<string> } }>
    to?: ReadonlyArray<{ operation: { notPaths?: ReadonlyArray<string> } }>
  }>
  const issuers = ((specOf(ra)?.["jwtRules"] ?? []) as ReadonlyArray<{ issuer: string }>).map((r) => r.issuer)
  return {
    issuers,
    excluded: Object.fromEntries(issuers.map((issuer) => {
      const rule = rules.find((r) => r.from?.[0]?.source.requestPrincipals?.includes(`${issuer}/*`))
      return [issuer, (rule?.to?.[0]?.operation.notPaths ?? []).map(fromIstioPath)]
    })),
    mtls: byKind("PeerAuthentication") !== undefined
  }
}

export const updateSpec = (key: ObjectKey, change: (spec: Record<string, unknown>) => Record<string, unknown>) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const api = yield* kube.get(Kinds.Api, ...split(key))
    yield* kube.replace(Kinds.Api, { ...api, spec: change(api["spec"] as Record<string, unknown>) })
  })

export const deleteObject = (kind: ResourceKind, namespace: string, name: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    yield* kube.delete(kind, namespace, name)
  })

/** A reconciler like the world's, but writing with another backend (a restart with another AUTH_BACKEND). */
const reconcilerWith = (backend: AuthenticationBackend) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    // Fresh: the world's Reconciler is memoized, and this one must be built with other settings.
    return yield* Layer.build(
      Layer.fresh(Reconciler.layer).pipe(
        Layer.provide(Layer.mergeAll(
          ClusterView.layerDirect,
          EventRecorder.layerTest,
          Settings.layer(testConfig, scenarioSettings(backend))
        )),
        Layer.provide(Layer.succeed(KubeApi, kube))
      )
    )
  })

const specOf = (o: KubeObject | undefined) => o?.["spec"] as Record<string, unknown> | undefined

const readyOf = (s: ApiStatus) => s.conditions?.find((c) => c.type === "Ready")

const assertCreated = (s: ApiStatus, withAuth: boolean) => {
  assert.strictEqual(s.validationStatus, 2, `validationStatus (lastError: ${s.lastError})`)
  assert.strictEqual(s.virtualService?.code, 2, `virtualService.code (lastError: ${s.virtualService?.lastError})`)
  if (withAuth) {
    assert.strictEqual(s.authenticationStatus?.code, 2, `authenticationStatus.code (lastError: ${s.authenticationStatus?.lastError})`)
  } else assert.isUndefined(s.authenticationStatus, "no authenticationStatus without authentication")
  assert.strictEqual(readyOf(s)?.status, "True", "Ready condition")
}

const refOf = (o: KubeObject) => ({ name: o.metadata.name, uid: o.metadata.uid, version: o.metadata.resourceVersion })

const httpbin = { service: { name: "httpbin", port: 8000 }, hostname: "httpbin" }

const google = { issuer: "https://accounts.google.com", jwksUri: "https://www.googleapis.com/oauth2/v3/certs" }
const dex = { issuer: "https://dex.example.com", jwksUri: "https://dex.example.com/keys" }

const excludedPathsRule = {
  type: "JWT",
  jwt: { ...google, triggerRule: { excludedPaths: [{ exact: "/status" }, { prefix: "/web" }, { suffix: "/favicon.ico" }] } }
}

/**
 * An invalid Api is refused: by admission when the world's CRD schema catches it (real server),
 * else by the controller with validationStatus 3 and a lastError naming the problem.
 */
const expectInvalid = (name: string, spec: ApiSpecInput, field: string, fragment: string) =>
  Effect.gen(function*() {
    const created = yield* Effect.result(createApi(name, spec))
    if (created._tag === "Failure") {
      const e = created.failure as { reason?: string; message?: string }
      assert.strictEqual(e.reason, "Invalid", `admission refused ${name} for another reason: ${e.message}`)
      // The server may or may not index list items in its message: compare without indexes.
      const unindexed = (t: string) => t.replace(/\[\d+\]/g, "")
      assert.include(unindexed(e.message ?? ""), unindexed(field), "the admission message names the field")
      return
    }
    const key = created.success
    yield* settle(key)
    const s = yield* statusOf(key)
    assert.strictEqual(s.validationStatus, 3, `${name}: validationStatus`)
    assert.include(s.lastError ?? "", field, `${name}: lastError names the field`)
    assert.include(s.lastError ?? "", fragment, `${name}: lastError says what is wrong`)
    assert.strictEqual(readyOf(s)?.reason, "InvalidSpec")
    assert.isUndefined(yield* virtualServiceOf(key), `${name}: nothing is created`)
    assert.deepStrictEqual(yield* authenticationOf(key), [], `${name}: nothing is created`)
    // Leave nothing behind: one of these lives outside the scenario's namespaces (default).
    yield* deleteObject(Kinds.Api, ...split(key))
    yield* settle(key)
    assert.isUndefined(yield* find(Kinds.Api, ...split(key)), `${name}: deleted`)
  })

// --- the table -------------------------------------------------------------------------------

export const scenarios: ReadonlyArray<Scenario> = [
  {
    name: "an Api without authentication gets a VirtualService and no authentication children",
    run: Effect.gen(function*() {
      const { namespace, backend } = yield* env
      const key = yield* createApi("plain", httpbin)
      yield* settle(key)
      const s = yield* statusOf(key)
      assertCreated(s, false)
      const vs = yield* virtualServiceOf(key)
      assert.deepStrictEqual(specOf(vs), {
        hosts: ["httpbin.kyma.local"],
        // GATEWAY_FQDN as given (v1alpha3), or as <namespace>/<name> (v1, today's Istio).
        gateways: [gatewayRef(testConfig.gatewayFqdn, scenarioSettings(backend).virtualServiceKind)],
        http: [{
          match: [{ uri: { regex: "/.*" } }],
          route: [{ destination: { host: `httpbin.${namespace}.svc.cluster.local`, port: { number: 8000 } } }]
        }]
      })
      assert.deepStrictEqual(s.virtualService?.resource, refOf(vs!))
      assert.deepStrictEqual(yield* authenticationOf(key), [])
      assert.strictEqual(s.observedGeneration, (yield* apiOf(key)).metadata.generation)
    })
  },
  {
    name: "custom JWT rules with excluded paths: one origin each, in order, with its excluded paths and mTLS",
    run: Effect.gen(function*() {
      const { backend } = yield* env
      const key = yield* createApi("jwt", { ...httpbin, authentication: [excludedPathsRule, { type: "JWT", jwt: dex }] })
      yield* settle(key)
      const s = yield* statusOf(key)
      assertCreated(s, true)
      const children = yield* authenticationOf(key)
      assert.deepStrictEqual(children.map((c) => c.kind), backend.slots.map((slot) => slot.kind.kind), "every child of the backend")
      assert.deepStrictEqual(authenticationShape(children), {
        issuers: [google.issuer, dex.issuer],
        excluded: { [google.issuer]: ["exact:/status", "prefix:/web", "suffix:/favicon.ico"], [dex.issuer]: [] },
        mtls: true
      })
      assert.deepStrictEqual(s.authenticationStatus?.resource, refOf(children[0]!), "status names the first child")
    })
  },
  {
    name: "a regex excluded path is a legacy Policy trigger rule",
    backends: ["istio-policy"],
    run: Effect.gen(function*() {
      const key = yield* createApi("regex", {
        ...httpbin,
        authentication: [{ type: "JWT", jwt: { ...google, triggerRule: { excludedPaths: [{ regex: "^/api/orders/(.*?)?" }] } } }]
      })
      yield* settle(key)
      assertCreated(yield* statusOf(key), true)
      assert.deepStrictEqual(authenticationShape(yield* authenticationOf(key)).excluded, {
        [google.issuer]: ["regex:^/api/orders/(.*?)?"]
      })
    })
  },
  {
    name: "a regex excluded path cannot be expressed by Istio authorization: a validation error saying what to use",
    backends: ["istio-security"],
    run: expectInvalid("regex", {
      ...httpbin,
      authentication: [{ type: "JWT", jwt: { ...google, triggerRule: { excludedPaths: [{ regex: "^/api/orders/(.*?)?" }] } } }]
    }, "spec.authentication[0].jwt.triggerRule.excludedPaths[0].regex", "use exact, prefix or suffix")
  },
  {
    name: "authentication on without rules uses the default issuer",
    run: Effect.gen(function*() {
      const key = yield* createApi("default-jwt", { ...httpbin, authenticationEnabled: true })
      yield* settle(key)
      assertCreated(yield* statusOf(key), true)
      assert.deepStrictEqual(authenticationShape(yield* authenticationOf(key)).issuers, [testConfig.defaultIssuer])
    })
  },
  {
    name: "authenticationEnabled false means no authentication whatever the rules say",
    run: Effect.gen(function*() {
      const key = yield* createApi("auth-off", { ...httpbin, authenticationEnabled: false, authentication: [googleJwt] })
      yield* settle(key)
      assertCreated(yield* statusOf(key), false)
      assert.deepStrictEqual(yield* authenticationOf(key), [])
    })
  },
  {
    name: "switching authentication on creates the children and switching it off deletes them and drops their status",
    run: Effect.gen(function*() {
      const key = yield* createApi("switch", httpbin)
      yield* settle(key)
      assertCreated(yield* statusOf(key), false)

      yield* updateSpec(key, (s) => ({ ...s, authentication: [googleJwt] }))
      yield* settle(key)
      assertCreated(yield* statusOf(key), true)
      assert.isNotEmpty(yield* authenticationOf(key))

      yield* updateSpec(key, (s) => ({ ...s, authenticationEnabled: false }))
      yield* settle(key)
      const s = yield* statusOf(key)
      assertCreated(s, false)
      assert.deepStrictEqual(yield* authenticationOf(key), [], "children deleted")
      assert.strictEqual(s.observedGeneration, 3)
    })
  },
  {
    name: "mTLS can be turned off per Api",
    run: Effect.gen(function*() {
      const key = yield* createApi("no-mtls", { ...httpbin, disableIstioAuthPolicyMTLS: true, authentication: [googleJwt] })
      yield* settle(key)
      assertCreated(yield* statusOf(key), true)
      assert.isFalse(authenticationShape(yield* authenticationOf(key)).mtls, "no mTLS")
    })
  },
  {
    name: "a short hostname is completed with the domain and the Api's spec is left as written",
    run: Effect.gen(function*() {
      const key = yield* createApi("short", { service: { name: "orders", port: 80 }, hostname: "my-svc" })
      const full = yield* createApi("full", { service: { name: "billing", port: 80 }, hostname: "billing.kyma.local" })
      yield* settle(key, full)
      assert.deepStrictEqual(specOf(yield* virtualServiceOf(key))?.["hosts"], ["my-svc.kyma.local"])
      assert.deepStrictEqual(specOf(yield* virtualServiceOf(full))?.["hosts"], ["billing.kyma.local"])
      assert.strictEqual(specOf(yield* apiOf(key))?.["hostname"], "my-svc")
    })
  },
  {
    name: "a hostname taken by another VirtualService blocks the Api until the holder goes away",
    run: Effect.gen(function*() {
      const kube = yield* KubeApi
      const { otherNamespace } = yield* env
      yield* kube.create(Kinds.VirtualService, {
        apiVersion: "networking.istio.io/v1alpha3",
        kind: "VirtualService",
        metadata: { name: "squatter", namespace: otherNamespace },
        spec: { hosts: ["Taken.kyma.local"], gateways: ["mesh"] }
      })
      const key = yield* createApi("blocked", { ...httpbin, hostname: "taken", authentication: [googleJwt] })
      yield* settle(key)
      let s = yield* statusOf(key)
      assert.strictEqual(s.validationStatus, 2)
      assert.strictEqual(s.virtualService?.code, 4)
      assert.include(s.virtualService?.lastError ?? "", `${otherNamespace}/squatter`)
      assert.strictEqual(readyOf(s)?.reason, "HostnameOccupied")
      assert.isUndefined(yield* virtualServiceOf(key))
      assert.deepStrictEqual(yield* authenticationOf(key), [], "no authentication for an Api that is not exposed")

      yield* deleteObject(Kinds.VirtualService, otherNamespace, "squatter")
      yield* settle(key)
      s = yield* statusOf(key)
      assertCreated(s, true)
    })
  },
  {
    name: "an Api that loses its host to an older VirtualService withdraws its own at once and reports 4",
    run: Effect.gen(function*() {
      const kube = yield* KubeApi
      const { namespace } = yield* env
      // Created first, so older (or, within the same second, first by namespace/name).
      yield* kube.create(Kinds.VirtualService, {
        apiVersion: "networking.istio.io/v1alpha3",
        kind: "VirtualService",
        metadata: { name: "aaa-older", namespace },
        spec: { hosts: ["elsewhere.kyma.local"], gateways: ["mesh"] }
      })
      const key = yield* createApi("late", { ...httpbin, hostname: "contested" })
      yield* settle(key)
      assertCreated(yield* statusOf(key), false)
      // The older one now serves our host too (as after a creation race between namespaces).
      const older = (yield* find(Kinds.VirtualService, namespace, "aaa-older"))!
      yield* kube.replace(Kinds.VirtualService, { ...older, spec: { ...specOf(older), hosts: ["contested.kyma.local"] } })
      yield* settle(key)
      const s = yield* statusOf(key)
      assert.strictEqual(s.virtualService?.code, 4)
      assert.include(s.virtualService?.lastError ?? "", `${namespace}/aaa-older`)
      assert.isUndefined(s.virtualService?.resource, "nothing of ours is reported")
      assert.isUndefined(yield* virtualServiceOf(key), "never two of ours for one host: ours is withdrawn")
    })
  },
  {
    name: "two Apis for one Service: the oldest holds it and the other proceeds once it is deleted",
    run: Effect.gen(function*() {
      const { namespace, eventually } = yield* env
      const first = yield* createApi("a-first", httpbin)
      const second = yield* createApi("b-second", { ...httpbin, hostname: "httpbin-two" })
      yield* settle(first, second)
      assertCreated(yield* statusOf(first), false)
      let s = yield* statusOf(second)
      assert.strictEqual(s.validationStatus, 5)
      assert.include(s.lastError ?? "", `${namespace}/a-first`)
      assert.strictEqual(readyOf(s)?.reason, "TargetServiceOccupied")
      assert.isUndefined(yield* virtualServiceOf(second), "the second creates nothing")

      // Settling again changes nothing: the decision is not sticky or symmetric.
      yield* settle(first, second)
      assertCreated(yield* statusOf(first), false)

      yield* deleteObject(Kinds.Api, namespace, "a-first")
      // Garbage collection takes the first one's VirtualService; then the second proceeds.
      yield* eventually(Effect.gen(function*() {
        assert.isUndefined(yield* find(Kinds.VirtualService, namespace, "a-first"))
      }))
      yield* settle(first, second)
      assert.isUndefined(yield* find(Kinds.Api, namespace, "a-first"))
      s = yield* statusOf(second)
      assertCreated(s, false)
      assert.deepStrictEqual(specOf(yield* virtualServiceOf(second))?.["hosts"], ["httpbin-two.kyma.local"])
    })
  },
  {
    name: "invalid input is reported with code 3 and a message per problem",
    run: Effect.gen(function*() {
      yield* expectInvalid("outside-domain", { ...httpbin, hostname: "api.example.com" }, "spec.hostname", "outside the cluster domain")
      yield* expectInvalid("blacklisted", { service: { name: "kubernetes", port: 443 }, hostname: "k8s" }, "spec.service.name", "BLACKLISTED_SERVICES")
        .pipe(Effect.updateService(ScenarioEnv, (e) => ({ ...e, namespace: "default" })))
      yield* expectInvalid("bad-issuer", {
        ...httpbin,
        authentication: [{ type: "JWT", jwt: { issuer: "accounts.google.com", jwksUri: "https://x.example.com/keys" } }]
      }, "spec.authentication[0].jwt.issuer", "absolute http(s) URL")
      yield* expectInvalid("bad-jwks", {
        ...httpbin,
        authentication: [{ type: "JWT", jwt: { issuer: "https://x.example.com", jwksUri: "ftp://x.example.com/keys" } }]
      }, "spec.authentication[0].jwt.jwksUri", "absolute http(s) URL")
      yield* expectInvalid("twice", {
        ...httpbin,
        authentication: [
          { type: "JWT", jwt: { issuer: "https://x.example.com", jwksUri: "https://x.example.com/a" } },
          { type: "JWT", jwt: { issuer: "https://x.example.com", jwksUri: "https://x.example.com/b" } }
        ]
      }, "spec.authentication[1].jwt.jwksUri", "given twice")
      yield* expectInvalid("unknown-type", {
        ...httpbin,
        authentication: [{ type: "OAuth", jwt: { issuer: "https://x.example.com", jwksUri: "https://x.example.com/a" } }]
      }, "spec.authentication[0].type", "unknown authentication type")
    })
  },
  {
    name: "a regex that does not compile is reported with code 3",
    backends: ["istio-policy"],
    run: expectInvalid("bad-regex", {
      ...httpbin,
      authentication: [{
        type: "JWT",
        jwt: { issuer: "https://x.example.com", jwksUri: "https://x.example.com/a", triggerRule: { excludedPaths: [{ regex: "(" }] } }
      }]
    }, "spec.authentication[0].jwt.triggerRule.excludedPaths[0].regex", "not a valid regular expression")
  },
  {
    name: "a child deleted by hand is restored",
    run: Effect.gen(function*() {
      const { backend } = yield* env
      const key = yield* createApi("restore", { ...httpbin, authentication: [googleJwt] })
      yield* settle(key)
      const before = yield* virtualServiceOf(key)
      yield* deleteObject(Kinds.VirtualService, ...split(key))
      yield* deleteObject(backend.kinds[0]!, ...split(key))
      yield* settle(key)
      const after = yield* virtualServiceOf(key)
      assert.isDefined(after)
      assert.notStrictEqual(after!.metadata.uid, before!.metadata.uid)
      assert.strictEqual((yield* authenticationOf(key)).length, backend.slots.length)
      const s = yield* statusOf(key)
      assertCreated(s, true)
      assert.deepStrictEqual(s.virtualService?.resource, refOf(after!), "status names the new VirtualService")
    })
  },
  {
    name: "a child edited by hand is put back to the plan",
    run: Effect.gen(function*() {
      const kube = yield* KubeApi
      const key = yield* createApi("drift", httpbin)
      yield* settle(key)
      const vs = (yield* virtualServiceOf(key))!
      yield* kube.replace(Kinds.VirtualService, { ...vs, spec: { ...specOf(vs), hosts: ["hijacked.kyma.local"] } })
      yield* settle(key)
      assert.deepStrictEqual(specOf(yield* virtualServiceOf(key))?.["hosts"], ["httpbin.kyma.local"])
      assertCreated(yield* statusOf(key), false)
    })
  },
  {
    name: "an Api that becomes invalid keeps its last good children serving and reports them",
    run: Effect.gen(function*() {
      const key = yield* createApi("keeps", { ...httpbin, authentication: [googleJwt] })
      yield* settle(key)
      yield* updateSpec(key, (s) => ({ ...s, hostname: "keeps.example.com" }))
      yield* settle(key)
      const s = yield* statusOf(key)
      assert.strictEqual(s.validationStatus, 3)
      const vs = yield* virtualServiceOf(key)
      assert.deepStrictEqual(specOf(vs)?.["hosts"], ["httpbin.kyma.local"], "the old VirtualService still serves")
      assert.strictEqual(s.virtualService?.code, 2, "its code says it exists")
      assert.deepStrictEqual(s.virtualService?.resource, refOf(vs!))
      assert.strictEqual(s.authenticationStatus?.code, 2)
    })
  },
  {
    name: "an object we do not own under our name is an error, not overwritten",
    run: Effect.gen(function*() {
      const kube = yield* KubeApi
      const { namespace } = yield* env
      yield* kube.create(Kinds.VirtualService, {
        apiVersion: "networking.istio.io/v1alpha3",
        kind: "VirtualService",
        metadata: { name: "mine", namespace },
        spec: { hosts: ["mine-by-hand.kyma.local"] }
      })
      const key = yield* createApi("mine", httpbin)
      yield* settle(key)
      const s = yield* statusOf(key)
      assert.strictEqual(s.virtualService?.code, 3)
      assert.include(s.virtualService?.lastError ?? "", "not managed by this Api")
      assert.deepStrictEqual(specOf(yield* virtualServiceOf(key))?.["hosts"], ["mine-by-hand.kyma.local"], "left alone")
    })
  },
  {
    name: "deleting an Api removes its children by garbage collection, with no finalizer holding it",
    run: Effect.gen(function*() {
      const { eventually } = yield* env
      const key = yield* createApi("doomed", { ...httpbin, authentication: [googleJwt] })
      yield* settle(key)
      assert.isUndefined((yield* apiOf(key)).metadata.finalizers, "no finalizer")
      yield* deleteObject(Kinds.Api, ...split(key))
      assert.isUndefined(yield* find(Kinds.Api, ...split(key)), "nothing holds the Api")
      yield* eventually(Effect.gen(function*() {
        assert.isUndefined(yield* virtualServiceOf(key))
        assert.deepStrictEqual(yield* authenticationOf(key), [])
      }))
    })
  },
  {
    name: "a missing target Service is an authentication error naming it; nothing is exposed; it heals when the Service comes",
    backends: ["istio-security"],
    run: Effect.gen(function*() {
      const kube = yield* KubeApi
      const { namespace } = yield* env
      yield* kube.create(Kinds.Api, apiObject(namespace, "orphan", { service: { name: "nowhere", port: 80 }, hostname: "orphan", authentication: [googleJwt] }))
      const key = objectKey(namespace, "orphan")
      yield* settle(key)
      let s = yield* statusOf(key)
      assert.strictEqual(s.authenticationStatus?.code, 3)
      assert.include(s.authenticationStatus?.lastError ?? "", `Service ${namespace}/nowhere does not exist`)
      assert.strictEqual(s.virtualService?.code, 0)
      assert.isUndefined(yield* virtualServiceOf(key), "secure before expose")
      assert.strictEqual(readyOf(s)?.reason, "AuthenticationFailed")

      yield* ensureService("nowhere")
      yield* settle(key)
      s = yield* statusOf(key)
      assertCreated(s, true)
    })
  },
  {
    name: "a Service without a selector is an authentication error; a selector change updates the children",
    backends: ["istio-security"],
    run: Effect.gen(function*() {
      const kube = yield* KubeApi
      const { backend } = yield* env
      const key = yield* createApi("selected", { ...httpbin, authentication: [googleJwt] })
      yield* settle(key)
      assertCreated(yield* statusOf(key), true)
      const selectors = () =>
        Effect.map(authenticationOf(key), (cs) => cs.map((c) => (specOf(c)?.["selector"] as { matchLabels: unknown }).matchLabels))
      assert.deepStrictEqual(yield* selectors(), backend.slots.map(() => ({ app: "httpbin" })))

      const [namespace] = split(key)
      const svc = (yield* find(Kinds.Service, namespace, "httpbin"))!
      yield* kube.replace(Kinds.Service, { ...svc, spec: { ...specOf(svc), selector: { app: "httpbin", track: "v2" } } })
      yield* settle(key)
      assert.deepStrictEqual(yield* selectors(), backend.slots.map(() => ({ app: "httpbin", track: "v2" })))
      assertCreated(yield* statusOf(key), true)

      const current = (yield* find(Kinds.Service, namespace, "httpbin"))!
      const { selector: _, ...noSelector } = specOf(current)!
      yield* kube.replace(Kinds.Service, { ...current, spec: noSelector })
      yield* settle(key)
      const s = yield* statusOf(key)
      assert.strictEqual(s.authenticationStatus?.code, 3)
      assert.include(s.authenticationStatus?.lastError ?? "", "has no spec.selector")
    })
  },
  {
    name: "switching backends creates the new children before the old ones go, and leaves exactly the new ones",
    backends: ["istio-security"],
    run: Effect.gen(function*() {
      const { backend } = yield* env
      const key = yield* createApi("switched", { ...httpbin, authentication: [googleJwt] })
      const legacy = yield* reconcilerWith(legacyBackend())
      yield* Effect.provide(settle(key), legacy)
      assert.deepStrictEqual((yield* authenticationOf(key, [Kinds.Policy])).map((c) => c.kind), ["Policy"])
      assertCreated(yield* statusOf(key), true)

      // Restarted with the other backend: the Policy stays until the new children exist.
      const kube = yield* KubeApi
      const order: Array<string> = []
      const watching = Layer.succeed(KubeApi, KubeApi.of({
        ...kube,
        create: (kind, o) => Effect.tap(kube.create(kind, o), () => Effect.sync(() => void order.push(`create ${kind.kind}`))),
        delete: (kind, ns, n, opt) => Effect.tap(kube.delete(kind, ns, n, opt), () => Effect.sync(() => void order.push(`delete ${kind.kind}`)))
      }))
      const current = yield* reconcilerWith(backend).pipe(Effect.provide(watching))
      yield* Effect.provide(settle(key), current)
      assert.deepStrictEqual(order, [...backend.slots.map((s) => `create ${s.kind.kind}`), "delete Policy"])
      assert.deepStrictEqual((yield* authenticationOf(key, ALL_AUTHENTICATION_KINDS)).map((c) => c.metadata.name), backend.slots.map((s) => `switched${s.suffix}`))
      assertCreated(yield* statusOf(key), true)
    }).pipe(Effect.scoped)
  }
]

const legacyBackend = (): AuthenticationBackend => {
  // Resolved lazily: the table is declared before the backends are imported by its users.
  return BACKENDS.find((b) => b.name === "istio-policy")!
}
