#!/usr/bin/env node
/**
 * The `api-controller` command. `run` starts the controller; `describe` shows one Api's
 * lifecycle; `plan` shows what the controller would do; `diagram` prints the lifecycle machines.
 */
// By path, not the barrel: the barrel also loads clients (redis, ...) the controller never uses.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Console, Effect } from "effect"
import { Command } from "effect/cli"
import { describeFlags, runDescribe } from "./cli/Describe.ts"
import { diagramCommand } from "./cli/Diagram.ts"
import { planFlags, runPlan } from "./cli/Plan.ts"
import { runController, runFlags } from "./cli/Run.ts"

const run = Command.make("run", runFlags, runController).pipe(
  Command.withDescription(
    "Run the controller: watch Apis in all namespaces and keep their VirtualServices, Policies and status in line. " +
      "Needs DOMAIN_NAME, GATEWAY_FQDN, DEFAULT_ISSUER and DEFAULT_JWKS_URI in the environment; optional: ENABLE_MTLS, " +
      "CORS_ALLOW_ORIGIN, CORS_ALLOW_METHODS, CORS_ALLOW_HEADERS, BLACKLISTED_SERVICES (svc.namespace,...), LOG_LEVEL."
  ),
  Command.withExamples([
    {
      command: "DOMAIN_NAME=kyma.local GATEWAY_FQDN=kyma-gateway.kyma-system.svc.cluster.local DEFAULT_ISSUER=https://dex.kyma.local DEFAULT_JWKS_URI=http://dex/keys api-controller run --log-format pretty",
      description: "Run against the cluster of your current kubeconfig context"
    }
  ])
)

const describe = Command.make("describe", describeFlags, runDescribe).pipe(
  Command.withDescription(
    "Show one Api's lifecycle: its spec, the state and code of each machine, its children, the Ready condition " +
      "and a timeline of status.transitions and Events. Reads the cluster directly; no controller needed."
  ),
  Command.withExamples([{ command: "api-controller describe shop/orders", description: "The Api orders in namespace shop" }])
)

const plan = Command.make("plan", planFlags, runPlan).pipe(
  Command.withDescription(
    "Show what the controller would do, before anything is applied: per Api the status it would get, the children it " +
      "would create, update or delete (diffs against the live objects), the conflicts it would hit and what its " +
      "authentication would allow. Read-only (get and list). Reads the controller's environment as `run` does. " +
      "Exit code 0: every planned Api would be Ready; 2: some would not; 1: error."
  ),
  Command.withExamples([
    { command: "api-controller plan -f deploy/samples/ -n shop", description: "The sample Apis, applied to namespace shop" },
    { command: "api-controller plan --all --backend istio-security", description: "Every Api, after a switch to the istio-security backend" },
    { command: "api-controller plan -f old-api.yaml --delete -o json", description: "Deleting an Api, for a machine" }
  ])
)

const root = Command.make("api-controller").pipe(
  Command.withDescription("Expose Services outside the cluster with Istio, from small Api resources (gateway.kyma-project.io/v1alpha2)."),
  Command.withSubcommands([run, describe, plan, diagramCommand])
)

root.pipe(
  Command.run({ version: "0.1.0" }),
  Effect.catchTag("StartupError", (e) =>
    Effect.gen(function*() {
      yield* Console.error("api-controller: cannot start:")
      for (const p of e.problems) yield* Console.error(`  ${p}`)
      process.exitCode = 2
    })),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
