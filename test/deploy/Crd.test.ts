/**
 * The CRD has one source of truth: the effect Schemas the controller decodes with. These tests
 * fail (naming the regenerate command) when the committed YAML is not what the Schemas give,
 * and show that the generator refuses a check it cannot carry into the CRD.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { readFileSync } from "node:fs"
import { parse } from "yaml"
import { ApiSpec } from "../../src/domain/Api.ts"
import { DNS_LABEL, HOST_NAME } from "../../src/domain/Names.ts"
import {
  ADMISSION_ONLY,
  CRD_FILE,
  CrdGenerationError,
  CUSTOM_CHECKS,
  type OpenApiSchema,
  openApiSchema,
  REGENERATE,
  renderCrd,
  toOpenApi
} from "../../scripts/crd.ts"

const committed = readFileSync(CRD_FILE, "utf8")
const schemaOf = (crd: unknown): OpenApiSchema =>
  (crd as { spec: { versions: Array<{ schema: { openAPIV3Schema: OpenApiSchema } }> } }).spec.versions[0]!.schema.openAPIV3Schema

const at = (root: OpenApiSchema, path: string): OpenApiSchema | undefined => {
  let node: OpenApiSchema | undefined = root
  for (const part of path.split(".")) {
    const [key, ...arrays] = part.split("[]")
    node = node?.properties?.[key!]
    for (let i = 0; i < arrays.length; i++) node = node?.items
  }
  return node
}

describe("the Api CRD", () => {
  it("is what src/domain/Api.ts generates", () => {
    assert.isTrue(committed === renderCrd(), `deploy/crd is stale: run \`${REGENERATE}\``)
  })

  const schema = schemaOf(parse(committed))

  it("carries the Schema's structure: required keys, bounds and patterns", () => {
    assert.deepStrictEqual(at(schema, "spec")?.required, ["service", "hostname"])
    assert.deepStrictEqual(at(schema, "spec.service")?.required, ["name", "port"])
    assert.deepInclude(at(schema, "spec.service.port"), { type: "integer", minimum: 1, maximum: 65535 })
    assert.deepInclude(at(schema, "spec.service.name"), { maxLength: 63, pattern: DNS_LABEL.source })
    assert.deepInclude(at(schema, "spec.hostname"), { maxLength: 253, pattern: HOST_NAME.source })
    assert.deepStrictEqual(at(schema, "spec.authentication[]")?.required, ["type"])
    assert.deepStrictEqual(at(schema, "spec.authentication[].jwt")?.required, ["issuer", "jwksUri"])
    assert.strictEqual(at(schema, "spec.authentication[].jwt.issuer")?.minLength, 1)
    assert.deepStrictEqual(at(schema, "status.conditions[].status")?.enum, ["True", "False", "Unknown"])
    assert.strictEqual(at(schema, "status.virtualService.code")?.type, "integer")
  })

  it("has every CEL rule for a TypeScript-only check at its path", () => {
    for (const [path, rules] of Object.entries(CUSTOM_CHECKS)) {
      const node = at(schema, path)
      assert.isDefined(node, `${path} is not in the CRD: a stale CUSTOM_CHECKS entry?`)
      for (const r of rules) assert.deepInclude(node!["x-kubernetes-validations"] ?? [], r, path)
    }
  })

  it("says why each admission-only rule exists, and has it in place", () => {
    for (const [path, extra] of Object.entries(ADMISSION_ONLY)) {
      assert.isAbove(extra.why.length, 20, `${path}: give the reason`)
      const node = at(openApiSchema(), path)
      assert.isDefined(node, path)
      for (const r of extra.schema["x-kubernetes-validations"] ?? []) assert.deepInclude(node!["x-kubernetes-validations"] ?? [], r)
    }
  })

  it("has a status subresource, printer columns for kubectl get, a short name and a category", () => {
    const crd = parse(committed) as {
      spec: {
        names: { shortNames: Array<string>; categories: Array<string> }
        versions: Array<{ subresources: unknown; additionalPrinterColumns: Array<{ name: string; jsonPath: string }> }>
      }
    }
    const v = crd.spec.versions[0]!
    assert.deepStrictEqual(v.subresources, { status: {} })
    const columns = Object.fromEntries(v.additionalPrinterColumns.map((c) => [c.name, c.jsonPath]))
    assert.deepInclude(columns, {
      Hostname: ".spec.hostname",
      Service: ".spec.service.name",
      VirtualService: ".status.virtualService.code",
      Auth: ".status.authenticationStatus.code",
      Ready: `.status.conditions[?(@.type=="Ready")].status`,
      Age: ".metadata.creationTimestamp"
    })
    assert.deepStrictEqual(crd.spec.names.shortNames, ["kapi"])
    assert.notInclude(crd.spec.names.categories, "all", "custom resources stay out of kubectl get all")
  })
})

describe("the generator", () => {
  it("refuses a check written in TypeScript that has no CEL rule", () => {
    const Thing = Schema.Struct({
      name: Schema.String.pipe(Schema.check(Schema.makeFilter((s: string) => s !== "forbidden")))
    })
    assert.throws(() => toOpenApi(Thing.ast, "spec", {}), CrdGenerationError, "spec.name: the Schema has 1 check(s) written in TypeScript")
    assert.deepStrictEqual(
      toOpenApi(Thing.ast, "spec", { "spec.name": [{ rule: "self != 'forbidden'", message: "not that" }] }).properties?.["name"],
      { type: "string", "x-kubernetes-validations": [{ rule: "self != 'forbidden'", message: "not that" }] }
    )
  })

  it("reads the spec from the same Schema the controller decodes with", () => {
    assert.deepStrictEqual(Object.keys(at(schema(), "spec")?.properties ?? {}), ApiSpec.ast._tag === "Objects"
      ? ApiSpec.ast.propertySignatures.map((p) => String(p.name))
      : [])
  })
})

const schema = () => openApiSchema()
