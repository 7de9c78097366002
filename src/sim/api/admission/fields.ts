// Small, shared building blocks for the admission validators: typed access to
// free-form JSON, path joining, and the checks that repeat across kinds.
import { isIP } from 'node:net';
import type { Cause } from '../types.ts';

export type Json = unknown;
export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `obj[key]` when obj is an object, else undefined. */
export function get(obj: unknown, key: string): unknown {
  return isObject(obj) ? obj[key] : undefined;
}

/** Walk a key chain through nested objects. */
export function dig(obj: unknown, ...keys: string[]): unknown {
  let cur = obj;
  for (const k of keys) cur = get(cur, k);
  return cur;
}

/** The value as an array of entries, or [] when absent / not a list. */
export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function has(obj: unknown, key: string): boolean {
  return isObject(obj) && obj[key] !== undefined && obj[key] !== null;
}

/** Join a JSON path: `at('spec', 'ports')` → `spec.ports`; numbers become `[i]`. */
export function at(base: string, ...parts: Array<string | number>): string {
  let p = base;
  for (const part of parts) {
    if (typeof part === 'number') p += `[${part}]`;
    else p = p ? `${p}.${part}` : part;
  }
  return p;
}

/** Render a given value in messages the way a user wrote it. */
export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined) return 'nothing';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

export const invalid = (field: string, message: string): Cause => ({ reason: 'FieldValueInvalid', field, message });
export const required = (field: string, message: string): Cause => ({ reason: 'FieldValueRequired', field, message });
export const notSupported = (field: string, message: string): Cause => ({ reason: 'FieldValueNotSupported', field, message });
export const duplicate = (field: string, message: string): Cause => ({ reason: 'FieldValueDuplicate', field, message });
export const forbidden = (field: string, message: string): Cause => ({ reason: 'FieldValueForbidden', field, message });

export function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/**
 * Integer in [min, max]. Absent values pass (callers check presence separately),
 * so one helper covers both optional and required fields.
 */
export function intRange(value: unknown, field: string, min: number, max: number, what = 'value'): Cause[] {
  if (value === undefined || value === null) return [];
  if (!isInt(value)) return [invalid(field, `${what} must be an integer from ${min} to ${max}; got ${show(value)}`)];
  if (value < min || value > max) return [invalid(field, `${what} must be from ${min} to ${max}; got ${value}`)];
  return [];
}

/** Value, when given, is one of `allowed` (exact, case-sensitive, as the real APIs are). */
export function oneOf(value: unknown, field: string, allowed: readonly (string | number | boolean)[], what = 'value'): Cause[] {
  if (value === undefined || value === null) return [];
  if (allowed.includes(value as string)) return [];
  return [notSupported(field, `${what} ${show(value)} is not supported; allowed values: ${allowed.map((a) => show(a)).join(', ')}`)];
}

/** Field must be present (non-null, and non-empty when a string). */
export function requirePresent(value: unknown, field: string, what: string): Cause[] {
  if (value === undefined || value === null || value === '') return [required(field, `${what} is required`)];
  return [];
}

/** Optional string that must parse as JSON (CNI config fragments embedded as strings). */
export function jsonString(value: unknown, field: string, what: string): Cause[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'string') return [invalid(field, `${what} must be a string holding JSON; got ${show(value)}`)];
  try {
    JSON.parse(value);
    return [];
  } catch (e) {
    return [invalid(field, `${what} is not valid JSON: ${(e as Error).message}`)];
  }
}

export function validIp(value: unknown, field: string, what: string): Cause[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string' && isIP(value) !== 0) return [];
  return [invalid(field, `${what} must be an IPv4 or IPv6 address; got ${show(value)}`)];
}

/** Report the second and later occurrences of each name. */
export function duplicates(names: Array<{ name: unknown; field: string }>, what: string): Cause[] {
  const seen = new Set<unknown>();
  const out: Cause[] = [];
  for (const { name, field } of names) {
    if (name === undefined) continue;
    if (seen.has(name)) out.push(duplicate(field, `${what} ${show(name)} is used more than once; names must be unique`));
    seen.add(name);
  }
  return out;
}

/**
 * A Linux interface name as the kernel's dev_valid_name() takes it: not empty, not "." or "..", no
 * "/", ":" or whitespace. Nothing stricter. Length is not checked here: the seed's own examples name
 * a bridge "bridge-interface" (16 bytes), so the fabric keeps such names and gives the kernel a
 * shortened one (NodeBridge.kname), as it always has.
 */
export function ifname(value: unknown, field: string, what: string): Cause[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'string') return [invalid(field, `${what} must be a string (a Linux interface name); got ${show(value)}`)];
  const why = value === '' ? 'is empty'
    : value === '.' || value === '..' ? 'is reserved'
    : /[/:\s]/.test(value) ? 'contains "/", ":" or whitespace (a space, tab or newline)'
    : undefined;
  return why ? [invalid(field, `${what} ${show(value)} is not a valid Linux interface name: it ${why}`)] : [];
}
