// meta.k8s.io/v1 Table rendering, so `kubectl get` prints the same columns as on a real cluster.
import { type Kind, get } from './kinds.ts';
import type { KObject } from './types.ts';

export function humanAge(iso: string | undefined, at = Date.now()): string {
  if (!iso) return '<unknown>';
  const s = Math.max(0, Math.floor((at - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

export function toTable(kind: Kind, objects: KObject[], resourceVersion: string, includeObject: string | null): Record<string, unknown> {
  const cols = kind.columns ?? [{ name: 'Age', type: 'date' as const, path: '.metadata.creationTimestamp' }];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: [
      { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
      ...cols.map((c) => ({ name: c.name, type: c.type === 'date' ? 'string' : c.type, format: '', description: c.name, priority: c.priority ?? 0 })),
    ],
    rows: objects.map((o) => ({
      cells: [
        o.metadata.name,
        ...cols.map((c) => {
          const v = typeof c.path === 'function' ? c.path(o) : get(o, c.path);
          if (c.type === 'date') return humanAge(v as string | undefined);
          return v ?? (c.type === 'integer' ? 0 : '');
        }),
      ],
      object: includeObject === 'None' ? undefined
        : includeObject === 'Object' ? o
        : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
