/**
 * Is an observed child what we want? Compared semantically, so fields the server or another
 * tool adds (defaults, unknown keys) do not make the controller rewrite the object forever:
 * the observed VirtualService spec is read through the schema of what we write, which drops
 * unknown keys, then compared with the desired spec. Our labels and controller ownerReference
 * must be there.
 *
 * The authentication Policy is compared exactly. Nothing adds fields to it on the server, and
 * an added field there (`originIsOptional`, `peerIsOptional`, `targets[].ports`, an mTLS
 * `mode`, `included_paths`) can switch authentication off while the status says it is on.
 */
import { Option, Schema } from "effect"
import { VirtualServiceSpec } from "../domain/Istio.ts"
import type { KubeObject } from "../domain/Kube.ts"
import { jsonEqual } from "../util/MergePatch.ts"

/** Kinds whose unknown spec fields are ignored; every other kind is compared exactly. */
const specSchemas: Record<string, Schema.Decoder<unknown>> = {
  VirtualService: VirtualServiceSpec
}

const projectSpec = (kind: string, spec: unknown): Option.Option<unknown> => {
  const schema = specSchemas[kind]
  return schema === undefined ? Option.some(spec) : Schema.decodeUnknownOption(schema)(spec)
}

export const inSync = (desired: KubeObject, observed: KubeObject): boolean => {
  const projected = projectSpec(desired.kind, observed["spec"])
  if (Option.isNone(projected) || !jsonEqual(projected.value, desired["spec"])) return false
  const labels = observed.metadata.labels ?? {}
  if (!Object.entries(desired.metadata.labels ?? {}).every(([k, v]) => labels[k] === v)) return false
  const refs = observed.metadata.ownerReferences ?? []
  return (desired.metadata.ownerReferences ?? []).every((want) =>
    refs.some((r) => r.uid === want.uid && r.controller === want.controller && r.kind === want.kind)
  )
}

/**
 * The object to PUT to turn `observed` into `desired`: our spec, labels and ownerReference on
 * top of what is there, keeping the observed resourceVersion so a concurrent change is a 409.
 */
export const updatedChild = (desired: KubeObject, observed: KubeObject): KubeObject => {
  const otherRefs = (observed.metadata.ownerReferences ?? []).filter((r) =>
    !(desired.metadata.ownerReferences ?? []).some((d) => d.uid === r.uid)
  )
  return {
    ...observed,
    metadata: {
      ...observed.metadata,
      labels: { ...observed.metadata.labels, ...desired.metadata.labels },
      ownerReferences: [...otherRefs, ...(desired.metadata.ownerReferences ?? [])]
    },
    spec: desired["spec"]
  }
}
