// What the sim's host side must listen on, and where each connection goes inside the sandbox.
// kube-proxy writes the table to `<state>/ingress.json`; the host forwarder reads it. A file in the
// shared state dir is the one channel both sides already have (the sandbox's loopback is not the host's).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const INGRESS_FILE = 'ingress.json';

export interface IngressRoute {
  /** Host-loopback address and port the host side listens on (a node ExternalIP:nodePort, or a LoadBalancer ingress IP:port). */
  listen: { address: string; port: number };
  /** The node gateway's unix socket: the connection is opened from inside that node's netns. */
  gateway: string;
  /** Where the gateway connects to from the node netns; kube-proxy's rules take it from there. */
  connect: { host: string; port: number; localAddress?: string };
}

export interface IngressTable {
  routes: IngressRoute[];
}

export function ingressPath(stateDir: string): string {
  return join(stateDir, INGRESS_FILE);
}

export function writeIngress(stateDir: string, t: IngressTable): void {
  const p = ingressPath(stateDir);
  writeFileSync(`${p}.tmp`, JSON.stringify(t, null, 1));
  renameSync(`${p}.tmp`, p);
}

export function readIngress(stateDir: string): IngressTable | undefined {
  try {
    return JSON.parse(readFileSync(ingressPath(stateDir), 'utf8')) as IngressTable;
  } catch {
    return undefined;
  }
}

/** The first line a host-side connection sends to a node gateway, before the payload bytes. */
export function gatewayHeader(c: IngressRoute['connect']): string {
  return `${JSON.stringify(c)}\n`;
}
