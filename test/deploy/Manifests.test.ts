/**
 * deploy/, the Dockerfile and .dockerignore read as files (fast tier, no server, no Docker): the
 * kustomization takes in every manifest and holds every cluster-specific value, the ConfigMap is a
 * configuration the controller accepts, the Deployment is hardened and wired to the controller's
 * flags, the RBAC is the derived list, and the image build copies everything the bundle needs.
 */
import { ALL_AUTHENTICATION_KINDS } from "../../src/plan/Backends.ts"
import { Kinds } from "../../src/domain/Kube.ts"
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import { bundle } from "../../scripts/bundle.ts"
import { ENV, parseControllerConfig } from "../../src/domain/ControllerConfig.ts"
import { DEPLOY_DIR, REPO_ROOT } from "./DeployKit.ts"
import { configMapLiterals, deployment, deploymentContainer, kustomization, manifest } from "./Manifests.ts"

const filesUnder = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? filesUnder(p) : [relative(DEPLOY_DIR, p)]
  })

const manifests = filesUnder(DEPLOY_DIR).filter((f) => f.endsWith(".yaml") && !f.startsWith("samples/") && !f.endsWith("kustomization.yaml"))

describe("deploy/kustomization.yaml", () => {
  it("takes in every manifest under deploy/ (samples apart)", () => {
    // monitoring/ is an opt-in Component with its own kustomization.yaml (test/monitoring/Rules.test.ts).
    assert.deepStrictEqual([...kustomization().resources].sort(), manifests.filter((f) => !f.startsWith("monitoring/")).sort())
  })

  it("is the one place for cluster-specific values: no other manifest names a namespace, the domain, gateway, issuer or image", () => {
    const values = configMapLiterals()
    const specific = [
      values["DOMAIN_NAME"]!,
      values["GATEWAY_FQDN"]!,
      values["DEFAULT_ISSUER"]!,
      values["DEFAULT_JWKS_URI"]!,
      `${kustomization().images[0]!.newName}:${kustomization().images[0]!.newTag}`
    ]
    for (const file of manifests) {
      const text = readFileSync(join(DEPLOY_DIR, file), "utf8")
      for (const v of specific) assert.notInclude(text, v, `${file} repeats ${v}`)
      for (const o of manifest(file)) assert.isUndefined(o.metadata.namespace, `${file}: ${o.kind} sets its own namespace`)
    }
  })

  it("configures the controller with every SPEC 9 variable, and the controller accepts the configuration", () => {
    const env = configMapLiterals()
    assert.deepStrictEqual(Object.keys(env).sort(), Object.values(ENV).sort())
    const parsed = parseControllerConfig(env)
    assert.isTrue(Result.isSuccess(parsed), Result.isFailure(parsed) ? JSON.stringify(parsed.failure) : "")
  })
})

describe("the Deployment", () => {
  const d = deployment()
  const pod = d.spec.template.spec
  const c = deploymentContainer()

  it("runs non-root, read-only, without privilege escalation or capabilities, under RuntimeDefault seccomp", () => {
    assert.isTrue(pod.securityContext.runAsNonRoot)
    assert.isAbove(pod.securityContext.runAsUser ?? 0, 0)
    assert.strictEqual(pod.securityContext.seccompProfile?.type, "RuntimeDefault")
    assert.deepInclude(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true })
    assert.deepStrictEqual(c.securityContext.capabilities?.drop, ["ALL"])
    assert.strictEqual(pod.serviceAccountName, "api-controller")
  })

  it("has requests and a memory limit", () => {
    assert.containsAllKeys(c.resources.requests ?? {}, ["cpu", "memory"])
    assert.containsAllKeys(c.resources.limits ?? {}, ["memory"])
  })

  it("caps the V8 heap well below the container's memory limit", () => {
    const limitMi = Number(/^(\d+)Mi$/.exec(c.resources.limits?.["memory"] ?? "")?.[1])
    const heapMi = Number(/--max-old-space-size=(\d+)/.exec(c.env?.find((e) => e.name === "NODE_OPTIONS")?.value ?? "")?.[1])
    assert.isAbove(heapMi, 0, "NODE_OPTIONS sets --max-old-space-size")
    assert.isAtMost(heapMi, limitMi * 0.75, `heap ${heapMi}Mi within three quarters of the ${limitMi}Mi limit`)
  })

  it("probes /healthz and /readyz on the port the controller serves them on, which is also the metrics port", () => {
    const portArg = c.args.find((a) => a.startsWith("--health-port="))
    assert.isDefined(portArg)
    const port = c.ports.find((p) => p.containerPort === Number(portArg!.split("=")[1]))
    assert.isDefined(port, "a containerPort for --health-port")
    assert.deepStrictEqual(c.livenessProbe.httpGet, { path: "/healthz", port: port!.name })
    assert.deepStrictEqual(c.readinessProbe.httpGet, { path: "/readyz", port: port!.name })
    const svc = manifest("manager/metrics-service.yaml")[0]!
    assert.strictEqual((svc["spec"] as { ports: Array<{ targetPort: string }> }).ports[0]!.targetPort, port!.name)
  })

  it("binds the health port on every interface, which the controller does only when told (its default is 127.0.0.1)", () => {
    // The kubelet probes and Prometheus scrapes the Pod IP, not the container's loopback.
    assert.include(c.args, "--health-host=0.0.0.0")
  })

  it("runs 2 replicas under leader election, with the Pod's name and namespace from the downward API", () => {
    assert.isAtLeast(d.spec.replicas, 2)
    assert.include(c.args, "--leader-elect")
    assert.strictEqual(c.args[0], "run")
    const fieldOf = (name: string) => c.env?.find((e) => e.name === name)?.valueFrom?.fieldRef?.fieldPath
    assert.strictEqual(fieldOf("POD_NAME"), "metadata.name")
    assert.strictEqual(fieldOf("POD_NAMESPACE"), "metadata.namespace")
  })

  it("takes its environment from the generated ConfigMap and its image from the kustomization", () => {
    assert.strictEqual(c.envFrom?.[0]?.configMapRef?.name, kustomization().configMapGenerator[0]!.name)
    assert.strictEqual(c.image, kustomization().images[0]!.name)
  })
})

describe("RBAC", () => {
  interface Rule {
    readonly apiGroups: Array<string>
    readonly resources: Array<string>
    readonly verbs: Array<string>
    readonly resourceNames?: Array<string>
  }
  const rules = (file: string) => manifest(file)[0]!["rules"] as Array<Rule>
  const table = (rs: Array<Rule>) =>
    rs.flatMap((r) => r.resources.map((res) => `${r.apiGroups[0] === "" ? "core" : r.apiGroups[0]}/${res}${r.resourceNames ? `[${r.resourceNames.join(",")}]` : ""}: ${[...r.verbs].sort().join(",")}`))

  it("the ClusterRole is the list derived from the controller's calls", () => {
    // Every child kind either backend writes: informer (list, watch) and the pass's writes.
    const children = [Kinds.VirtualService, ...ALL_AUTHENTICATION_KINDS].map((k) =>
      `${k.group}/${k.plural}: create,delete,list,update,watch`
    )
    assert.sameMembers(table(rules("rbac/cluster-role.yaml")), [
      "gateway.kyma-project.io/apis: list,patch,watch", // informer; legacy finalizer removal (Reconciler)
      "gateway.kyma-project.io/apis/status: patch", // status merge patch (Reconciler)
      "gateway.kyma-project.io/apis/finalizers: update", // blockOwnerDeletion under OwnerReferencesPermissionEnforcement
      ...children,
      `core/${Kinds.Service.plural}: list,watch`, // informer: the target Service's selector (istio-security)
      "core/events: create,patch" // EventRecorder: new Events, and count updates of repeats
    ])
  })

  it("the Role covers one Lease in the controller's own namespace", () => {
    assert.deepStrictEqual(table(rules("rbac/leader-election-role.yaml")), [
      "coordination.k8s.io/leases: create",
      "coordination.k8s.io/leases[api-controller]: get,update"
    ])
  })

  it("grants no wildcard and nothing on Secrets, Pods or CRDs", () => {
    for (const file of ["rbac/cluster-role.yaml", "rbac/leader-election-role.yaml"]) {
      for (const r of rules(file)) {
        for (const field of [r.apiGroups, r.resources, r.verbs]) assert.notInclude(field, "*", file)
        for (const res of ["secrets", "pods", "customresourcedefinitions"]) assert.notInclude(r.resources, res, file)
      }
    }
  })
})

describe("the Dockerfile", () => {
  const dockerfile = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8")
  const lines = dockerfile.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"))
  const stages = lines.reduce<Array<Array<string>>>((acc, l) => (l.startsWith("FROM ") ? [...acc, [l]] : (acc.at(-1)?.push(l), acc)), [])
  const runtime = stages.at(-1) ?? []

  /** The subset of .dockerignore syntax it uses: `**` then `!path` / `!dir` / `!dir/**` exceptions. */
  const dockerignore = readFileSync(join(REPO_ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
  const inContext = (path: string) => {
    assert.strictEqual(dockerignore[0], "**", ".dockerignore starts by excluding everything")
    return dockerignore.slice(1).some((p) => {
      const pattern = p.replace(/^!/, "")
      return pattern.endsWith("/**") ? path.startsWith(pattern.slice(0, -2)) : path === pattern || path.startsWith(`${pattern}/`)
    })
  }
  const copied = lines.filter((l) => l.startsWith("COPY ") && !l.includes("--from=")).flatMap((l) => l.split(/\s+/).slice(1, -1))

  it("is multi-stage on a Node 22 base, and the runtime stage runs the bundle as a numeric non-root user", () => {
    assert.isAtLeast(stages.length, 2)
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:22[-.\w]*$/m)
    assert.match(runtime[0]!, /^FROM \$\{NODE_IMAGE\}/)
    const user = runtime.find((l) => l.startsWith("USER "))
    assert.match(user ?? "", /^USER [1-9]\d*:[1-9]\d*$/)
    assert.strictEqual(Number(user!.split(" ")[1]!.split(":")[0]), deployment().spec.template.spec.securityContext.runAsUser,
      "the Deployment's runAsUser is the image's user")
    assert.include(runtime.join("\n"), `COPY --from=build --chown=0:0 /src/dist ./dist`)
    assert.isFalse(runtime.some((l) => /npm (ci|install)/.test(l)), "no npm in the runtime stage: the bundle has its dependencies")
    assert.match(runtime.find((l) => l.startsWith("ENTRYPOINT")) ?? "", /"node".*"\/app\/dist\/main\.js"/)
  })

  it("builds with the same command the tests run, from files the build context holds", () => {
    assert.include(lines, "RUN npx tsx scripts/bundle.ts dist")
    for (const path of copied) assert.isTrue(inContext(path), `${path} is excluded by .dockerignore`)
  })

  it("copies every project file the bundle is made of", async () => {
    const out = mkdtempSync(join(tmpdir(), "api-controller-bundle-"))
    const r = await bundle(out).finally(() => rmSync(out, { recursive: true, force: true }))
    assert.isAbove(r.sources.length, 10)
    for (const src of r.sources) {
      assert.isTrue(copied.some((c) => src === c || src.startsWith(`${c.replace(/\/$/, "")}/`)), `${src} is not copied into the build stage`)
      assert.isTrue(inContext(src), `${src} is excluded by .dockerignore`)
    }
    // A whole esbuild bundle: ~4 s alone, more beside the rest of the tier on two cores.
  }, 30_000)
})
