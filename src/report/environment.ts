// Allure `environment.properties` and `categories.json` for a run. Written by us
// (not via allure-playwright's environmentInfo option) because the values come
// from preflight, which runs after the reporter is configured.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { THRESHOLD_MARKER } from './constants.ts';

export const DEFAULT_RESULTS_DIR = 'reports/allure-results';

export interface RunEnvironment {
  target?: string;
  kubernetesVersion?: string;
  kubevirtVersion?: string;
  nodeCount?: number;
  podNetworkMtu?: number;
  cni?: string;
  /** Defaults to package.json's version. */
  kvnetVersion?: string;
  /** Anything else worth showing (dual-stack, SR-IOV…). */
  extra?: Record<string, string | number | boolean>;
}

export interface AllureCategory {
  name: string;
  description?: string;
  matchedStatuses?: Array<'failed' | 'broken' | 'passed' | 'skipped' | 'unknown'>;
  messageRegex?: string;
  traceRegex?: string;
  flaky?: boolean;
}

const KEYS: Array<[keyof Omit<RunEnvironment, 'extra'>, string]> = [
  ['target', 'Target'],
  ['kubernetesVersion', 'Kubernetes version'],
  ['kubevirtVersion', 'KubeVirt version'],
  ['nodeCount', 'Nodes'],
  ['podNetworkMtu', 'Pod network MTU'],
  ['cni', 'CNI'],
  ['kvnetVersion', 'kvnet version'],
];

/** Java .properties escaping: keys escape spaces/=/:, values escape leading space; both escape \ and newlines. */
function escProp(s: string, isKey: boolean): string {
  let out = s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
  if (isKey) out = out.replace(/([ =:#!])/g, '\\$1');
  else out = out.replace(/^ /, '\\ ');
  // Properties are read as ISO-8859-1: escape everything outside printable ASCII.
  return out.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function kvnetVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function environmentProperties(env: RunEnvironment): string {
  const full: RunEnvironment = { ...env, kvnetVersion: env.kvnetVersion ?? kvnetVersion() };
  const lines: string[] = [];
  for (const [k, label] of KEYS) {
    const v = full[k];
    if (v !== undefined && v !== '') lines.push(`${escProp(label, true)}=${escProp(String(v), false)}`);
  }
  for (const [k, v] of Object.entries(env.extra ?? {})) lines.push(`${escProp(k, true)}=${escProp(String(v), false)}`);
  return `${lines.join('\n')}\n`;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// Allure (Java) matches the whole message; [\s\S] spans the multi-line Playwright messages.
const THRESHOLD = esc(THRESHOLD_MARKER);
const INFRA = '(?:timeout|timed out|ETIMEDOUT|ECONNRESET|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|EPIPE|socket hang up|\\bssh\\b|handshake)';

/** Categories are not first-match in Allure (a result joins every match), so the regexes exclude each other. */
export function categories(): AllureCategory[] {
  return [
    {
      name: 'Measurement below threshold',
      description: `A measured value missed its documented threshold (message contains ${THRESHOLD_MARKER}).`,
      matchedStatuses: ['failed', 'broken'],
      messageRegex: `[\\s\\S]*${THRESHOLD}[\\s\\S]*`,
    },
    {
      name: 'Infrastructure / timeout',
      description: 'Timeouts, connection resets, SSH trouble: the environment, not the product, is suspect.',
      matchedStatuses: ['failed', 'broken'],
      messageRegex: `(?i)(?![\\s\\S]*${THRESHOLD})[\\s\\S]*${INFRA}[\\s\\S]*`,
    },
    {
      name: 'Product failure',
      description: 'A documented behaviour did not hold (assertion failure not about thresholds or infrastructure).',
      matchedStatuses: ['failed'],
      messageRegex: `(?i)(?![\\s\\S]*(?:${THRESHOLD}|${INFRA}))[\\s\\S]*`,
    },
    {
      name: 'Unsupported (skipped)',
      description: 'The target lacks a prerequisite (preflight skip with a reason).',
      matchedStatuses: ['skipped'],
    },
  ];
}

/** Write environment.properties and categories.json into the Allure results dir. */
export function writeAllureEnvironment(env: RunEnvironment, resultsDir = DEFAULT_RESULTS_DIR): void {
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'environment.properties'), environmentProperties(env));
  writeFileSync(join(resultsDir, 'categories.json'), `${JSON.stringify(categories(), null, 2)}\n`);
}
