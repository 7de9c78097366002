// The three PATCH media types a Kubernetes API server takes: JSON patch (RFC 6902),
// merge patch (RFC 7386) and strategic merge patch (lists merged by key, with `$patch` directives).
import { ApiError } from './status.ts';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const isObject = (v: unknown): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

function invalidPatch(msg: string): ApiError {
  return new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: ${msg}`);
}

// ---- RFC 6902 ---------------------------------------------------------------------

interface JsonPatchOp { op: string; path: string; value?: Json; from?: string }

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw invalidPatch(`invalid JSON pointer "${path}"`);
  return path.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: Json, parts: string[], path: string): { parent: JsonObject | Json[]; key: string } {
  let cur: Json = doc;
  for (const p of parts.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isObject(cur)) cur = cur[p];
    else cur = undefined as unknown as Json;
    if (cur === undefined || cur === null || typeof cur !== 'object') throw invalidPatch(`doc is missing path: "${path}"`);
  }
  return { parent: cur as JsonObject | Json[], key: parts[parts.length - 1] };
}

function readAt(doc: Json, path: string): Json {
  const parts = pointer(path);
  if (!parts.length) return doc;
  const { parent, key } = parentOf(doc, parts, path);
  const v = Array.isArray(parent) ? parent[Number(key)] : parent[key];
  if (v === undefined) throw invalidPatch(`doc is missing path: "${path}"`);
  return v;
}

function removeAt(doc: Json, path: string): Json {
  const { parent, key } = parentOf(doc, pointer(path), path);
  if (Array.isArray(parent)) {
    const i = Number(key);
    if (!(i >= 0 && i < parent.length)) throw invalidPatch(`unable to remove nonexistent key: ${key}: missing value`);
    return parent.splice(i, 1)[0];
  }
  if (!(key in parent)) throw invalidPatch(`unable to remove nonexistent key: ${key}: missing value`);
  const v = parent[key];
  delete parent[key];
  return v;
}

function addAt(doc: Json, path: string, value: Json, replace: boolean): Json {
  const parts = pointer(path);
  if (!parts.length) return value;
  const { parent, key } = parentOf(doc, parts, path);
  if (Array.isArray(parent)) {
    const i = key === '-' ? parent.length : Number(key);
    if (!(i >= 0 && i <= parent.length) || (replace && i >= parent.length)) throw invalidPatch(`index out of range: ${path}`);
    parent.splice(i, replace ? 1 : 0, value);
  } else {
    if (replace && !(key in parent)) throw invalidPatch(`replace operation does not apply: doc is missing key: ${path}`);
    parent[key] = value;
  }
  return doc;
}

export function applyJsonPatch(doc: Json, ops: unknown): Json {
  if (!Array.isArray(ops)) throw invalidPatch('a JSON patch must be an array of operations');
  let out = clone(doc);
  for (const raw of ops as JsonPatchOp[]) {
    // evanphx/json-patch refuses an operation without a path (or from), and the apiserver answers 422.
    if (!isObject(raw)) throw invalidPatch('json: cannot unmarshal into Go value of type jsonpatch.Operation');
    if (typeof raw.path !== 'string') throw invalidPatch(`operation missing path field`);
    if ((raw.op === 'move' || raw.op === 'copy') && typeof raw.from !== 'string') throw invalidPatch(`operation missing from field`);
    switch (raw.op) {
      case 'add': out = addAt(out, raw.path, clone(raw.value ?? null), false); break;
      case 'replace': out = addAt(out, raw.path, clone(raw.value ?? null), true); break;
      case 'remove': removeAt(out, raw.path); break;
      case 'move': { const v = removeAt(out, raw.from ?? ''); out = addAt(out, raw.path, v, false); break; }
      case 'copy': out = addAt(out, raw.path, clone(readAt(out, raw.from ?? '')), false); break;
      case 'test':
        if (JSON.stringify(readAt(out, raw.path)) !== JSON.stringify(raw.value)) throw invalidPatch(`testing value ${raw.path} failed`);
        break;
      default: throw invalidPatch(`unexpected operation "${String(raw.op)}"`);
    }
  }
  return out;
}

// ---- RFC 7386 ---------------------------------------------------------------------

export function applyMergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k] ?? null, v);
  }
  return out;
}

/** The merge patch that turns `from` into `to` (nulls for removed keys). */
export function diffMergePatch(from: Json, to: Json): Json | undefined {
  if (!isObject(from) || !isObject(to)) return JSON.stringify(from) === JSON.stringify(to) ? undefined : clone(to);
  const out: JsonObject = {};
  for (const k of Object.keys(from)) if (!(k in to)) out[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (!(k in from)) { out[k] = clone(v); continue; }
    const d = diffMergePatch(from[k], v);
    if (d !== undefined) out[k] = d;
  }
  return Object.keys(out).length ? out : undefined;
}

// ---- strategic merge patch ---------------------------------------------------------

/**
 * patchMergeKey of list fields in the built-in types, keyed by "<parent field>.<list field>"
 * where the same list name means different things (Service vs container ports), else by the list field.
 * Lists not named here are atomic and replaced, as in the Go struct tags.
 */
const MERGE_KEYS: Record<string, string> = {
  'spec.ports': 'port', // Service
  containers: 'name', initContainers: 'name', ephemeralContainers: 'name', volumes: 'name', env: 'name',
  imagePullSecrets: 'name', volumeMounts: 'mountPath', volumeDevices: 'devicePath', conditions: 'type',
  ports: 'containerPort', ownerReferences: 'uid', hostAliases: 'ip', addresses: 'type', taints: 'key',
  topologySpreadConstraints: 'topologyKey', endpoints: 'addresses', gateways: 'name',
};
/** Primitive lists with patchStrategy merge (set union). */
const MERGE_PRIMITIVES = new Set(['finalizers']);

function mergeKey(parent: string, field: string): string | undefined {
  return MERGE_KEYS[`${parent}.${field}`] ?? MERGE_KEYS[field];
}

export function applyStrategicMergePatch(target: Json, patch: Json, parent = ''): Json {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _ignored, ...rest } = patch;
    return stripDirectives(rest);
  }
  if (patch.$patch === 'delete') return null;
  let out: JsonObject = isObject(target) ? clone(target) : {};
  const retain = patch.$retainKeys;
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/') || k.startsWith('$deleteFromPrimitiveList/')) continue;
    if (v === null) { delete out[k]; continue; }
    if (Array.isArray(v)) {
      out[k] = mergeList(Array.isArray(out[k]) ? (out[k] as Json[]) : [], v, parent, k);
      continue;
    }
    out[k] = isObject(v) ? applyStrategicMergePatch(out[k] ?? null, v, k) : clone(v);
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$deleteFromPrimitiveList/') && Array.isArray(v)) {
      const f = k.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[f])) out[f] = (out[f] as Json[]).filter((x) => !v.includes(x));
    }
    if (k.startsWith('$setElementOrder/') && Array.isArray(v)) {
      const f = k.slice('$setElementOrder/'.length);
      if (Array.isArray(out[f])) out[f] = orderList(out[f] as Json[], v, mergeKey(parent, f));
    }
  }
  if (Array.isArray(retain)) {
    out = Object.fromEntries(Object.entries(out).filter(([k]) => retain.includes(k)));
  }
  return out;
}

function mergeList(cur: Json[], patch: Json[], parent: string, field: string): Json[] {
  const key = mergeKey(parent, field);
  if (MERGE_PRIMITIVES.has(field)) return [...cur, ...patch.filter((x) => !cur.includes(x))];
  if (!key || !patch.every(isObject)) {
    if (patch.length === 1 && isObject(patch[0]) && patch[0].$patch === 'replace') return [];
    return stripDirectives(patch) as Json[];
  }
  if (patch.some((p) => isObject(p) && p.$patch === 'replace')) {
    return stripDirectives(patch.filter((p) => !(isObject(p) && p.$patch === 'replace'))) as Json[];
  }
  const out = clone(cur);
  for (const item of patch as JsonObject[]) {
    const idx = out.findIndex((x) => isObject(x) && JSON.stringify(x[key]) === JSON.stringify(item[key]));
    if (item.$patch === 'delete') { if (idx >= 0) out.splice(idx, 1); continue; }
    if (idx >= 0) out[idx] = applyStrategicMergePatch(out[idx], item, field);
    else out.push(stripDirectives(item));
  }
  return out;
}

function orderList(list: Json[], order: Json[], key: string | undefined): Json[] {
  const rank = (x: Json): number => {
    const i = order.findIndex((o) => (key && isObject(o) && isObject(x) ? JSON.stringify(o[key]) === JSON.stringify(x[key]) : JSON.stringify(o) === JSON.stringify(x)));
    return i < 0 ? order.length : i;
  };
  return list.map((x, i) => ({ x, i, r: rank(x) })).sort((a, b) => a.r - b.r || a.i - b.i).map((e) => e.x);
}

function stripDirectives(v: Json): Json {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObject(v)) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !k.startsWith('$')).map(([k, x]) => [k, stripDirectives(x)]));
}
