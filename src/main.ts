#!/usr/bin/env node
/**
 * The `api-controller` command. `run` starts the controller; `describe` shows one Api's
 * lifecycle; `diagram` prints the lifecycle machines.
 */
// By path, not the barrel: the barrel also loads clients (redis, ...) the controller never uses.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Console, Effect } from "effect"
import { Command } from "effect/cli"
import { describeFlags, runDescribe } from "./cli/Describe.ts"
import { diagramCommand } from "./cli/Diagram.ts"
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

const root = Command.make("api-controller").pipe(
  Command.withDescription("Expose Services outside the cluster with Istio, from small Api resources (gateway.kyma-project.io/v1alpha2)."),
  Command.withSubcommands([run, describe, diagramCommand])
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
