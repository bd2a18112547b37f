/**
 * Hostname rules (SPEC 1, 2): users write one DNS label or `label.<DOMAIN_NAME>`; the
 * VirtualService serves the fully qualified name. Hosts compare case-insensitively.
 */

/** Hosts compare case-insensitively and without a trailing dot (DNS is case-blind). */
export const normalizeHost = (host: string): string => host.toLowerCase().replace(/\.$/, "")

/** `my-svc` -> `my-svc.kyma.local`; `my-svc.kyma.local` stays. Lower-cased: DNS is case-blind. */
export const fqdnOf = (hostname: string, domain: string): string => {
  const h = normalizeHost(hostname)
  const d = domain.toLowerCase()
  return h.endsWith(`.${d}`) ? h : `${h}.${d}`
}

/** Undefined when the hostname is allowed, else why not. */
export const hostnameProblem = (hostname: string, domain: string): string | undefined => {
  const h = normalizeHost(hostname)
  const d = domain.toLowerCase()
  if (!h.includes(".")) return undefined
  if (h.endsWith(`.${d}`) && !h.slice(0, -d.length - 1).includes(".")) return undefined
  return `${JSON.stringify(hostname)} is outside the cluster domain ${d}: use a single label such as "my-api", or "my-api.${d}"`
}

export const sameHost = (a: string, b: string): boolean => normalizeHost(a) === normalizeHost(b)
