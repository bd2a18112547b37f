/**
 * Who owns a child (SPEC 2, 6). Ownership is read from the child itself (controller
 * ownerReference, or our labels), never from a uid remembered in the Api's status: a lost status
 * write must not make the controller treat its own VirtualService as foreign (legacy bug).
 */
import type { KubeObject, ObjectMeta, OwnerReference } from "../domain/Kube.ts"

export const LABELS = {
  createdBy: "createdBy",
  apiName: "apiName",
  apiNamespace: "apiNamespace",
  apiUid: "apiUid"
} as const

export const CREATED_BY = "api-controller"

/** The identity of an Api, as its children refer to it. */
export interface Owner {
  readonly apiVersion: string
  readonly kind: string
  readonly name: string
  readonly namespace: string
  readonly uid: string
}

export const childLabels = (owner: Owner): Record<string, string> => ({
  [LABELS.createdBy]: CREATED_BY,
  [LABELS.apiName]: owner.name,
  [LABELS.apiNamespace]: owner.namespace,
  [LABELS.apiUid]: owner.uid
})

export const ownerReference = (owner: Owner): OwnerReference => ({
  apiVersion: owner.apiVersion,
  kind: owner.kind,
  name: owner.name,
  uid: owner.uid,
  controller: true,
  blockOwnerDeletion: true
})

export const isOwnedBy = (meta: ObjectMeta, owner: Owner): boolean =>
  (meta.ownerReferences ?? []).some((r) => r.uid === owner.uid && r.controller === true) ||
  (meta.labels?.[LABELS.createdBy] === CREATED_BY && meta.labels?.[LABELS.apiUid] === owner.uid)

/** The Api an owned child belongs to, as `namespace/name`, if it says so. */
export const ownerKeyOf = (child: KubeObject): string | undefined => {
  const labels = child.metadata.labels
  if (labels?.[LABELS.createdBy] === CREATED_BY && labels[LABELS.apiName] !== undefined) {
    return `${labels[LABELS.apiNamespace] ?? child.metadata.namespace ?? ""}/${labels[LABELS.apiName]}`
  }
  const ref = (child.metadata.ownerReferences ?? []).find((r) => r.controller === true && r.kind === "Api")
  return ref === undefined ? undefined : `${child.metadata.namespace ?? ""}/${ref.name}`
}
