/**
 * The authentication backends (SPEC 10), in the order `AUTH_BACKEND=auto` prefers them, and every
 * kind any of them writes: ours of these are observed whichever backend is chosen, so a switch of
 * backends can clean up after the other one.
 */
import type { ResourceKind } from "../domain/Kube.ts"
import type { AuthenticationBackend } from "./AuthenticationBackend.ts"
import { IstioPolicyBackend } from "./IstioPolicyBackend.ts"
import { IstioSecurityBackend } from "./IstioSecurityBackend.ts"

export const BACKENDS: ReadonlyArray<AuthenticationBackend> = [IstioSecurityBackend, IstioPolicyBackend]

export const ALL_AUTHENTICATION_KINDS: ReadonlyArray<ResourceKind> = [...new Set(BACKENDS.flatMap((b) => b.kinds))]
