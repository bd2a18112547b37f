/** The in-memory cluster as the preview tests drive it: the real reconciler converges, the command plans. */
import { Effect, Layer, Option } from "effect"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { planOutcome } from "../../src/cli/Plan.ts"
import { ClusterView } from "../../src/controller/ClusterView.ts"
import { Reconciler } from "../../src/controller/Reconciler.ts"
import { Settings } from "../../src/controller/Settings.ts"
import { EventRecorder } from "../../src/k8s/EventRecorder.ts"
import { KubeApi } from "../../src/k8s/KubeApi.ts"
import type { AuthenticationBackend } from "../../src/plan/AuthenticationBackend.ts"
import { configWith, testEnv } from "../support/Fixtures.ts"
import { settleAll } from "../support/World.ts"
import { type Input, manifestsYaml } from "./Situations.ts"

/** The reconciler with the settings `run` would discover for `backend`, over the KubeApi given. */
const reconcilerFor = (backend: AuthenticationBackend) =>
  Reconciler.layer.pipe(
    Layer.provideMerge(Layer.mergeAll(ClusterView.layerDirect, EventRecorder.layer, Settings.layerDiscovered(configWith({ AUTH_BACKEND: backend.name }))))
  )

/** Every Api settled by the reconciler under `backend`, ten rounds over all of them. */
export const convergeWith = (backend: AuthenticationBackend) => settleAll(10).pipe(Effect.provide(reconcilerFor(backend)))

/** `api-controller plan -n <namespace> --backend <backend> -o json [-f <input>] [--delete] [--all]` on the in-memory cluster. */
export const planIn = (namespace: string, backend: AuthenticationBackend, input: Input) =>
  Effect.gen(function*() {
    const kube = yield* KubeApi
    const files: Array<string> = []
    if (input.manifests.length > 0) {
      const path = join(mkdtempSync(join(tmpdir(), "plan-")), "input.yaml")
      writeFileSync(path, manifestsYaml(input))
      files.push(path)
    }
    return yield* planOutcome({
      filename: files,
      delete: input.delete === true,
      all: input.all === true,
      namespace: Option.some(namespace),
      backend: Option.some(backend.name),
      output: "json",
      kubeconfig: Option.none()
    }, testEnv, Layer.succeed(KubeApi, kube)).pipe(Effect.provide(NodeFileSystem.layer))
  })

