// core/v1 Events, as controllers on a real cluster record them.
import { randomBytes } from 'node:crypto';
import type { Kind } from '../api/kinds.ts';
import { kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { KObject } from '../api/types.ts';

const eventKind = kindOf('v1', 'Event') as Kind;

export function recordEvent(api: Registry, obj: KObject, type: 'Normal' | 'Warning', reason: string, message: string, component: string): void {
  const ns = obj.metadata.namespace ?? 'default';
  const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  try {
    api.create(eventKind, ns, {
      apiVersion: 'v1', kind: 'Event',
      metadata: { name: `${obj.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: ns },
      involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
      reason, message, type, count: 1, firstTimestamp: t, lastTimestamp: t,
      source: { component }, reportingComponent: component, reportingInstance: component,
    });
  } catch {
    // A namespace being torn down refuses new events; that loses nothing anyone can read.
  }
}
