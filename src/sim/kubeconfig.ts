// The kubeconfig the sim hands to users: one cluster, one user with the sim's bearer token.
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import YAML from 'yaml';
import { publishedProfilePath, type ProfileKeys } from '../fixtures/profile.ts';

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

/**
 * Beside a sim's kubeconfig: where that sim's state dir (admin socket, token) is, so tools given
 * only the kubeconfig (`kvnet sim fault`) find its fault registry. kubectl never reads it.
 */
export interface SimLocator {
  server: string;
  stateDir: string;
}

export function simLocatorPath(kubeconfig: string): string {
  return join(dirname(kubeconfig), `${basename(kubeconfig)}.kvnet-sim.json`);
}

export function writeSimLocator(kubeconfig: string, loc: SimLocator): void {
  writeFileSync(simLocatorPath(kubeconfig), `${JSON.stringify(loc)}\n`, { mode: 0o600 });
}

/** The profile keys this sim offers, where the harness's sim project reads them (publishedProfilePath). */
export function writePublishedProfile(kubeconfig: string, keys: ProfileKeys): void {
  writeFileSync(publishedProfilePath(kubeconfig), `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
}

/**
 * Removes the locator and the published profile if they are still this sim's (a newer sim may
 * have written its own; the locator says whose they are).
 */
export function removeSimLocator(kubeconfig: string, stateDir: string): void {
  try {
    const cur = JSON.parse(readFileSync(simLocatorPath(kubeconfig), 'utf8')) as Partial<SimLocator>;
    if (cur.stateDir !== stateDir) return;
    rmSync(publishedProfilePath(kubeconfig), { force: true });
    rmSync(simLocatorPath(kubeconfig), { force: true });
  } catch {
    // none, or not ours to judge: leave it
  }
}
