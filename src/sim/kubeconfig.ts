// The kubeconfig the sim hands to users: one cluster, one user with the sim's bearer token.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import YAML from 'yaml';

export function kubeconfigYaml(server: string, token: string, caPem: string, name = 'kvnet-sim'): string {
  return YAML.stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name, cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: `${name}-admin`, user: { token } }],
    contexts: [{ name, context: { cluster: name, user: `${name}-admin`, namespace: 'default' } }],
    'current-context': name,
    preferences: {},
  });
}

export function writeKubeconfig(path: string, server: string, token: string, caPem: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, kubeconfigYaml(server, token, caPem), { mode: 0o600 });
  chmodSync(path, 0o600); // mode applies only to a new file; an older one may be wider
}
