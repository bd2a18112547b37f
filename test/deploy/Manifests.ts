/**
 * deploy/ read as files (no kubectl): the kustomization's cluster-specific values and the
 * Deployment's container, for tests that need the configuration exactly as deployed.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { parse, parseAllDocuments } from "yaml"
import type { KubeObject } from "../../src/domain/Kube.ts"
import { DEPLOY_DIR } from "./DeployKit.ts"

export interface Kustomization {
  readonly namespace: string
  readonly images: ReadonlyArray<{ readonly name: string; readonly newName?: string; readonly newTag?: string }>
  readonly configMapGenerator: ReadonlyArray<{ readonly name: string; readonly literals: ReadonlyArray<string> }>
  readonly resources: ReadonlyArray<string>
  readonly replacements?: ReadonlyArray<unknown>
}

export const kustomization = (): Kustomization => parse(readFileSync(join(DEPLOY_DIR, "kustomization.yaml"), "utf8")) as Kustomization

/** The controller's environment as the ConfigMap generator gives it (`KEY=value` literals). */
export const configMapLiterals = (): Record<string, string> => {
  const gen = kustomization().configMapGenerator.find((g) => g.name === "api-controller-config")
  if (gen === undefined) throw new Error("deploy/kustomization.yaml has no api-controller-config generator")
  return Object.fromEntries(gen.literals.map((l) => {
    const i = l.indexOf("=")
    return [l.slice(0, i), l.slice(i + 1)]
  }))
}

export const manifest = (file: string): ReadonlyArray<KubeObject> =>
  parseAllDocuments(readFileSync(join(DEPLOY_DIR, file), "utf8")).map((d) => d.toJS() as KubeObject).filter((o) => o !== null)

export interface Container {
  readonly name: string
  readonly image: string
  readonly args: ReadonlyArray<string>
  readonly env?: ReadonlyArray<{
    readonly name: string
    readonly value?: string
    readonly valueFrom?: { readonly fieldRef?: { readonly fieldPath: string } }
  }>
  readonly envFrom?: ReadonlyArray<{ readonly configMapRef?: { readonly name: string } }>
  readonly ports: ReadonlyArray<{ readonly name: string; readonly containerPort: number }>
  readonly livenessProbe: { readonly httpGet: { readonly path: string; readonly port: string | number } }
  readonly readinessProbe: { readonly httpGet: { readonly path: string; readonly port: string | number } }
  readonly resources: { readonly requests?: Record<string, string>; readonly limits?: Record<string, string> }
  readonly securityContext: {
    readonly allowPrivilegeEscalation?: boolean
    readonly readOnlyRootFilesystem?: boolean
    readonly runAsNonRoot?: boolean
    readonly capabilities?: { readonly drop?: ReadonlyArray<string> }
  }
}

export interface PodSpec {
  readonly serviceAccountName: string
  readonly securityContext: {
    readonly runAsNonRoot?: boolean
    readonly runAsUser?: number
    readonly runAsGroup?: number
    readonly seccompProfile?: { readonly type: string }
  }
  readonly containers: ReadonlyArray<Container>
}

export const deployment = (): KubeObject & { spec: { replicas: number; template: { spec: PodSpec } } } =>
  manifest("manager/deployment.yaml")[0] as never

export const deploymentContainer = (): Container => deployment().spec.template.spec.containers[0]!

/** The container's environment variables with literal values (NODE_OPTIONS), as the kubelet sets them. */
export const containerLiteralEnv = (): Record<string, string> =>
  Object.fromEntries((deploymentContainer().env ?? []).flatMap((e) => (e.value !== undefined ? [[e.name, e.value]] : [])))
