/**
 * deploy/ on a real kube-apiserver: the whole kustomization passes a server-side dry run (the
 * Pod template also passes the namespace's "restricted" Pod Security check without a warning),
 * and admission refuses what SPEC 1 forbids, one test per rule, each with a message that names
 * the field and says what is wrong. For every structural rule the controller's own decoding
 * refuses the same spec (one source of truth, seen from both ends); the hostname policy agrees
 * with the controller's hostname rule on a table of hosts and follows DOMAIN_NAME as set in
 * deploy/kustomization.yaml.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { Kinds, type KubeObject } from "../../src/domain/Kube.ts"
import { KubeApi, type KubeApiError } from "../../src/k8s/KubeApi.ts"
import { hostnameProblem } from "../../src/plan/Hostname.ts"
import { checkSpec } from "../../src/plan/Validation.ts"
import { readFileSync } from "node:fs"
import { deployCopy, kubectl, one, parseDocs, render, toYaml, warningsIn } from "../deploy/DeployKit.ts"
import { emptyNamespace, kubeconfigPath, liveKubeApi, testNamespace, uniqueNamespaceName } from "../support/ClusterTest.ts"
import { configWith, testConfig } from "../support/Fixtures.ts"

const DOMAIN = "kyma.local"
const valid = { service: { name: "httpbin", port: 8000 }, hostname: "httpbin" }
const jwt = (over: Record<string, unknown> = {}) => ({
  type: "JWT",
  jwt: { issuer: "https://accounts.google.com", jwksUri: "https://www.googleapis.com/oauth2/v3/certs", ...over }
})
const withPaths = (excludedPaths: ReadonlyArray<unknown>) => ({
  ...valid,
  authentication: [jwt({ triggerRule: { excludedPaths } })]
})

const apiObject = (namespace: string, name: string, spec: unknown): KubeObject => ({
  apiVersion: "gateway.kyma-project.io/v1alpha2",
  kind: "Api",
  metadata: { name, namespace },
  ...(spec !== undefined ? { spec } : {})
})

/** Create as admin; the error when admission refuses, undefined when it accepts (then it is deleted again). */
const admission = (namespace: string, name: string, spec: unknown) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const r = yield* Effect.result(kube.create(Kinds.Api, apiObject(namespace, name, spec)))
    if (Result.isSuccess(r)) {
      yield* Effect.ignore(kube.delete(Kinds.Api, namespace, name))
      return undefined
    }
    return r.failure
  })

const refused = (e: KubeApiError | undefined, field: string, ...fragments: ReadonlyArray<string>) => {
  assert.isDefined(e, `admission accepted a spec that breaks the rule on ${field}`)
  assert.strictEqual(e!.reason, "Invalid", e!.message)
  assert.include(e!.message, field, "the message names the field")
  for (const f of fragments) assert.include(e!.message, f)
}

/** The controller decodes and validates the same spec and refuses it too. */
const controllerRefuses = (spec: unknown, namespace: string, fragment: string) => {
  const r = checkSpec(spec, namespace, testConfig)
  assert.isTrue(Result.isFailure(r), "the controller accepts what admission refuses")
  if (Result.isFailure(r)) assert.include(r.failure, fragment)
}

const kubeconfig = () => kubeconfigPath()

describe("deploy/ kustomization", () => {
  it.live("kubectl apply -k deploy/ --server-side --dry-run=server accepts every object, with no warning", () =>
    Effect.gen(function*() {
      const namespace = uniqueNamespaceName("deploy-dry")
      const dir = yield* deployCopy({ namespace })
      const objects = yield* render(dir)
      // A dry run creates nothing, so the rest would have no namespace to go into: the
      // Namespace itself (with its Pod Security labels) is applied for real first.
      yield* kubectl(["apply", "--server-side", "-f", "-"], { kubeconfig: kubeconfig(), input: toYaml([one(objects, "Namespace")]) })
      yield* Effect.addFinalizer(() =>
        Effect.ignore(kubectl(["delete", "namespace", namespace, "--wait=false"], { kubeconfig: kubeconfig() }))
      )

      const applied = yield* kubectl(["apply", "-k", dir, "--server-side", "--dry-run=server"], { kubeconfig: kubeconfig() })
      const lines = applied.stdout.trim().split("\n")
      assert.strictEqual(lines.length, objects.length, applied.stdout)
      for (const l of lines) assert.match(l, /serverside-applied \(server dry run\)$/)
      const kinds = new Set(objects.map((o) => o.kind))
      for (const k of ["CustomResourceDefinition", "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role",
        "RoleBinding", "ConfigMap", "Deployment", "Service", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]) {
        assert.isTrue(kinds.has(k), `deploy/ has a ${k}`)
      }
      assert.deepStrictEqual(warningsIn(applied.stderr), [], "no warnings (Pod Security 'restricted' included)")

      // The warning check is not vacuous: the same Deployment without its securityContext is flagged.
      const loose = structuredClone(one(objects, "Deployment")) as KubeObject & {
        spec: { template: { spec: { securityContext?: unknown; containers: Array<{ securityContext?: unknown }> } } }
      }
      delete loose.spec.template.spec.securityContext
      for (const c of loose.spec.template.spec.containers) delete c.securityContext
      const flagged = yield* kubectl(["apply", "--server-side", "--dry-run=server", "-f", "-"], { kubeconfig: kubeconfig(), input: toYaml([loose]) })
      assert.match(warningsIn(flagged.stderr).join("\n"), /would violate PodSecurity "restricted/)
    }).pipe(Effect.scoped))
})

describe("admission: the CRD schema refuses what SPEC 1 forbids", () => {
  const run = <A, E>(f: (ns: string) => Effect.Effect<A, E, KubeApi>) =>
    Effect.gen(function*() {
      const ns = yield* testNamespace("deploy-crd")
      yield* f(ns)
    }).pipe(Effect.scoped, Effect.provide(liveKubeApi()))

  it.live("spec, spec.service and spec.hostname are required", () =>
    run((ns) =>
      Effect.gen(function*() {
        refused(yield* admission(ns, "no-spec", undefined), "spec", "Required value")
        refused(yield* admission(ns, "no-service", { hostname: "x" }), "spec.service", "Required value")
        refused(yield* admission(ns, "no-host", { service: valid.service }), "spec.hostname", "Required value")
        controllerRefuses({ hostname: "x" }, ns, "spec.service")
        controllerRefuses({ service: valid.service }, ns, "spec.hostname")
      })))

  it.live("service.port is an integer from 1 to 65535", () =>
    run((ns) =>
      Effect.gen(function*() {
        for (const port of [0, 65536]) {
          const spec = { ...valid, service: { name: "httpbin", port } }
          refused(yield* admission(ns, `port-${port}`, spec), "spec.service.port", port === 0 ? "greater than or equal to 1" : "less than or equal to 65535")
          controllerRefuses(spec, ns, "spec.service.port")
        }
        assert.isUndefined(yield* admission(ns, "port-65535", { ...valid, service: { name: "httpbin", port: 65535 } }))
      })))

  it.live("service.name is a DNS label", () =>
    run((ns) =>
      Effect.gen(function*() {
        const spec = { ...valid, service: { name: "Orders_Svc", port: 80 } }
        refused(yield* admission(ns, "svc-name", spec), "spec.service.name", "should match")
        controllerRefuses(spec, ns, "spec.service.name")
        const long = { ...valid, service: { name: "a".repeat(64), port: 80 } }
        refused(yield* admission(ns, "svc-long", long), "spec.service.name", "Too long")
        controllerRefuses(long, ns, "spec.service.name")
      })))

  it.live("hostname is a host name, each label at most 63 characters", () =>
    run((ns) =>
      Effect.gen(function*() {
        const bad = { ...valid, hostname: "bad..host" }
        refused(yield* admission(ns, "host-syntax", bad), "spec.hostname", "should match")
        controllerRefuses(bad, ns, "spec.hostname")
        const longLabel = { ...valid, hostname: `${"a".repeat(64)}.${DOMAIN}` }
        refused(yield* admission(ns, "host-label", longLabel), "spec.hostname", "at most 63 characters")
        controllerRefuses(longLabel, ns, "spec.hostname")
      })))

  it.live("each excluded path has exactly one of exact, prefix, suffix, regex", () =>
    run((ns) =>
      Effect.gen(function*() {
        for (const [name, paths] of [["two-keys", [{ exact: "/a", prefix: "/b" }]], ["no-key", [{}]]] as const) {
          const spec = withPaths(paths)
          refused(
            yield* admission(ns, name, spec),
            "spec.authentication[0].jwt.triggerRule.excludedPaths[0]",
            "exactly one of exact, prefix, suffix or regex"
          )
          controllerRefuses(spec, ns, "exactly one of exact, prefix, suffix or regex")
        }
        assert.isUndefined(yield* admission(ns, "four-paths", withPaths([{ exact: "/a" }, { prefix: "/b" }, { suffix: ".ico" }, { regex: "^/c" }])))
      })))

  it.live("an authentication rule needs a type; a jwt needs issuer and jwksUri", () =>
    run((ns) =>
      Effect.gen(function*() {
        const noType = { ...valid, authentication: [{ jwt: jwt().jwt }] }
        refused(yield* admission(ns, "no-type", noType), "spec.authentication[0].type", "Required value")
        controllerRefuses(noType, ns, "spec.authentication[0].type")
        const noIssuer = { ...valid, authentication: [{ type: "JWT", jwt: { jwksUri: "https://x.example.com/keys" } }] }
        refused(yield* admission(ns, "no-issuer", noIssuer), "spec.authentication[0].jwt.issuer", "Required value")
        controllerRefuses(noIssuer, ns, "spec.authentication[0].jwt.issuer")
      })))

  it.live("issuer and jwksUri are absolute http(s) URLs", () =>
    run((ns) =>
      Effect.gen(function*() {
        let i = 0
        for (const field of ["issuer", "jwksUri"] as const) {
          for (const bad of ["accounts.google.com", "ftp://x.example.com/keys", "https:x.example.com", "/keys"]) {
            const spec = { ...valid, authentication: [jwt({ [field]: bad })] }
            refused(yield* admission(ns, `url-${i++}`, spec), `spec.authentication[0].jwt.${field}`, "must be an absolute http(s) URL")
            controllerRefuses(spec, ns, `spec.authentication[0].jwt.${field}`)
          }
        }
        const ok = { ...valid, authentication: [jwt({ issuer: "http://dex.kyma.local", jwksUri: "http://dex-service.kyma-system.svc.cluster.local:5556/keys" })] }
        assert.isUndefined(yield* admission(ns, "url-ok", ok))
        assert.isTrue(Result.isSuccess(checkSpec(ok, ns, testConfig)))
      })))

  it.live("the Api's name is a DNS label (it becomes the children's names and a label value)", () =>
    run((ns) =>
      Effect.gen(function*() {
        refused(yield* admission(ns, "orders.v1", valid), "metadata.name", "should match")
        refused(yield* admission(ns, "a".repeat(64), valid), "metadata.name", "Too long")
      })))

  it.live("every sample in deploy/samples/apis.yaml is accepted", () =>
    run((ns) =>
      Effect.gen(function*() {
        const samples = parseDocs(readFileSync(new URL("../../deploy/samples/apis.yaml", import.meta.url), "utf8"))
        assert.isAbove(samples.length, 0)
        for (const s of samples) assert.isUndefined(yield* admission(ns, s.metadata.name, s["spec"]), s.metadata.name)
      })))
})

describe("admission: hostnames outside DOMAIN_NAME (ValidatingAdmissionPolicy)", () => {
  // The policy and its binding are applied for real from the rendered kustomization, and
  // removed afterwards: they are cluster-wide.
  const namespace = uniqueNamespaceName("deploy-vap")
  let admissionObjects: ReadonlyArray<KubeObject> = []
  const admissionKinds = ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
  const exec = <A, E>(e: Effect.Effect<A, E, KubeApi>): Promise<A> => Effect.runPromise(Effect.provide(e, liveKubeApi()))

  /** An Api created before the policy exists, outside the domain: updates must still pass. */
  const legacy = "legacy-outside"

  beforeAll(() =>
    exec(Effect.scoped(Effect.gen(function*() {
      const dir = yield* deployCopy({ namespace })
      const objects = yield* render(dir)
      const kube = yield* KubeApi
      yield* kube.create(Kinds.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } })
      yield* kube.create(Kinds.Api, {
        ...apiObject(namespace, legacy, { ...valid, hostname: "old.example.com" }),
        metadata: { name: legacy, namespace, finalizers: ["test.example.com/hold"] }
      })
      admissionObjects = objects.filter((o) => admissionKinds.includes(o.kind))
      yield* kubectl(["apply", "--server-side", "-f", "-"], { kubeconfig: kubeconfig(), input: toYaml(admissionObjects) })
      // The policy takes effect once the API server's admission plugin has seen it.
      for (let i = 0; ; i++) {
        const e = yield* admission(namespace, "probe", { ...valid, hostname: "probe.example.com" })
        if (e?.message.includes("outside the cluster domain") === true) break
        if (i > 100) throw new Error("the hostname policy never took effect")
        yield* Effect.sleep("100 millis")
      }
    }))), 60_000)

  afterAll(() =>
    exec(Effect.gen(function*() {
      if (admissionObjects.length > 0) {
        yield* Effect.ignore(
          kubectl(["delete", "--ignore-not-found", "--wait=false", "-f", "-"], { kubeconfig: kubeconfig(), input: toYaml(admissionObjects) })
        )
      }
      yield* emptyNamespace(namespace)
      const kube = yield* KubeApi
      yield* Effect.ignore(kube.delete(Kinds.Namespace, "", namespace))
    })), 60_000)

  const run = <A, E>(e: Effect.Effect<A, E, KubeApi>) => Effect.provide(e, liveKubeApi())

  it.live("a hostname outside the domain is refused, naming the hostname and the expected domain", () =>
    run(Effect.gen(function*() {
      const e = yield* admission(namespace, "wrong-domain", { ...valid, hostname: "httpbin.example.com" })
      refused(e, "spec.hostname", "\"httpbin.example.com\" is outside the cluster domain kyma.local", "my-api.kyma.local", "ValidatingAdmissionPolicy")
    })))

  it.live("the policy and the controller agree on which hostnames are in the domain", () =>
    run(Effect.gen(function*() {
      const hosts = [
        "orders", "orders.kyma.local", "ORDERS.Kyma.Local", "a.b.kyma.local", "kyma.local", "orders.kyma.local.example.com",
        "orders.xkyma.local", "orders.example.com", "orders-v2.kyma.local"
      ]
      let i = 0
      for (const hostname of hosts) {
        const admitted = (yield* admission(namespace, `host-${i++}`, { ...valid, hostname })) === undefined
        assert.strictEqual(admitted, hostnameProblem(hostname, DOMAIN) === undefined, `${hostname}: admission and controller disagree`)
      }
    })))

  it.live("changing the hostname to one outside the domain is refused too", () =>
    run(Effect.gen(function*() {
      const kube = yield* KubeApi
      yield* kube.create(Kinds.Api, apiObject(namespace, "moving", valid))
      const r = yield* Effect.result(kube.patch(Kinds.Api, namespace, "moving", { spec: { hostname: "moving.example.com" } }))
      assert.isTrue(Result.isFailure(r))
      if (Result.isFailure(r)) refused(r.failure, "spec.hostname", "outside the cluster domain kyma.local")
      yield* kube.patch(Kinds.Api, namespace, "moving", { spec: { hostname: "moving.kyma.local" } })
    })))

  it.live("an existing Api outside the domain can still be updated and deleted (its finalizer removed)", () =>
    run(Effect.gen(function*() {
      const kube = yield* KubeApi
      yield* kube.patch(Kinds.Api, namespace, legacy, { metadata: { labels: { touched: "yes" } } })
      yield* kube.delete(Kinds.Api, namespace, legacy)
      yield* kube.patch(Kinds.Api, namespace, legacy, { metadata: { finalizers: null } })
      const gone = yield* Effect.result(kube.get(Kinds.Api, namespace, legacy))
      assert.isTrue(Result.isFailure(gone) && gone.failure.reason === "NotFound")
    })))

  it.live("the domain is DOMAIN_NAME from deploy/kustomization.yaml, normalised as the controller does", () =>
    run(Effect.scoped(Effect.gen(function*() {
      const apply = (domain: string) =>
        Effect.gen(function*() {
          const dir = yield* deployCopy({ namespace, domain })
          const objects = (yield* render(dir)).filter((o) => admissionKinds.includes(o.kind))
          assert.strictEqual(one(objects, "ValidatingAdmissionPolicy").metadata.name, "api-controller-hostname-domain")
          const cm = one(yield* render(dir), "ConfigMap") as KubeObject & { data: Record<string, string> }
          assert.strictEqual(cm.data["DOMAIN_NAME"], domain, "the controller gets the same domain")
          yield* kubectl(["apply", "--server-side", "-f", "-"], { kubeconfig: kubeconfig(), input: toYaml(objects) })
        })
      yield* apply(".Example.COM")
      // The admission plugin picks the new policy up within a moment.
      let e: KubeApiError | undefined
      for (let i = 0; i < 100; i++) {
        e = yield* admission(namespace, "other-domain", { ...valid, hostname: "shop.example.com" })
        if (e === undefined) break
        yield* Effect.sleep("100 millis")
      }
      assert.isUndefined(e, "shop.example.com is in the domain once DOMAIN_NAME=.Example.COM")
      refused(yield* admission(namespace, "old-domain", { ...valid, hostname: "shop.kyma.local" }), "spec.hostname", "outside the cluster domain example.com")
      const controller = checkSpec({ ...valid, hostname: "shop.example.com" }, namespace, configWith({ DOMAIN_NAME: ".Example.COM" }))
      assert.isTrue(Result.isSuccess(controller), "the controller agrees")
      yield* apply(DOMAIN)
      for (let i = 0; i < 100; i++) {
        if ((yield* admission(namespace, "back", { ...valid, hostname: "shop.example.com" })) !== undefined) break
        yield* Effect.sleep("100 millis")
      }
    }))))
})
