/**
 * The prediction table: SPEC situations to plan and then let the controller apply, shared by the
 * fast tier (in-memory cluster, the real reconciler) and the cluster tier (real kube-apiserver,
 * the whole controller). Each situation says what the cluster holds before (converged by the
 * controller), what the plan is asked, and how that input is applied afterwards; `mismatches`
 * says where the controller's result differs from what the plan printed.
 *
 * Hostnames carry the namespace, so situations in different namespaces of one cluster never meet.
 */
import { Effect } from "effect"
import { stringify } from "yaml"
import { decodeStatus } from "../../src/domain/Api.ts"
import { apiVersionOf, Kinds, type KubeObject, objectKey, type ResourceKind } from "../../src/domain/Kube.ts"
import { KubeApi, type KubeApiError, orAbsent } from "../../src/k8s/KubeApi.ts"
import type { AuthenticationBackend } from "../../src/plan/AuthenticationBackend.ts"
import { ALL_AUTHENTICATION_KINDS, BACKENDS } from "../../src/plan/Backends.ts"
import { LABELS, ownerKeyOf } from "../../src/plan/Ownership.ts"
import type { PlanReport } from "../../src/preview/PlanReport.ts"
import { plannedStatusOf } from "../../src/preview/Prediction.ts"
import { jsonEqual } from "../../src/util/MergePatch.ts"
import { apiObject, type ApiSpecInput } from "../support/Fixtures.ts"

export const A = { issuer: "https://a.example.com", jwksUri: "https://a.example.com/keys" }
export const B = { issuer: "https://b.example.com", jwksUri: "https://b.example.com/keys" }
export const jwt = (iss: typeof A, excludedPaths: ReadonlyArray<Record<string, string>> = []) => ({
  type: "JWT",
  jwt: { ...iss, ...(excludedPaths.length > 0 ? { triggerRule: { excludedPaths } } : {}) }
})

export const serviceObject = (namespace: string, name: string, port = 8080): KubeObject => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace },
  spec: { selector: { app: name }, ports: [{ port }] }
})

/** What the cluster holds before the plan, created in order; `later` makes the next Api younger. */
export type Step =
  | { readonly service: string }
  | { readonly api: string; readonly spec: ApiSpecInput }
  | "later"

/** The plan's input, and how it is applied to the cluster afterwards. */
export interface Input {
  readonly manifests: ReadonlyArray<{ readonly name: string; readonly spec: ApiSpecInput }>
  readonly delete?: boolean
  readonly all?: boolean
}

export interface Situation {
  readonly name: string
  /** The backend the cluster was converged under before; the plan's own unless said. */
  readonly before?: (planned: AuthenticationBackend) => AuthenticationBackend
  readonly setup: (namespace: string) => ReadonlyArray<Step>
  readonly input: (namespace: string) => Input
}

const other = (b: AuthenticationBackend) => BACKENDS.find((x) => x !== b)!

export const situations: ReadonlyArray<Situation> = [
  {
    name: "a new Api without authentication",
    setup: () => [{ service: "httpbin" }],
    input: (ns) => ({ manifests: [{ name: "open", spec: { service: { name: "httpbin", port: 8080 }, hostname: `open-${ns}` } }] })
  },
  {
    name: "a new Api with authentication",
    setup: () => [{ service: "orders" }],
    input: (ns) => ({
      manifests: [{
        name: "secured",
        spec: { service: { name: "orders", port: 8080 }, hostname: `secured-${ns}`, authentication: [jwt(A, [{ exact: "/status" }, { prefix: "/web" }]), jwt(B)] }
      }]
    })
  },
  {
    name: "an invalid spec (a hostname outside the domain)",
    setup: () => [{ service: "httpbin" }],
    input: (ns) => ({ manifests: [{ name: "bad", spec: { service: { name: "httpbin", port: 8080 }, hostname: `bad-${ns}.example.com` } }] })
  },
  {
    name: "a hostname another Api's VirtualService holds",
    setup: (ns) => [{ service: "one" }, { service: "two" }, { api: "holder", spec: { service: { name: "one", port: 8080 }, hostname: `shared-${ns}` } }],
    input: (ns) => ({ manifests: [{ name: "late", spec: { service: { name: "two", port: 8080 }, hostname: `shared-${ns}` } }] })
  },
  {
    name: "a Service an older Api holds",
    setup: (ns) => [{ service: "one" }, { api: "holder", spec: { service: { name: "one", port: 8080 }, hostname: `holder-${ns}`, authentication: [jwt(A)] } }],
    input: (ns) => ({ manifests: [{ name: "second", spec: { service: { name: "one", port: 8080 }, hostname: `second-${ns}`, authentication: [jwt(B)] } }] })
  },
  {
    name: "the loser of a retarget (an older Api moved onto a younger one's Service)",
    setup: (ns) => [
      { service: "one" },
      { service: "two" },
      { api: "older", spec: { service: { name: "one", port: 8080 }, hostname: `older-${ns}`, authentication: [jwt(A)] } },
      "later",
      { api: "younger", spec: { service: { name: "two", port: 8080 }, hostname: `younger-${ns}`, authentication: [jwt(B, [{ prefix: "/open" }])] } }
    ],
    input: (ns) => ({ manifests: [{ name: "older", spec: { service: { name: "two", port: 8080 }, hostname: `older-${ns}`, authentication: [jwt(A)] } }] })
  },
  {
    name: "a secured Api whose Service does not exist",
    setup: () => [],
    input: (ns) => ({ manifests: [{ name: "orphan", spec: { service: { name: "absent", port: 8080 }, hostname: `orphan-${ns}`, authentication: [jwt(A)] } }] })
  },
  {
    name: "authentication turned off",
    setup: (ns) => [{ service: "orders" }, { api: "secured", spec: { service: { name: "orders", port: 8080 }, hostname: `secured-${ns}`, authentication: [jwt(A)] } }],
    input: (ns) => ({
      manifests: [{ name: "secured", spec: { service: { name: "orders", port: 8080 }, hostname: `secured-${ns}`, authenticationEnabled: false, authentication: [jwt(A)] } }]
    })
  },
  {
    name: "a backend switch (every Api converged under the other backend)",
    before: other,
    setup: (ns) => [
      { service: "orders" },
      { service: "httpbin" },
      { api: "secured", spec: { service: { name: "orders", port: 8080 }, hostname: `secured-${ns}`, authentication: [jwt(A, [{ suffix: ".ico" }])] } },
      { api: "open", spec: { service: { name: "httpbin", port: 8080 }, hostname: `open-${ns}` } }
    ],
    input: () => ({ manifests: [], all: true })
  },
  {
    name: "a deleted Api frees its host for the one waiting",
    setup: (ns) => [
      { service: "one" },
      { service: "two" },
      { api: "holder", spec: { service: { name: "one", port: 8080 }, hostname: `host-${ns}` } },
      "later",
      { api: "waiting", spec: { service: { name: "two", port: 8080 }, hostname: `host-${ns}`, authentication: [jwt(B)] } }
    ],
    input: (ns) => ({ manifests: [{ name: "holder", spec: { service: { name: "one", port: 8080 }, hostname: `host-${ns}` } }], delete: true })
  }
]

export const backendsOf = (s: Situation, planned: AuthenticationBackend) => ({ before: s.before?.(planned) ?? planned, planned })

/** The input as a YAML file `plan -f` reads (no namespace: `-n` gives it). */
export const manifestsYaml = (input: Input): string =>
  input.manifests.map((m) => stringify({ apiVersion: "gateway.kyma-project.io/v1alpha2", kind: "Api", metadata: { name: m.name }, spec: m.spec })).join("---\n")

/** Creates the setup's objects, calling `later` between Apis whose ages matter. */
export const createSetup = <R>(namespace: string, steps: ReadonlyArray<Step>, later: Effect.Effect<void, never, R>) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    for (const step of steps) {
      if (step === "later") yield* later
      else if ("service" in step) yield* kube.create(Kinds.Service, serviceObject(namespace, step.service))
      else yield* kube.create(Kinds.Api, apiObject(namespace, step.api, step.spec))
    }
  })

/** Applies the input as `kubectl apply -f` (or `delete -f`) would. */
export const applyInput = (namespace: string, input: Input) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    for (const m of input.manifests) {
      if (input.delete === true) {
        yield* orAbsent(kube.delete(Kinds.Api, namespace, m.name))
        continue
      }
      const existing = yield* orAbsent(kube.get(Kinds.Api, namespace, m.name))
      if (existing === undefined) yield* kube.create(Kinds.Api, apiObject(namespace, m.name, m.spec))
      else yield* kube.replace(Kinds.Api, { ...existing, spec: m.spec })
    }
  })

// ---------------------------------------------------------------------------------------------
// what the controller produced, against what the plan printed

const CHILD_KINDS: ReadonlyArray<ResourceKind> = [Kinds.VirtualServiceV1, ...ALL_AUTHENTICATION_KINDS]

const kindOf = (apiVersion: string, kind: string): ResourceKind => {
  const found = Object.values(Kinds).find((k) => k.kind === kind && apiVersionOf(k) === apiVersion)
  if (found === undefined) throw new Error(`no kind ${kind} ${apiVersion}`)
  return found
}

/** Per Api of the namespace: its status (as the plan shows one) and the children it owns, as `Kind name`. */
export interface ClusterState {
  readonly statuses: ReadonlyMap<string, string>
  readonly owned: ReadonlyMap<string, ReadonlyArray<string>>
}

export const clusterState = (namespace: string): Effect.Effect<ClusterState, KubeApiError, KubeApi> =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const statuses = new Map<string, string>()
    for (const api of (yield* kube.list(Kinds.Api, { namespace })).items) {
      statuses.set(objectKey(namespace, api.metadata.name), JSON.stringify(plannedStatusOf(decodeStatus(api["status"])) ?? null))
    }
    const owned = new Map<string, Array<string>>()
    for (const kind of CHILD_KINDS) {
      for (const o of (yield* kube.list(kind, { namespace })).items) {
        const owner = ownerKeyOf(o)
        if (owner === undefined || o.metadata.deletionTimestamp !== undefined) continue
        owned.set(owner, [...(owned.get(owner) ?? []), `${o.kind} ${o.metadata.name}`].sort())
      }
    }
    return { statuses, owned }
  })

/** A child as compared: its spec, and its labels but the owner's uid (a new Api's is a placeholder in the plan). */
const shapeOf = (o: KubeObject) => {
  const { [LABELS.apiUid]: _uid, ...labels } = o.metadata.labels ?? {}
  return { spec: o["spec"], labels }
}

/**
 * Where the controller's result differs from the plan's report: each planned Api's status and
 * children (every created or updated child as planned, every deleted one gone, nothing else
 * added or removed), and every other Api of the namespace as it was before.
 */
export const mismatches = (report: PlanReport, namespace: string, before: ClusterState) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const after = yield* clusterState(namespace)
    const found: Array<string> = []
    const reported = new Set<string>(report.apis.map((a) => objectKey(a.namespace, a.name)))
    for (const a of report.apis.filter((x) => x.namespace === namespace)) {
      const key = objectKey(a.namespace, a.name)
      if (a.change === "delete") {
        if (after.statuses.has(key)) found.push(`${key}: planned deleted, still there`)
      } else {
        const planned = JSON.stringify(a.status ?? null)
        const actual = after.statuses.get(key) ?? "(no Api)"
        if (planned !== actual) found.push(`${key} status:\n  planned    ${planned}\n  controller ${actual}`)
      }
      const expected = new Set(before.owned.get(key) ?? [])
      for (const c of a.children) {
        const label = `${c.kind} ${c.name}`
        if (c.action === "delete") expected.delete(label)
        else expected.add(label)
        const object = yield* orAbsent(kube.get(kindOf(c.apiVersion, c.kind), c.namespace, c.name))
        if (c.action === "delete") {
          if (object !== undefined && object.metadata.deletionTimestamp === undefined) found.push(`${key}: ${label} planned deleted, still there`)
        } else if (object === undefined) found.push(`${key}: ${label} planned (${c.action}), not there`)
        else if (!jsonEqual(shapeOf(object), shapeOf(c.planned!))) {
          found.push(`${key}: ${label} differs:\n  planned    ${JSON.stringify(shapeOf(c.planned!))}\n  controller ${JSON.stringify(shapeOf(object))}`)
        }
      }
      const owned = after.owned.get(key) ?? []
      if (!jsonEqual(owned, [...expected].sort())) {
        found.push(`${key} children:\n  planned    ${JSON.stringify([...expected].sort())}\n  controller ${JSON.stringify(owned)}`)
      }
    }
    // Apis the plan did not report: the input must not have changed them.
    for (const [key, status] of after.statuses) {
      if (reported.has(key)) continue
      if (before.statuses.get(key) !== status) found.push(`${key} (not in the plan): status changed from ${before.statuses.get(key)} to ${status}`)
      if (!jsonEqual(before.owned.get(key) ?? [], after.owned.get(key) ?? [])) {
        found.push(`${key} (not in the plan): children changed from ${JSON.stringify(before.owned.get(key))} to ${JSON.stringify(after.owned.get(key))}`)
      }
    }
    return found
  })

/** The report's Apis of a namespace, as `name: Ready=... codes`, for a failure message. */
export const brief = (report: PlanReport): string =>
  report.apis.map((a) => `${a.name}(${a.change},${a.scope}): ${a.status === undefined ? "-" : `${a.status.ready} ${a.status.reason}`}`).join("; ")
