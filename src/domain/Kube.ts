/**
 * The Kubernetes object shapes every resource shares: metadata, owner references, and the
 * resource kinds the controller talks to. Pure data; no I/O.
 */
import { Schema } from "effect"

export const OwnerReference = Schema.Struct({
  apiVersion: Schema.String,
  kind: Schema.String,
  name: Schema.String,
  uid: Schema.String,
  controller: Schema.optionalKey(Schema.Boolean),
  blockOwnerDeletion: Schema.optionalKey(Schema.Boolean)
})
export type OwnerReference = typeof OwnerReference.Type

const StringMap = Schema.Record(Schema.String, Schema.String)

/** The part of `metadata` the controller reads or writes. Unknown keys are kept as they are. */
export const ObjectMeta = Schema.StructWithRest(
  Schema.Struct({
    name: Schema.String,
    namespace: Schema.optionalKey(Schema.String),
    uid: Schema.optionalKey(Schema.String),
    resourceVersion: Schema.optionalKey(Schema.String),
    generation: Schema.optionalKey(Schema.Number),
    creationTimestamp: Schema.optionalKey(Schema.String),
    deletionTimestamp: Schema.optionalKey(Schema.String),
    labels: Schema.optionalKey(StringMap),
    annotations: Schema.optionalKey(StringMap),
    finalizers: Schema.optionalKey(Schema.Array(Schema.String)),
    ownerReferences: Schema.optionalKey(Schema.Array(OwnerReference))
  }),
  [Schema.Record(Schema.String, Schema.Unknown)]
)
export type ObjectMeta = typeof ObjectMeta.Type

/** Any Kubernetes object as it travels over the wire: typed metadata, the rest left as JSON. */
export const KubeObject = Schema.StructWithRest(
  Schema.Struct({
    apiVersion: Schema.String,
    kind: Schema.String,
    metadata: ObjectMeta
  }),
  [Schema.Record(Schema.String, Schema.Unknown)]
)
export type KubeObject = typeof KubeObject.Type

/** Where a kind lives in the API: enough to build its REST paths. */
export interface ResourceKind {
  readonly group: string
  readonly version: string
  readonly kind: string
  readonly plural: string
  readonly namespaced: boolean
}

export const apiVersionOf = (kind: ResourceKind): string =>
  kind.group === "" ? kind.version : `${kind.group}/${kind.version}`

export const Kinds = {
  Api: { group: "gateway.kyma-project.io", version: "v1alpha2", kind: "Api", plural: "apis", namespaced: true },
  VirtualService: {
    group: "networking.istio.io",
    version: "v1alpha3",
    kind: "VirtualService",
    plural: "virtualservices",
    namespaced: true
  },
  /** Served by Istio before 1.22 too; `VirtualServiceV1` where the cluster serves it (SPEC 10). */
  VirtualServiceV1: {
    group: "networking.istio.io",
    version: "v1",
    kind: "VirtualService",
    plural: "virtualservices",
    namespaced: true
  },
  Policy: { group: "authentication.istio.io", version: "v1alpha1", kind: "Policy", plural: "policies", namespaced: true },
  RequestAuthentication: {
    group: "security.istio.io",
    version: "v1",
    kind: "RequestAuthentication",
    plural: "requestauthentications",
    namespaced: true
  },
  AuthorizationPolicy: {
    group: "security.istio.io",
    version: "v1",
    kind: "AuthorizationPolicy",
    plural: "authorizationpolicies",
    namespaced: true
  },
  PeerAuthentication: {
    group: "security.istio.io",
    version: "v1",
    kind: "PeerAuthentication",
    plural: "peerauthentications",
    namespaced: true
  },
  Service: { group: "", version: "v1", kind: "Service", plural: "services", namespaced: true },
  Event: { group: "", version: "v1", kind: "Event", plural: "events", namespaced: true },
  Lease: { group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true },
  Namespace: { group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false }
} as const satisfies Record<string, ResourceKind>

/** `namespace/name`, the key the work queue and every log line use. */
export type ObjectKey = string & { readonly ObjectKey: unique symbol }

export const objectKey = (namespace: string | undefined, name: string): ObjectKey =>
  (namespace === undefined || namespace === "" ? name : `${namespace}/${name}`) as ObjectKey

/** An object's key, `namespace/name`: what the work queue, the caches and every log line name it by. */
export const keyOf = (o: { readonly metadata: { readonly namespace?: string | undefined; readonly name: string } }): ObjectKey =>
  objectKey(o.metadata.namespace, o.metadata.name)

export const splitKey = (key: ObjectKey): { readonly namespace: string; readonly name: string } => {
  const slash = key.indexOf("/")
  return slash < 0 ? { namespace: "", name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) }
}
