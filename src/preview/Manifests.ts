/**
 * The Apis in `plan -f` input: YAML or JSON files of one or more documents (and `kind: List`
 * items), as `kubectl apply -f` reads them. Anything but a `gateway.kyma-project.io/v1alpha2` Api
 * is left out with a note (a Service next to it included: `plan` reads the cluster's Services,
 * not the files'). A document without a namespace goes to `-n`, else `default`; one whose
 * namespace differs from an explicit `-n` is an error, as kubectl makes it. Spec problems are not
 * errors here: the controller reports them (code 3), so the plan does.
 */
import { parseAllDocuments } from "yaml"
import { Kinds, type KubeObject, objectKey } from "../domain/Kube.ts"

export interface ManifestFile {
  readonly path: string
  readonly text: string
}

export interface ManifestApis {
  readonly apis: ReadonlyArray<KubeObject>
  /** Documents left out, and why. */
  readonly notes: ReadonlyArray<string>
  /** What makes the input unusable (the command fails with these). */
  readonly problems: ReadonlyArray<string>
}

const API_VERSION = `${Kinds.Api.group}/${Kinds.Api.version}`

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

export const apisOf = (files: ReadonlyArray<ManifestFile>, namespace: string | undefined): ManifestApis => {
  const apis: Array<KubeObject> = []
  const notes: Array<string> = []
  const problems: Array<string> = []
  const seen = new Set<string>()

  const take = (doc: unknown, where: string) => {
    if (doc === null || doc === undefined) return
    if (!isRecord(doc)) return void problems.push(`${where}: not a Kubernetes object`)
    if (doc["kind"] === "List" && Array.isArray(doc["items"])) {
      doc["items"].forEach((item, i) => take(item, `${where} item ${i + 1}`))
      return
    }
    const metadata = isRecord(doc["metadata"]) ? doc["metadata"] : {}
    const name = metadata["name"]
    const label = `${String(doc["kind"] ?? "(no kind)")} ${typeof name === "string" ? name : "(no name)"}`
    if (doc["kind"] !== Kinds.Api.kind || doc["apiVersion"] !== API_VERSION) {
      const why = doc["kind"] === Kinds.Api.kind ? `not ${API_VERSION}` : "plan reads only Apis from files"
      return void notes.push(`${where}: ${label} left out (${why})`)
    }
    if (typeof name !== "string" || name === "") return void problems.push(`${where}: an Api without metadata.name`)
    const own = typeof metadata["namespace"] === "string" && metadata["namespace"] !== "" ? metadata["namespace"] : undefined
    if (own !== undefined && namespace !== undefined && own !== namespace) {
      return void problems.push(`${where}: Api ${own}/${name} is in namespace ${own}, not -n ${namespace}`)
    }
    const ns = own ?? namespace ?? "default"
    const key = objectKey(ns, name)
    if (seen.has(key)) return void problems.push(`${where}: Api ${key} is given twice`)
    seen.add(key)
    apis.push({ ...(doc as KubeObject), metadata: { ...(metadata as KubeObject["metadata"]), name, namespace: ns } })
  }

  for (const file of files) {
    parseAllDocuments(file.text).forEach((document, i) => {
      const where = `${file.path} document ${i + 1}`
      if (document.errors.length > 0) return void problems.push(`${where}: ${document.errors[0]!.message}`)
      take(document.toJS(), where)
    })
  }
  return { apis, notes, problems }
}
