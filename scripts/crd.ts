/**
 * Generates deploy/crd/apis.gateway.kyma-project.io.yaml from the effect Schemas the controller
 * decodes with (`ApiSpec`, `ApiStatus` in src/domain/Api.ts), so the CRD and the code have one
 * source of truth:
 *
 *   npx tsx scripts/crd.ts           write the CRD
 *   npx tsx scripts/crd.ts --check   exit 1 (naming this command) when the committed file differs
 *
 * Every structural part of the schema (properties, required keys, types, literals, lengths,
 * patterns, integer bounds) is read off the Schema AST. A check that JSON Schema cannot express
 * (a filter written in TypeScript) must have a CEL rule here, at the same path: the generator
 * fails on a custom check without one, so a new rule in Api.ts cannot silently skip admission.
 * What admission checks beyond the Schema is listed in `ADMISSION_ONLY`, each with its reason.
 */
import { SchemaAST } from "effect"
import { readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { stringify } from "yaml"
import { ApiSpec, ApiStatus } from "../src/domain/Api.ts"
import { DNS_LABEL } from "../src/domain/Names.ts"
import { REPO_ROOT } from "./lib/RepoRoot.ts"

export const CRD_FILE = join(REPO_ROOT, "deploy/crd/apis.gateway.kyma-project.io.yaml")
export const REGENERATE = "npx tsx scripts/crd.ts"

/** A CEL rule as the CRD carries it (`x-kubernetes-validations`). */
export interface CelRule {
  readonly rule: string
  readonly message: string
}

/** An OpenAPI v3 schema node as it goes into the CRD. */
export interface OpenApiSchema {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean"
  description?: string
  properties?: Record<string, OpenApiSchema>
  required?: Array<string>
  items?: OpenApiSchema
  enum?: Array<string | number | boolean>
  minLength?: number
  maxLength?: number
  pattern?: string
  minimum?: number
  maximum?: number
  maxItems?: number
  "x-kubernetes-validations"?: Array<CelRule>
  "x-kubernetes-list-type"?: "atomic" | "set" | "map"
  "x-kubernetes-list-map-keys"?: Array<string>
  "x-kubernetes-preserve-unknown-fields"?: boolean
}

/**
 * The checks written in TypeScript in Api.ts (`Schema.makeFilter`), as CEL: one rule per custom
 * check, in the order the Schema lists them. Paths use `[]` for "every item".
 */
export const CUSTOM_CHECKS: Readonly<Record<string, ReadonlyArray<CelRule>>> = {
  "spec.hostname": [{
    rule: "self.split('.').all(l, l.size() <= 63)",
    message: "each dot-separated label of the hostname may have at most 63 characters"
  }],
  "spec.authentication[].jwt.triggerRule.excludedPaths[]": [{
    rule: "[has(self.exact), has(self.prefix), has(self.suffix), has(self.regex)].filter(x, x).size() == 1",
    message: "give exactly one of exact, prefix, suffix or regex"
  }]
}

/**
 * Admission rules beyond the Schema, merged into the generated node at each path. Each mirrors
 * a check the controller also makes (so admission never refuses what the controller would
 * accept), or is a bound the server needs.
 */
export const ADMISSION_ONLY: Readonly<Record<string, { readonly why: string; readonly schema: OpenApiSchema }>> = {
  "metadata.name": {
    why: "the Api's name becomes the children's names and their apiName label value, which may have at most 63 characters",
    schema: { type: "string", maxLength: 63, pattern: DNS_LABEL.source }
  },
  "spec.authentication": {
    why: "the server estimates the cost of CEL rules from list sizes and rejects a CRD without bounds; 16 issuers per Api is plenty",
    schema: { maxItems: 16 }
  },
  "spec.authentication[].jwt.triggerRule.excludedPaths": {
    why: "CEL cost bound, as above",
    schema: { maxItems: 64 }
  },
  "spec.authentication[].jwt.issuer": {
    why: "src/plan/Validation.ts requires an absolute http(s) URL; the length bound keeps the CEL cost estimate within the server's budget",
    schema: {
      maxLength: 2048,
      "x-kubernetes-validations": [{
        rule: "isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",
        message: "must be an absolute http(s) URL such as https://accounts.google.com"
      }]
    }
  },
  "spec.authentication[].jwt.jwksUri": {
    why: "src/plan/Validation.ts requires an absolute http(s) URL; the length bound keeps the CEL cost estimate within the server's budget",
    schema: {
      maxLength: 2048,
      "x-kubernetes-validations": [{
        rule: "isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",
        message: "must be an absolute http(s) URL such as https://www.googleapis.com/oauth2/v3/certs"
      }]
    }
  },
  "status.conditions": {
    why: "Kubernetes convention for conditions: one entry per type, merged by type",
    schema: { "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] }
  }
}

// ---------------------------------------------------------------------------------------------
// Schema AST -> OpenAPI

export class CrdGenerationError extends Error {
  override readonly name = "CrdGenerationError"
}

interface Representation {
  readonly id: string
  readonly payload?: Record<string, unknown> | null
}

const flatChecks = (checks: ReadonlyArray<SchemaAST.Check<unknown>> | undefined): Array<SchemaAST.Filter<unknown>> =>
  (checks ?? []).flatMap((c) => (c._tag === "FilterGroup" ? flatChecks(c.checks) : [c]))

const representationOf = (f: SchemaAST.Filter<unknown>): Representation | undefined =>
  (f.annotations as { representation?: Representation } | undefined)?.representation

/** Applies the checks JSON Schema can say; returns how many it could not (custom filters). */
const applyChecks = (node: OpenApiSchema, ast: SchemaAST.AST, path: string): number => {
  let custom = 0
  for (const f of flatChecks(ast.checks)) {
    const r = representationOf(f)
    const p = r?.payload ?? {}
    switch (r?.id) {
      case "effect/schema/isMaxLength":
        node.maxLength = p["maxLength"] as number
        break
      case "effect/schema/isMinLength":
        node.minLength = p["minLength"] as number
        break
      case "effect/schema/isPattern": {
        if (node.pattern !== undefined) throw new CrdGenerationError(`${path}: two patterns; OpenAPI takes one`)
        if (p["flags"] !== "") throw new CrdGenerationError(`${path}: pattern flags ${String(p["flags"])} cannot go into the CRD`)
        node.pattern = p["source"] as string
        break
      }
      case "effect/schema/isInt":
        node.type = "integer"
        break
      case "effect/schema/isBetween":
        node.minimum = p["minimum"] as number
        node.maximum = p["maximum"] as number
        break
      case "effect/schema/isGreaterThanOrEqualTo":
        node.minimum = p["minimum"] as number
        break
      case "effect/schema/isLessThanOrEqualTo":
        node.maximum = p["maximum"] as number
        break
      case undefined:
        custom++
        break
      default:
        throw new CrdGenerationError(`${path}: check ${r?.id} has no CRD translation in scripts/crd.ts`)
    }
  }
  return custom
}

/**
 * The OpenAPI node for a Schema AST at `path` (`spec.a[].b`); `customChecks` gives the CEL rules
 * for checks written in TypeScript, by path.
 */
export const toOpenApi = (
  ast: SchemaAST.AST,
  path: string,
  customChecks: Readonly<Record<string, ReadonlyArray<CelRule>>> = CUSTOM_CHECKS
): OpenApiSchema => {
  let node: OpenApiSchema
  switch (ast._tag) {
    case "String":
      node = { type: "string" }
      break
    case "Number":
      node = { type: "number" }
      break
    case "Boolean":
      node = { type: "boolean" }
      break
    case "Literal":
      node = { type: typeof ast.literal === "string" ? "string" : "number", enum: [ast.literal as string] }
      break
    case "Union": {
      const literals = ast.types.map((t) => (t._tag === "Literal" ? t.literal : undefined))
      if (!literals.every((l): l is string => typeof l === "string")) {
        throw new CrdGenerationError(`${path}: only unions of string literals become CRD enums`)
      }
      node = { type: "string", enum: literals }
      break
    }
    case "Arrays": {
      if (ast.elements.length > 0 || ast.rest.length !== 1) throw new CrdGenerationError(`${path}: tuples have no CRD form`)
      node = { type: "array", items: toOpenApi(ast.rest[0]!, `${path}[]`, customChecks) }
      break
    }
    case "Objects": {
      if (ast.indexSignatures.length > 0) throw new CrdGenerationError(`${path}: records have no structural CRD form`)
      const properties: Record<string, OpenApiSchema> = {}
      const required: Array<string> = []
      for (const ps of ast.propertySignatures) {
        const name = String(ps.name)
        properties[name] = toOpenApi(ps.type, `${path}.${name}`, customChecks)
        if (!SchemaAST.isOptional(ps.type)) required.push(name)
      }
      node = { type: "object", ...(required.length > 0 ? { required } : {}), properties }
      break
    }
    default:
      throw new CrdGenerationError(`${path}: ${ast._tag} has no CRD translation in scripts/crd.ts`)
  }
  const custom = applyChecks(node, ast, path)
  const cel = customChecks[path] ?? []
  if (custom !== cel.length) {
    throw new CrdGenerationError(
      `${path}: the Schema has ${custom} check(s) written in TypeScript and scripts/crd.ts CUSTOM_CHECKS has ${cel.length} CEL rule(s) for it: ` +
        "give each such check a CEL rule there, so admission enforces it too"
    )
  }
  if (cel.length > 0) node["x-kubernetes-validations"] = [...cel]
  return node
}

/** The node at `path` (`a.b[].c`) inside `root`. */
const nodeAt = (root: OpenApiSchema, path: string): OpenApiSchema => {
  let node: OpenApiSchema | undefined = root
  for (const part of path.split(".")) {
    const [key, ...arrays] = part.split("[]")
    node = node?.properties?.[key!]
    for (let i = 0; i < arrays.length; i++) node = node?.items
    if (node === undefined) throw new CrdGenerationError(`ADMISSION_ONLY: no ${path} in the generated schema`)
  }
  return node
}

/** `{ spec, status }` with the admission extras merged in, plus root `metadata`. */
export const openApiSchema = (): OpenApiSchema => {
  const root: OpenApiSchema = {
    type: "object",
    required: ["spec"],
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { type: "object", properties: { name: { type: "string" } } },
      spec: toOpenApi(ApiSpec.ast, "spec"),
      status: toOpenApi(ApiStatus.ast, "status")
    }
  }
  for (const [path, extra] of Object.entries(ADMISSION_ONLY)) {
    const node = nodeAt(root, path)
    const rules = [...(node["x-kubernetes-validations"] ?? []), ...(extra.schema["x-kubernetes-validations"] ?? [])]
    Object.assign(node, extra.schema)
    if (rules.length > 0) node["x-kubernetes-validations"] = rules
  }
  return root
}

// ---------------------------------------------------------------------------------------------
// the CRD

const readyCondition = `.status.conditions[?(@.type=="Ready")]`

export const crd = () => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: {
    name: "apis.gateway.kyma-project.io",
    labels: { "app.kubernetes.io/name": "api-controller", "app.kubernetes.io/part-of": "api-controller" }
  },
  spec: {
    group: "gateway.kyma-project.io",
    scope: "Namespaced",
    names: {
      kind: "Api",
      listKind: "ApiList",
      plural: "apis",
      singular: "api",
      // "api" is the singular already; kapi (Kyma Api) clashes with no built-in short name.
      shortNames: ["kapi"],
      categories: ["api-gateway"]
    },
    versions: [{
      name: "v1alpha2",
      served: true,
      storage: true,
      subresources: { status: {} },
      additionalPrinterColumns: [
        { name: "Hostname", type: "string", jsonPath: ".spec.hostname" },
        { name: "Service", type: "string", jsonPath: ".spec.service.name" },
        { name: "Port", type: "integer", jsonPath: ".spec.service.port", priority: 1 },
        {
          name: "Valid",
          type: "integer",
          jsonPath: ".status.validationStatus",
          description: "2 valid, 3 invalid (see status.lastError), 5 another Api exposes the same Service",
          priority: 1
        },
        {
          name: "VirtualService",
          type: "integer",
          jsonPath: ".status.virtualService.code",
          description: "0 not created, 1 in progress, 2 created, 3 error, 4 hostname used by another VirtualService"
        },
        {
          name: "Auth",
          type: "integer",
          jsonPath: ".status.authenticationStatus.code",
          description: "the Policy: 0 not created, 1 in progress, 2 created, 3 error; empty when authentication is off"
        },
        { name: "Ready", type: "string", jsonPath: `${readyCondition}.status` },
        { name: "Reason", type: "string", jsonPath: `${readyCondition}.reason`, priority: 1 },
        { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
      ],
      schema: { openAPIV3Schema: openApiSchema() }
    }]
  }
})

const HEADER = `# The Api resource (SPEC 1): gateway.kyma-project.io/v1alpha2, kind Api.
# GENERATED from src/domain/Api.ts (ApiSpec, ApiStatus) by scripts/crd.ts: do not edit by hand,
# change the Schema (or the CEL rules in scripts/crd.ts) and run \`${REGENERATE}\`.
`

export const renderCrd = (): string => HEADER + stringify(crd(), { lineWidth: 0 })

// `npx tsx scripts/crd.ts [--check]`
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const want = renderCrd()
  if (process.argv.includes("--check")) {
    let have = ""
    try {
      have = readFileSync(CRD_FILE, "utf8")
    } catch {
      // missing counts as different
    }
    if (have !== want) {
      console.error(`${CRD_FILE} is not what src/domain/Api.ts generates: run \`${REGENERATE}\``)
      process.exit(1)
    }
    console.log(`${CRD_FILE} is up to date`)
  } else {
    writeFileSync(CRD_FILE, want)
    console.log(`wrote ${CRD_FILE}`)
  }
}
