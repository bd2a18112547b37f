/**
 * What names and addresses look like, in one place: Kubernetes names (RFC 1123 labels and
 * subdomains), host names (compared case-insensitively), Istio gateway references, and the
 * absolute http(s) URLs issuers and key sets must be. The Api schema, the controller
 * configuration, validation and the command line all use these.
 */

/** RFC 1123 label: what Kubernetes accepts as a Service or namespace name. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

/** RFC 1123 subdomain, lower case: object names such as an Api's (dots allowed). */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/** A host name as users write it: dot-separated labels, any case (hosts compare case-insensitively). */
export const HOST_NAME = /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/

/** What Istio accepts in a VirtualService's `gateways`: a host name, optionally `<namespace>/` first. */
export const GATEWAY_REF = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?\/)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/**
 * An absolute http(s) URL with a host. `https:host` parses too (WHATWG URLs are forgiving); an
 * absolute URL spells out `//`, so that is required.
 */
export const isAbsoluteHttpUrl = (s: string): boolean => {
  if (!/^https?:\/\//i.test(s)) return false
  try {
    const u = new URL(s)
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== ""
  } catch {
    return false
  }
}
