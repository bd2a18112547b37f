/**
 * The controller as deploy/ runs it: as its ServiceAccount, with a token from the TokenRequest
 * API, holding exactly the rules of deploy/rbac (the ClusterRole is renamed per test, its rules
 * untouched). With the in-cluster configuration (service host/port environment, mounted token
 * and CA) it does its whole job; with one permission taken away it fails, and the Api's status
 * says which permission was refused.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Result } from "effect"
import { decodeStatus } from "../../src/domain/Api.ts"
import { Kinds, type KubeObject } from "../../src/domain/Kube.ts"
import { makeIdentity } from "../../src/k8s/LeaderElection.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import { KubeApiLive, loadKubeConfig } from "../../src/k8s/KubeApiLive.ts"
import { appWith } from "../../src/runtime/App.ts"
import * as Logging from "../../src/runtime/Logging.ts"
import {
  clusterOf,
  deployCopy,
  kubectl,
  mountServiceAccount,
  render,
  serviceAccountToken,
  tempDir,
  tokenKubeconfig,
  toYaml
} from "../deploy/DeployKit.ts"
import { kubeconfigPath, liveKubeApi, testNamespace } from "../support/ClusterTest.ts"
import { eventually } from "../support/Eventually.ts"
import { testConfig } from "../support/Fixtures.ts"

const SERVICE_ACCOUNT = "api-controller"

interface Rule {
  readonly apiGroups: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<string>
}

/**
 * deploy/'s ServiceAccount, Role, RoleBinding, ClusterRole and ClusterRoleBinding for a controller
 * in `namespace`; cluster-scoped names get the namespace appended so tests never share them.
 * `rules` may change the ClusterRole's rules (to take a permission away). Removed with the scope.
 */
const installRbac = (namespace: string, rules: (rs: ReadonlyArray<Rule>) => ReadonlyArray<Rule> = (rs) => rs) =>
  Effect.gen(function*() {
    const dir = yield* deployCopy({ namespace })
    const rendered = yield* render(dir)
    const suffix = `-${namespace}`
    const rbac = rendered.flatMap((o): Array<KubeObject> => {
      switch (o.kind) {
        case "ServiceAccount":
        case "Role":
        case "RoleBinding":
          return [o]
        case "ClusterRole":
          return [{ ...o, metadata: { ...o.metadata, name: o.metadata.name + suffix }, rules: rules(o["rules"] as Array<Rule>) }]
        case "ClusterRoleBinding": {
          const roleRef = o["roleRef"] as { name: string }
          return [{ ...o, metadata: { ...o.metadata, name: o.metadata.name + suffix }, roleRef: { ...roleRef, name: roleRef.name + suffix } }]
        }
        default:
          return []
      }
    })
    assert.deepStrictEqual(rbac.map((o) => o.kind).sort(), ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount"])
    const input = toYaml(rbac)
    yield* Effect.acquireRelease(
      kubectl(["apply", "--server-side", "-f", "-"], { kubeconfig: kubeconfigPath(), input }),
      () => Effect.ignore(kubectl(["delete", "--ignore-not-found", "--wait=false", "-f", "-"], { kubeconfig: kubeconfigPath(), input }))
    )
  })

/**
 * The Api of the whole-job test: a VirtualService and a Policy with one JWT origin. Hostnames are
 * cluster-wide (SPEC 6), so each test's is its own namespace's name.
 */
const ordersApi = (namespace: string): KubeObject => ({
  apiVersion: "gateway.kyma-project.io/v1alpha2",
  kind: "Api",
  metadata: { name: "orders", namespace },
  spec: {
    service: { name: "orders", port: 8080 },
    hostname: namespace,
    authentication: [{ type: "JWT", jwt: { issuer: "https://accounts.google.com", jwksUri: "https://www.googleapis.com/oauth2/v3/certs" } }]
  }
})

/** Sets environment variables for the duration of `f`, then puts them back. */
const withEnv = <A>(vars: Record<string, string | undefined>, f: () => A): A => {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
  const put = (vs: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(vs)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
  put(vars)
  try {
    return f()
  } finally {
    put(saved)
  }
}

const quietLogs = Logging.layer({ format: "json", level: "Error" })

const missing = (kind: typeof Kinds.Api | typeof Kinds.VirtualService | typeof Kinds.Policy, namespace: string, name: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const r = yield* Effect.result(kube.get(kind, namespace, name))
    assert.isTrue(Result.isFailure(r) && r.failure.reason === "NotFound", `${kind.kind} ${namespace}/${name} still exists`)
  })

describe("the controller with deploy/'s ServiceAccount and RBAC", () => {
  it.live("in-cluster (service env, mounted token and CA), it does its whole job with exactly deploy/'s rules", () =>
    Effect.gen(function*() {
      const ns = yield* testNamespace("deploy-sa")
      const apps = yield* testNamespace("deploy-apps")
      yield* installRbac(ns)

      // What the kubelet gives a Pod: KUBERNETES_SERVICE_HOST/PORT and the mounted token and CA.
      const { server, caPem } = clusterOf(kubeconfigPath())
      const token = yield* serviceAccountToken(kubeconfigPath(), ns, SERVICE_ACCOUNT)
      const root = yield* tempDir("api-controller-pod-")
      mountServiceAccount(root, token, caPem, ns)
      const url = new URL(server)
      const loaded = withEnv(
        { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port, KUBECONFIG: undefined, HOME: root },
        () => Effect.runSync(Effect.result(loadKubeConfig({ serviceAccountRoot: root })))
      )
      assert.isTrue(Result.isSuccess(loaded), Result.isFailure(loaded) ? loaded.failure.message : "")
      if (Result.isFailure(loaded)) return
      assert.strictEqual(loaded.success.source, "in-cluster")
      assert.strictEqual(loaded.success.kubeConfig.getCurrentUser()?.authProvider?.name, "tokenFile", "the token is read from the mount (and re-read when rotated)")

      // The controller exactly as `api-controller run --leader-elect` builds it.
      const identity = yield* makeIdentity("deploy-test")
      yield* Layer.build(appWith(KubeApiLive.layerFromKubeConfig(loaded.success.kubeConfig), {
        config: testConfig,
        controller: { workers: 2, resyncPeriod: Duration.minutes(10) },
        leaderElection: {
          namespace: ns,
          name: "api-controller",
          identity,
          leaseDuration: "3 seconds",
          renewDeadline: "2 seconds",
          retryPeriod: "500 millis"
        }
      }).pipe(Layer.provide(quietLogs)))

      const kube = yield* KubeApi
      yield* kube.create(Kinds.Api, ordersApi(apps))
      const status = yield* eventually(
        Effect.gen(function*() {
          const s = decodeStatus((yield* kube.get(Kinds.Api, apps, "orders"))["status"])
          assert.strictEqual(s.conditions?.find((c) => c.type === "Ready")?.status, "True", JSON.stringify(s))
          return s
        }),
        { live: true }
      )
      assert.strictEqual(status.validationStatus, 2)
      assert.strictEqual(status.virtualService?.code, 2)
      assert.strictEqual(status.authenticationStatus?.code, 2)
      const api = yield* kube.get(Kinds.Api, apps, "orders")
      assert.isUndefined(api.metadata.finalizers, "no finalizer: children are garbage-collected")
      for (const kind of [Kinds.VirtualService, Kinds.Policy]) {
        const child = yield* kube.get(kind, apps, "orders")
        assert.strictEqual(child.metadata.ownerReferences?.[0]?.uid, api.metadata.uid, `${kind.kind} owned by the Api`)
      }
      const events = (yield* kube.list(Kinds.Event, { namespace: apps })).items
      assert.isTrue(events.some((e) => e["reportingComponent"] === "api-controller"), "events created")
      const lease = yield* kube.get(Kinds.Lease, ns, "api-controller")
      assert.strictEqual((lease["spec"] as { holderIdentity?: string }).holderIdentity, identity, "the Lease in its own namespace")

      // Deletion: the Api goes at once; garbage collection takes its owned children.
      yield* kube.delete(Kinds.Api, apps, "orders")
      yield* eventually(
        Effect.gen(function*() {
          yield* missing(Kinds.Api, apps, "orders")
          yield* missing(Kinds.VirtualService, apps, "orders")
          yield* missing(Kinds.Policy, apps, "orders")
        }),
        { live: true }
      )
    }).pipe(Effect.scoped, Effect.provide(liveKubeApi())), 90_000)

  it.live("without create on virtualservices, the Api's status says the request was Forbidden and which permission", () =>
    Effect.gen(function*() {
      const ns = yield* testNamespace("deploy-sa-less")
      const apps = yield* testNamespace("deploy-apps-less")
      yield* installRbac(ns, (rules) =>
        rules.map((r) =>
          r.resources.includes("virtualservices") ? { ...r, verbs: r.verbs.filter((v) => v !== "create") } : r
        ))
      const { server, caPem } = clusterOf(kubeconfigPath())
      const token = yield* serviceAccountToken(kubeconfigPath(), ns, SERVICE_ACCOUNT)
      const dir = yield* tempDir("api-controller-sa-")
      // This time through a kubeconfig that holds nothing but the service account's token.
      yield* Layer.build(appWith(KubeApiLive.layer({ kubeconfigPath: tokenKubeconfig(dir, server, caPem, token) }), {
        config: testConfig,
        controller: { workers: 2, resyncPeriod: Duration.minutes(10) }
      }).pipe(Layer.provide(quietLogs)))

      const kube = yield* KubeApi
      yield* kube.create(Kinds.Api, { ...ordersApi(apps), spec: { service: { name: "orders", port: 8080 }, hostname: apps } })
      const status = yield* eventually(
        Effect.gen(function*() {
          const s = decodeStatus((yield* kube.get(Kinds.Api, apps, "orders"))["status"])
          assert.strictEqual(s.virtualService?.code, 3, JSON.stringify(s))
          return s
        }),
        { live: true }
      )
      const why = status.virtualService?.lastError ?? ""
      assert.include(why, "Forbidden")
      assert.include(why, `system:serviceaccount:${ns}:${SERVICE_ACCOUNT}`)
      assert.include(why, `cannot create resource "virtualservices" in API group "networking.istio.io"`)
      assert.strictEqual(status.conditions?.find((c) => c.type === "Ready")?.status, "False")
      yield* missing(Kinds.VirtualService, apps, "orders")
    }).pipe(Effect.scoped, Effect.provide(liveKubeApi())), 90_000)

  it.live("its ServiceAccount may do what the controller calls: nothing on Secrets, Pods or CRDs, only read Services", () =>
    Effect.gen(function*() {
      const ns = yield* testNamespace("deploy-can-i")
      yield* installRbac(ns)
      /** `resource` may be `resource/name` or `resource#subresource`. */
      const can = (verb: string, resource: string, namespace?: string) =>
        Effect.map(
          Effect.result(kubectl([
            "auth", "can-i", verb, resource.split("#")[0]!, `--as=system:serviceaccount:${ns}:${SERVICE_ACCOUNT}`,
            ...(resource.includes("#") ? [`--subresource=${resource.split("#")[1]}`] : []),
            ...(namespace !== undefined ? ["-n", namespace] : ["--all-namespaces"])
          ], { kubeconfig: kubeconfigPath() })),
          (r) => Result.isSuccess(r) && r.success.stdout.trim() === "yes"
        )
      const allowed = [
        ["list", "apis.gateway.kyma-project.io"], ["watch", "apis.gateway.kyma-project.io"], ["patch", "apis.gateway.kyma-project.io"],
        ["patch", "apis.gateway.kyma-project.io#status"], ["update", "apis.gateway.kyma-project.io#finalizers"],
        ["create", "virtualservices.networking.istio.io"], ["update", "virtualservices.networking.istio.io"],
        ["delete", "virtualservices.networking.istio.io"], ["watch", "policies.authentication.istio.io"],
        ["create", "policies.authentication.istio.io"], ["create", "events"], ["patch", "events"],
        ["create", "requestauthentications.security.istio.io"], ["watch", "authorizationpolicies.security.istio.io"],
        ["delete", "peerauthentications.security.istio.io"], ["list", "services"], ["watch", "services"]
      ] as const
      const refused = [
        ["get", "secrets"], ["list", "secrets"], ["get", "pods"], ["get", "services"], ["create", "services"],
        ["update", "services"], ["create", "customresourcedefinitions"],
        ["update", "apis.gateway.kyma-project.io"], ["create", "apis.gateway.kyma-project.io"], ["delete", "apis.gateway.kyma-project.io"],
        ["update", "apis.gateway.kyma-project.io#status"], ["list", "namespaces"], ["create", "leases"],
        ["get", "virtualservices.networking.istio.io"], ["patch", "virtualservices.networking.istio.io"]
      ] as const
      for (const [verb, resource] of allowed) assert.isTrue(yield* can(verb, resource), `${verb} ${resource}`)
      for (const [verb, resource] of refused) assert.isFalse(yield* can(verb, resource), `${verb} ${resource}`)
      // Leases only in its own namespace, and get/update only for its own Lease.
      assert.isTrue(yield* can("create", "leases.coordination.k8s.io", ns))
      assert.isTrue(yield* can("update", "leases.coordination.k8s.io/api-controller", ns))
      assert.isFalse(yield* can("update", "leases.coordination.k8s.io/someone-else", ns))
      assert.isFalse(yield* can("create", "leases.coordination.k8s.io", "default"))
    }).pipe(Effect.scoped, Effect.provide(liveKubeApi())))
})
