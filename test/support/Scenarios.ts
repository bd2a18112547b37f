/**
 * The behaviour scenarios of SPEC.md, written once and run in two worlds: against the in-memory
 * cluster (test/controller/Scenarios.test.ts) and against a real kube-apiserver
 * (test/cluster/Scenarios.test.ts). Same table, different layer, so the fake cannot drift from
 * the real server unnoticed. Scenarios drive the reconciler pass by pass and assert the world.
 */
import { assert } from "@effect/vitest"
import { Context, Effect } from "effect"
import { type ApiStatus, decodeStatus } from "../../src/domain/Api.ts"
import { Kinds, type KubeObject, type ObjectKey, objectKey } from "../../src/domain/Kube.ts"
import { Reconciler } from "../../src/controller/Reconciler.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { apiObject, type ApiSpecInput, googleJwt, testConfig } from "./Fixtures.ts"

/** Where a scenario runs: two namespaces of its own. */
export class ScenarioEnv extends Context.Service<ScenarioEnv, {
  readonly namespace: string
  readonly otherNamespace: string
}>()("test/ScenarioEnv") {}

export type ScenarioEffect = Effect.Effect<void, unknown, KubeApi | Reconciler | ScenarioEnv>

export interface Scenario {
  readonly name: string
  readonly run: ScenarioEffect
}

// --- vocabulary ------------------------------------------------------------------------------

const env = Effect.service(ScenarioEnv)

export const createApi = (name: string, spec: ApiSpecInput) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const { namespace } = yield* env
    yield* kube.create(Kinds.Api, apiObject(namespace, name, spec))
    return objectKey(namespace, name)
  })

const split = (key: ObjectKey) => key.split("/") as [string, string]

/** Reconcile until each key's pass asks for nothing more; passes alternate between keys. */
export const settle = (...keys: ReadonlyArray<ObjectKey>) =>
  Effect.gen(function*() {
    const reconciler = yield* Reconciler
    const quiet = new Set<ObjectKey>()
    for (let round = 0; round < 8 && quiet.size < keys.length; round++) {
      for (const key of keys) {
        if (quiet.has(key)) continue
        const r = yield* Effect.result(reconciler.reconcile(key))
        if (r._tag === "Success" && r.success._tag === "Done") quiet.add(key)
        if (r._tag === "Failure" && !r.failure.retryable) quiet.add(key)
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

export const find = (kind: typeof Kinds[keyof typeof Kinds], namespace: string, name: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    return yield* kube.get(kind, namespace, name).pipe(
      Effect.catchIf((e) => e.reason === "NotFound", () => Effect.succeed(undefined))
    )
  })

export const virtualServiceOf = (key: ObjectKey) => find(Kinds.VirtualService, ...split(key))
export const policyOf = (key: ObjectKey) => find(Kinds.Policy, ...split(key))

export const updateSpec = (key: ObjectKey, change: (spec: Record<string, unknown>) => Record<string, unknown>) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const api = yield* kube.get(Kinds.Api, ...split(key))
    yield* kube.replace(Kinds.Api, { ...api, spec: change(api["spec"] as Record<string, unknown>) })
  })

export const deleteObject = (kind: typeof Kinds[keyof typeof Kinds], namespace: string, name: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    yield* kube.delete(kind, namespace, name)
  })

const specOf = (o: KubeObject | undefined) => o?.["spec"] as Record<string, unknown> | undefined

const readyOf = (s: ApiStatus) => s.conditions?.find((c) => c.type === "Ready")

const assertCreated = (s: ApiStatus, withAuth: boolean) => {
  assert.strictEqual(s.validationStatus, 2, `validationStatus (lastError: ${s.lastError})`)
  assert.strictEqual(s.virtualService?.code, 2, `virtualService.code (lastError: ${s.virtualService?.lastError})`)
  if (withAuth) assert.strictEqual(s.authenticationStatus?.code, 2, "authenticationStatus.code")
  else assert.isUndefined(s.authenticationStatus, "no authenticationStatus without authentication")
  assert.strictEqual(readyOf(s)?.status, "True", "Ready condition")
}

const refOf = (o: KubeObject) => ({ name: o.metadata.name, uid: o.metadata.uid, version: o.metadata.resourceVersion })

const httpbin = { service: { name: "httpbin", port: 8000 }, hostname: "httpbin" }

const excludedPathsRule = {
  type: "JWT",
  jwt: {
    issuer: "https://accounts.google.com",
    jwksUri: "https://www.googleapis.com/oauth2/v3/certs",
    triggerRule: {
      excludedPaths: [{ exact: "/status" }, { prefix: "/web" }, { suffix: "/favicon.ico" }, { regex: "^/api/orders/(.*?)?" }]
    }
  }
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
    assert.isUndefined(yield* policyOf(key), `${name}: nothing is created`)
    // Leave nothing behind: one of these lives outside the scenario's namespaces (default).
    yield* deleteObject(Kinds.Api, ...split(key))
    yield* settle(key)
    assert.isUndefined(yield* find(Kinds.Api, ...split(key)), `${name}: deleted`)
  })

// --- the table -------------------------------------------------------------------------------

export const scenarios: ReadonlyArray<Scenario> = [
  {
    name: "an Api without authentication gets a VirtualService and no Policy",
    run: Effect.gen(function*() {
      const { namespace } = yield* env
      const key = yield* createApi("plain", httpbin)
      yield* settle(key)
      const s = yield* statusOf(key)
      assertCreated(s, false)
      const vs = yield* virtualServiceOf(key)
      assert.deepStrictEqual(specOf(vs), {
        hosts: ["httpbin.kyma.local"],
        gateways: [testConfig.gatewayFqdn],
        http: [{
          match: [{ uri: { regex: "/.*" } }],
          route: [{ destination: { host: `httpbin.${namespace}.svc.cluster.local`, port: { number: 8000 } } }]
        }]
      })
      assert.deepStrictEqual(s.virtualService?.resource, refOf(vs!))
      assert.isUndefined(yield* policyOf(key))
      assert.strictEqual(s.observedGeneration, (yield* apiOf(key)).metadata.generation)
    })
  },
  {
    name: "custom JWT rules with excluded paths become one Policy origin each, with trigger rules",
    run: Effect.gen(function*() {
      const key = yield* createApi("jwt", {
        ...httpbin,
        authentication: [excludedPathsRule, { type: "JWT", jwt: { issuer: "https://dex.example.com", jwksUri: "https://dex.example.com/keys" } }]
      })
      yield* settle(key)
      const s = yield* statusOf(key)
      assertCreated(s, true)
      const policy = yield* policyOf(key)
      assert.deepStrictEqual(specOf(policy), {
        targets: [{ name: "httpbin" }],
        principalBinding: "USE_ORIGIN",
        origins: [
          {
            jwt: {
              issuer: "https://accounts.google.com",
              jwksUri: "https://www.googleapis.com/oauth2/v3/certs",
              trigger_rules: [{
                excluded_paths: [{ exact: "/status" }, { prefix: "/web" }, { suffix: "/favicon.ico" }, {
                  regex: "^/api/orders/(.*?)?"
                }]
              }]
            }
          },
          { jwt: { issuer: "https://dex.example.com", jwksUri: "https://dex.example.com/keys" } }
        ],
        peers: [{ mtls: {} }]
      })
      assert.deepStrictEqual(s.authenticationStatus?.resource, refOf(policy!))
    })
  },
  {
    name: "authentication on without rules uses the default issuer",
    run: Effect.gen(function*() {
      const key = yield* createApi("default-jwt", { ...httpbin, authenticationEnabled: true })
      yield* settle(key)
      assertCreated(yield* statusOf(key), true)
      const origins = specOf(yield* policyOf(key))?.["origins"]
      assert.deepStrictEqual(origins, [{ jwt: { issuer: testConfig.defaultIssuer, jwksUri: testConfig.defaultJwksUri } }])
    })
  },
  {
    name: "authenticationEnabled false means no Policy whatever the rules say",
    run: Effect.gen(function*() {
      const key = yield* createApi("auth-off", { ...httpbin, authenticationEnabled: false, authentication: [googleJwt] })
      yield* settle(key)
      assertCreated(yield* statusOf(key), false)
      assert.isUndefined(yield* policyOf(key))
    })
  },
  {
    name: "switching authentication on creates the Policy and switching it off deletes it and drops its status",
    run: Effect.gen(function*() {
      const key = yield* createApi("switch", httpbin)
      yield* settle(key)
      assertCreated(yield* statusOf(key), false)

      yield* updateSpec(key, (s) => ({ ...s, authentication: [googleJwt] }))
      yield* settle(key)
      assertCreated(yield* statusOf(key), true)
      assert.isDefined(yield* policyOf(key))

      yield* updateSpec(key, (s) => ({ ...s, authenticationEnabled: false }))
      yield* settle(key)
      const s = yield* statusOf(key)
      assertCreated(s, false)
      assert.isUndefined(yield* policyOf(key), "Policy deleted")
      assert.strictEqual(s.observedGeneration, 3)
    })
  },
  {
    name: "mTLS can be turned off per Api",
    run: Effect.gen(function*() {
      const key = yield* createApi("no-mtls", { ...httpbin, disableIstioAuthPolicyMTLS: true, authentication: [googleJwt] })
      yield* settle(key)
      assertCreated(yield* statusOf(key), true)
      const spec = specOf(yield* policyOf(key))
      assert.isUndefined(spec?.["peers"], "no mTLS peer")
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
      assert.isUndefined(yield* policyOf(key), "no Policy for an Api that is not exposed")

      yield* deleteObject(Kinds.VirtualService, otherNamespace, "squatter")
      yield* settle(key)
      s = yield* statusOf(key)
      assertCreated(s, true)
    })
  },
  {
    name: "two Apis for one Service: the oldest holds it and the other proceeds once it is deleted",
    run: Effect.gen(function*() {
      const { namespace } = yield* env
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
      yield* expectInvalid("bad-regex", {
        ...httpbin,
        authentication: [{
          type: "JWT",
          jwt: { issuer: "https://x.example.com", jwksUri: "https://x.example.com/a", triggerRule: { excludedPaths: [{ regex: "(" }] } }
        }]
      }, "spec.authentication[0].jwt.triggerRule.excludedPaths[0].regex", "not a valid regular expression")
      yield* expectInvalid("unknown-type", {
        ...httpbin,
        authentication: [{ type: "OAuth", jwt: { issuer: "https://x.example.com", jwksUri: "https://x.example.com/a" } }]
      }, "spec.authentication[0].type", "unknown authentication type")
    })
  },
  {
    name: "a child deleted by hand is restored",
    run: Effect.gen(function*() {
      const key = yield* createApi("restore", { ...httpbin, authentication: [googleJwt] })
      yield* settle(key)
      const before = yield* virtualServiceOf(key)
      yield* deleteObject(Kinds.VirtualService, ...split(key))
      yield* deleteObject(Kinds.Policy, ...split(key))
      yield* settle(key)
      const after = yield* virtualServiceOf(key)
      assert.isDefined(after)
      assert.notStrictEqual(after!.metadata.uid, before!.metadata.uid)
      assert.isDefined(yield* policyOf(key))
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
    name: "deleting an Api removes both children, then the Api",
    run: Effect.gen(function*() {
      const key = yield* createApi("doomed", { ...httpbin, authentication: [googleJwt] })
      yield* settle(key)
      assert.include((yield* apiOf(key)).metadata.finalizers ?? [], "gateway.kyma-project.io/api-controller")
      yield* deleteObject(Kinds.Api, ...split(key))
      assert.isDefined(yield* find(Kinds.Api, ...split(key)), "the finalizer holds the Api until cleanup")
      yield* settle(key)
      assert.isUndefined(yield* virtualServiceOf(key))
      assert.isUndefined(yield* policyOf(key))
      assert.isUndefined(yield* find(Kinds.Api, ...split(key)))
    })
  }
]
