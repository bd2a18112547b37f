/**
 * The server URL and client TLS material of a kubeconfig whose first cluster and user carry inline
 * certificates (what the test control plane writes), for the benchmarks' minimal HTTPS clients.
 */
import { readFileSync } from "node:fs"
import { parse } from "yaml"

export interface KubeconfigTls {
  readonly server: URL
  readonly ca: Buffer
  readonly cert: Buffer
  readonly key: Buffer
}

export const kubeconfigTls = (kubeconfigPath: string): KubeconfigTls => {
  const kc = parse(readFileSync(kubeconfigPath, "utf8")) as {
    clusters: Array<{ cluster: { server: string; "certificate-authority-data": string } }>
    users: Array<{ user: { "client-certificate-data": string; "client-key-data": string } }>
  }
  const b64 = (s: string) => Buffer.from(s, "base64")
  return {
    server: new URL(kc.clusters[0]!.cluster.server),
    ca: b64(kc.clusters[0]!.cluster["certificate-authority-data"]),
    cert: b64(kc.users[0]!.user["client-certificate-data"]),
    key: b64(kc.users[0]!.user["client-key-data"])
  }
}
