// Shared test plumbing: load fixture manifests and a Map-backed StoreReader.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { AdmissionRequest, KObject, Operation, StoreReader } from '../../src/sim/api/types.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const SEED_DIR = join(here, '..', 'fixtures', 'seed');
export const INVALID_DIR = join(here, '..', 'fixtures', 'invalid');

export function yamlFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
}

/** Every non-empty document of a multi-document YAML file. */
export function loadObjects(path: string): KObject[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  return docs.map((d) => {
    if (d.errors.length) throw new Error(`${path}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as KObject | null;
  }).filter((o): o is KObject => o !== null && typeof o === 'object');
}

/** `# key: value` header lines of a fixture. */
export function headers(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^#\s*([a-z-]+):\s*(.+)$/.exec(line);
    if (m) out[m[1]] = m[2].trim();
    else if (!line.startsWith('#')) break;
  }
  return out;
}

/** Keyed like the API server would: apiVersion/kind/namespace/name. */
export class FakeStore implements StoreReader {
  private readonly objects = new Map<string, KObject>();
  private key(apiVersion: string, kind: string, ns: string | undefined, name: string): string {
    return `${apiVersion}|${kind}|${ns ?? ''}|${name}`;
  }
  put(o: KObject): void {
    this.objects.set(this.key(o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name ?? ''), o);
  }
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KObject | undefined {
    return this.objects.get(this.key(apiVersion, kind, namespace, name));
  }
  list(apiVersion: string, kind: string, namespace?: string): KObject[] {
    return [...this.objects.values()].filter(
      (o) => o.apiVersion === apiVersion && o.kind === kind && (namespace === undefined || o.metadata.namespace === namespace),
    );
  }
}

export function request(object: KObject, opts: { store?: StoreReader; operation?: Operation; oldObject?: KObject; dualStack?: boolean } = {}): AdmissionRequest {
  return {
    operation: opts.operation ?? 'CREATE',
    object,
    oldObject: opts.oldObject,
    store: opts.store ?? new FakeStore(),
    cluster: { dualStack: opts.dualStack ?? true },
  };
}
