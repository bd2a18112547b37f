/**
 * What the controller is configured with: the controller configuration (SPEC 9), the
 * authentication backend and VirtualService version it writes, and the authentication kinds it
 * observes. `layer` takes them as given (tests); `layerDiscovered` asks the cluster at start
 * (SPEC 10): `AUTH_BACKEND=auto` picks `istio-security` where `security.istio.io/v1` is served,
 * else the legacy Policy; the VirtualService is written as `networking.istio.io/v1` where served.
 */
import { Context, Effect, Layer } from "effect"
import type { ControllerConfig } from "../domain/ControllerConfig.ts"
import { apiVersionOf, Kinds, type ResourceKind } from "../domain/Kube.ts"
import { KubeApi, type KubeApiError } from "../k8s/KubeApi.ts"
import type { PassSettings } from "../lifecycle/Observation.ts"
import type { AuthenticationBackend, ChildSlot } from "../plan/AuthenticationBackend.ts"
import { ALL_AUTHENTICATION_KINDS, BACKENDS } from "../plan/Backends.ts"
import { IstioPolicyBackend } from "../plan/IstioPolicyBackend.ts"
import { IstioSecurityBackend } from "../plan/IstioSecurityBackend.ts"

/** The authentication children a pass looks for: every backend's, of the kinds the cluster serves, the current backend's first. */
export const observedSlots = (settings: Pick<SettingsShape, "backend" | "authenticationKinds">): ReadonlyArray<ChildSlot> => {
  const all = [...settings.backend.slots, ...BACKENDS.flatMap((b) => b.slots)]
  const seen = new Set<string>()
  return all.filter((slot) => {
    const key = `${slot.kind.group}/${slot.kind.plural}/${slot.suffix}`
    if (seen.has(key) || !settings.authenticationKinds.includes(slot.kind)) return false
    seen.add(key)
    return true
  })
}

export interface SettingsShape extends PassSettings {
  /** Authentication kinds the cluster serves, of every backend (the current one's first). */
  readonly authenticationKinds: ReadonlyArray<ResourceKind>
  /** How the backend was chosen, for the start log, `describe` and `/metrics`. */
  readonly backendReason: string
}

export class Settings extends Context.Service<Settings, SettingsShape>()("api-controller/controller/Settings") {
  /** Fixed settings: the legacy Policy and the v1alpha3 VirtualService unless told otherwise. */
  static readonly layer = (config: ControllerConfig, overrides: Partial<Omit<SettingsShape, "config">> = {}) => {
    const backend = overrides.backend ?? IstioPolicyBackend
    return Layer.succeed(
      Settings,
      Settings.of({
        config,
        backend,
        virtualServiceKind: overrides.virtualServiceKind ?? Kinds.VirtualService,
        authenticationKinds: overrides.authenticationKinds ?? backend.kinds,
        backendReason: overrides.backendReason ?? `AUTH_BACKEND=${backend.name}`
      })
    )
  }

  /** Settings from the configuration and what the cluster serves. */
  static readonly layerDiscovered = (config: ControllerConfig): Layer.Layer<Settings, KubeApiError, KubeApi> =>
    Layer.effect(Settings, discoverSettings(config))
}

export const discoverSettings = Effect.fn("Settings.discover")(function*(config: ControllerConfig) {
  const kube = yield* KubeApi
  const served = new Map<ResourceKind, boolean>()
  for (const kind of [...ALL_AUTHENTICATION_KINDS, Kinds.VirtualServiceV1]) served.set(kind, yield* kube.serves(kind))
  const servesAll = (b: AuthenticationBackend) => b.kinds.every((k) => served.get(k) === true)

  let backend: AuthenticationBackend
  let backendReason: string
  if (config.authBackend === "auto") {
    backend = servesAll(IstioSecurityBackend) ? IstioSecurityBackend : IstioPolicyBackend
    backendReason = servesAll(IstioSecurityBackend)
      ? "AUTH_BACKEND=auto: the cluster serves security.istio.io/v1"
      : "AUTH_BACKEND=auto: the cluster does not serve security.istio.io/v1 (RequestAuthentication, " +
        "AuthorizationPolicy, PeerAuthentication), so the legacy authentication.istio.io/v1alpha1 Policy is used"
  } else {
    backend = BACKENDS.find((b) => b.name === config.authBackend)!
    backendReason = `AUTH_BACKEND=${config.authBackend}`
    // Not fatal: status names the missing kind on every Api that asks for authentication.
    if (!servesAll(backend)) {
      yield* Effect.logWarning("the cluster does not serve every kind of the chosen authentication backend", {
        backend: backend.name,
        missing: backend.kinds.filter((k) => served.get(k) !== true).map((k) => `${k.kind}.${k.group}/${k.version}`)
      })
    }
  }
  const virtualServiceKind = served.get(Kinds.VirtualServiceV1) === true ? Kinds.VirtualServiceV1 : Kinds.VirtualService
  // Only served kinds can be watched (an unserved one of the current backend shows up as a
  // clear write error on each Api); the other backend's are observed to clean up after a switch.
  const authenticationKinds = [
    ...backend.kinds,
    ...ALL_AUTHENTICATION_KINDS.filter((k) => !backend.kinds.includes(k))
  ].filter((k) => served.get(k) === true)
  return Settings.of({ config, backend, virtualServiceKind, authenticationKinds, backendReason })
})

/**
 * Why a create failed that the server refused with 404 (the Api's namespace exists, so the kind is
 * not served): the lastError the reconciler writes, and the one `plan` predicts.
 */
export const unservedKindMessage = (settings: SettingsShape, kind: ResourceKind): string => {
  const served = settings.authenticationKinds.includes(kind) || kind === settings.virtualServiceKind
  return `the cluster does not serve ${kind.kind} (${apiVersionOf(kind)})` +
    (settings.backend.kinds.includes(kind)
      ? `, which AUTH_BACKEND=${settings.backend.name} writes (${settings.backendReason}): install Istio's ` +
        `${kind.group} CRDs or choose the other backend`
      : served ? "" : ": install Istio's CRDs")
}
