/**
 * What the reconciler is configured with: the controller configuration (SPEC 9), the
 * authentication backend, and pacing. A service so tests and the CLI provide it the same way.
 */
import { Context, Duration, Layer } from "effect"
import type { ControllerConfig } from "../domain/ControllerConfig.ts"
import type { AuthenticationBackend } from "../plan/AuthenticationBackend.ts"
import { IstioPolicyBackend } from "../plan/IstioPolicyBackend.ts"

export interface SettingsShape {
  readonly config: ControllerConfig
  readonly backend: AuthenticationBackend
  /** How soon to look again at an Api whose child write is not yet confirmed (InProgress). */
  readonly confirmAfter: Duration.Duration
}

export class Settings extends Context.Service<Settings, SettingsShape>()("api-controller/controller/Settings") {
  static readonly layer = (config: ControllerConfig, overrides: Partial<Omit<SettingsShape, "config">> = {}) =>
    Layer.succeed(Settings, Settings.of({
      config,
      backend: overrides.backend ?? IstioPolicyBackend,
      confirmAfter: overrides.confirmAfter ?? Duration.seconds(1)
    }))
}
