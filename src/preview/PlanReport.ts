/**
 * What `api-controller plan -o json` prints: one document, this Schema's encoding. The shape is a
 * contract for CI gates and scripts, versioned by `format`; fields are only ever added (as
 * optional), never renamed or retyped, within one format.
 *
 *   format          "api-controller.kyma-project.io/plan/v1"
 *   readOnly        true: the plan was read with get and list, and wrote nothing
 *   backend         the authentication backend the plan ran with, and why (as `run` chooses it)
 *   virtualServiceVersion  the VirtualService version the controller would write
 *   input           what was asked: files (-f), --all, --delete, -n
 *   convergence     how many rounds of passes until one wrote nothing; settled=false: no fixed point
 *   notes           documents ignored, assumptions that mattered
 *   apis[]          per Api (input ones, then others whose outcome the input changes):
 *     change        what happens to the Api object itself: create | update | delete | none
 *     scope         input (asked for) | affected (not asked for; its outcome differs because of the input)
 *     status        the status it would get: Ready (and reason, message) and each machine's code
 *                   and lastError (absent for a deleted Api)
 *     current       the status it has now, read the same way (absent when it has none)
 *     children[]    each child created, updated or deleted: unified diff of live vs planned YAML
 *                   (server-assigned metadata left out), and both objects
 *     conflicts[]   hostname, service, workload or child conflicts it would be in, holder named
 *     decisions     for an Api that asks for authentication: sample paths x tokens, allowed or
 *                   denied through its host, next to what the legacy Policy decided
 *   summary         counts: apis (not deleted), ready, notReady, withChanges, deleted
 *
 * Exit code of the command: 0 when every planned Api would be Ready (and the simulation settled),
 * 2 when some would not, 1 on error (`exitCodeOf`).
 */
import { Schema } from "effect"
import { KubeObject } from "../domain/Kube.ts"

export const PLAN_FORMAT = "api-controller.kyma-project.io/plan/v1"

export const MachineStatus = Schema.Struct({
  code: Schema.Int,
  lastError: Schema.optionalKey(Schema.String)
})
export type MachineStatus = typeof MachineStatus.Type

export const PlannedStatus = Schema.Struct({
  ready: Schema.Boolean,
  /** The Ready condition's reason (`Ready`, `HostnameOccupied`, `TargetServiceOccupied`, ...). */
  reason: Schema.String,
  message: Schema.String,
  validation: MachineStatus,
  virtualService: MachineStatus,
  /** Only when the Api asks for authentication, or its children are still to be removed. */
  authentication: Schema.optionalKey(MachineStatus)
})
export type PlannedStatus = typeof PlannedStatus.Type

export const ChildChange = Schema.Struct({
  action: Schema.Literals(["create", "update", "delete"]),
  kind: Schema.String,
  apiVersion: Schema.String,
  namespace: Schema.String,
  name: Schema.String,
  /** `diff -u` of the live object's YAML and the planned one's, like `kubectl diff`. */
  diff: Schema.String,
  live: Schema.optionalKey(KubeObject),
  planned: Schema.optionalKey(KubeObject)
})
export type ChildChange = typeof ChildChange.Type

export const Conflict = Schema.Struct({
  /**
   * hostname: another VirtualService serves the host (code 4); service: an older Api holds the
   * Service (code 5); workload: Istio cannot keep this Api apart from another on shared pods;
   * child: an object that is not the Api's sits where one of its children goes.
   */
  kind: Schema.Literals(["hostname", "service", "workload", "child"]),
  /** Who holds it, e.g. `VirtualService shop/orders (Api shop/orders)` or `Api shop/orders`. */
  holder: Schema.String,
  message: Schema.String
})
export type Conflict = typeof Conflict.Type

export const DecisionRow = Schema.Struct({
  path: Schema.String,
  tokenKind: Schema.Literals(["none", "issuer", "foreign"]),
  /** The valid token's issuer; null for no token. */
  token: Schema.NullOr(Schema.String),
  /** Through the Api's host, as the planned objects decide it. */
  allowed: Schema.Boolean,
  why: Schema.String,
  /** What the legacy Policy for this spec decides. */
  legacy: Schema.Boolean
})
export type DecisionRow = typeof DecisionRow.Type

export const DecisionTable = Schema.Struct({
  host: Schema.String,
  /** Who decides: istio-security (every RequestAuthentication and AuthorizationPolicy on the pod) or istio-policy (the Policy). */
  decidedBy: Schema.Literals(["istio-security", "istio-policy"]),
  /** The pod judged: it carries the target Service's selector (istio-security). */
  podLabels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  /** The port on the pod the Api's Service port leads to, when it is a number. */
  port: Schema.optionalKey(Schema.Int),
  /** A VirtualService of the Api serves the host: requests reach the service that way. */
  exposed: Schema.Boolean,
  note: Schema.optionalKey(Schema.String),
  rows: Schema.Array(DecisionRow)
})
export type DecisionTable = typeof DecisionTable.Type

export const ApiPlan = Schema.Struct({
  namespace: Schema.String,
  name: Schema.String,
  change: Schema.Literals(["create", "update", "delete", "none"]),
  scope: Schema.Literals(["input", "affected"]),
  status: Schema.optionalKey(PlannedStatus),
  current: Schema.optionalKey(PlannedStatus),
  children: Schema.Array(ChildChange),
  conflicts: Schema.Array(Conflict),
  decisions: Schema.optionalKey(DecisionTable),
  notes: Schema.Array(Schema.String)
})
export type ApiPlan = typeof ApiPlan.Type

export const PlanSummary = Schema.Struct({
  /** Apis planned, deleted ones left out. */
  apis: Schema.Int,
  ready: Schema.Int,
  notReady: Schema.Int,
  /** Apis with a child to create, update or delete, or that are themselves created, changed or deleted. */
  withChanges: Schema.Int,
  deleted: Schema.Int
})
export type PlanSummary = typeof PlanSummary.Type

export const PlanReport = Schema.Struct({
  format: Schema.Literal(PLAN_FORMAT),
  readOnly: Schema.Literal(true),
  backend: Schema.Struct({
    name: Schema.Literals(["istio-security", "istio-policy"]),
    reason: Schema.String
  }),
  virtualServiceVersion: Schema.String,
  input: Schema.Struct({
    files: Schema.Array(Schema.String),
    all: Schema.Boolean,
    delete: Schema.Boolean,
    namespace: Schema.optionalKey(Schema.String)
  }),
  convergence: Schema.Struct({ rounds: Schema.Int, settled: Schema.Boolean }),
  notes: Schema.Array(Schema.String),
  apis: Schema.Array(ApiPlan),
  summary: PlanSummary
})
export type PlanReport = typeof PlanReport.Type

/** The report as `-o json` prints it. */
export const encodeReport = (report: PlanReport): string =>
  `${JSON.stringify(Schema.encodeSync(PlanReport)(report), null, 2)}\n`

/** A report read back from `-o json` output; throws on anything else. */
export const decodeReport = (json: string): PlanReport => Schema.decodeUnknownSync(Schema.fromJsonString(PlanReport))(json)

/** The command's exit code: fit for a CI gate. */
export const exitCodeOf = (report: PlanReport): 0 | 2 =>
  report.summary.notReady === 0 && report.convergence.settled ? 0 : 2
