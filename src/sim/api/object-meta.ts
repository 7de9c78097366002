// What the apiserver checks on every object before admission: the shape of metadata (a decode
// error, 400), ObjectMeta validation (names, labels, annotations: 422 with upstream's messages) and
// the size limits of ConfigMap/Secret validation and of etcd.
// Messages follow k8s.io/apimachinery v0.31 pkg/util/validation/validation.go and
// pkg/api/validation/objectmeta.go; size limits follow k8s.io/kubernetes pkg/apis/core/validation.
import type { Kind } from './kinds.ts';
import { errors } from './status.ts';
import type { Cause, KObject } from './types.ts';

const QNAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const QNAME_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT = `(${QNAME_FMT})?`;
const LABEL_VALUE_MSG = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_LABEL_MSG = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const DNS1123_SUBDOMAIN_MSG = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT = '[a-z]([-a-z0-9]*[a-z0-9])?';
const DNS1035_LABEL_MSG = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";

const anchored = (fmt: string) => new RegExp(`^${fmt}$`);
const QNAME_RE = anchored(QNAME_FMT);
const LABEL_VALUE_RE = anchored(LABEL_VALUE_FMT);
const DNS1123_LABEL_RE = anchored(DNS1123_LABEL_FMT);
const DNS1123_SUBDOMAIN_RE = anchored(DNS1123_SUBDOMAIN_FMT);
const DNS1035_LABEL_RE = anchored(DNS1035_LABEL_FMT);

/** core.MaxSecretSize: ConfigMap data+binaryData and Secret data. */
export const MAX_SECRET_SIZE = 1024 * 1024;
/** objectmeta.go TotalAnnotationSizeLimitB. */
export const TOTAL_ANNOTATION_SIZE = 256 * 1024;
/** etcd's default --max-request-bytes; the sim measures the stored JSON (real etcd sees protobuf). */
export const ETCD_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

const maxLen = (n: number) => `must be no more than ${n} characters`;
function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (!examples.length) return `${msg} (regex used for validation is '${fmt}')`;
  // Upstream joins "'a', " pieces with " or ", hence its double spaces.
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join(' or ')}regex used for validation is '${fmt}')`;
}

export function isDns1123Subdomain(v: string): string[] {
  const out: string[] = [];
  if (v.length > 253) out.push(maxLen(253));
  if (!DNS1123_SUBDOMAIN_RE.test(v)) out.push(regexError(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, 'example.com'));
  return out;
}

export function isDns1123Label(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push(maxLen(63));
  if (!DNS1123_LABEL_RE.test(v)) {
    // A valid subdomain that is not a label (length already checked) has dots.
    out.push(DNS1123_SUBDOMAIN_RE.test(v) ? 'must not contain dots' : regexError(DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, 'my-name', '123-abc'));
  }
  return out;
}

export function isDns1035Label(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push(maxLen(63));
  if (!DNS1035_LABEL_RE.test(v)) out.push(regexError(DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, 'my-name', 'abc-123'));
  return out;
}

export function isQualifiedName(v: string): string[] {
  const out: string[] = [];
  const parts = v.split('/');
  let name: string;
  if (parts.length === 1) name = parts[0];
  else if (parts.length === 2) {
    const prefix = parts[0];
    name = parts[1];
    if (!prefix) out.push('prefix part must be non-empty');
    else out.push(...isDns1123Subdomain(prefix).map((m) => `prefix part ${m}`));
  } else {
    return [`a qualified name ${regexError(QNAME_MSG, QNAME_FMT, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  }
  if (!name) out.push('name part must be non-empty');
  else if (name.length > 63) out.push(`name part ${maxLen(63)}`);
  if (!QNAME_RE.test(name)) out.push(`name part ${regexError(QNAME_MSG, QNAME_FMT, 'MyName', 'my.name', '123-abc')}`);
  return out;
}

export function isValidLabelValue(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push(maxLen(63));
  if (!LABEL_VALUE_RE.test(v)) out.push(regexError(LABEL_VALUE_MSG, LABEL_VALUE_FMT, 'MyValue', 'my_value', '12345'));
  return out;
}

/** The name rule each kind's strategy passes to ValidateObjectMeta. */
function nameRule(kind: Kind): (v: string) => string[] {
  if (kind.group === '' && kind.kind === 'Namespace') return isDns1123Label; // ValidateNamespaceName
  if (kind.group === '' && kind.kind === 'Service') return isDns1035Label; // ValidateServiceName
  return isDns1123Subdomain;
}

const invalid = (field: string, value: string, msg: string): Cause => ({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(value)}: ${msg}` });
const tooLong = (field: string, max: number): Cause => ({ reason: 'FieldValueTooLong', field, message: `Too long: must have at most ${max} bytes` });

const TYPE_OF = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'object' ? 'object' : typeof v);
const GO_TYPES: Record<string, string> = { string: 'string', map: 'map[string]string', list: '[]string', objects: '[]v1.OwnerReference' };

/**
 * The typed decode a real server does: metadata fields of the wrong JSON type are a 400 before any
 * validation (encoding/json's message). Checked on every write, patches included, so nothing of the
 * wrong shape reaches the store or the code that reads it.
 */
export function checkShape(obj: KObject): void {
  const bad = (field: string, v: unknown, go: string) =>
    errors.badRequest(`json: cannot unmarshal ${TYPE_OF(v)} into Go struct field ObjectMeta.metadata.${field} of type ${go}`);
  const m = obj.metadata as unknown;
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw errors.badRequest(`json: cannot unmarshal ${TYPE_OF(m)} into Go struct field .metadata of type v1.ObjectMeta`);
  const meta = obj.metadata;
  for (const f of ['name', 'generateName', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp'] as const) {
    if (meta[f] !== undefined && meta[f] !== null && typeof meta[f] !== 'string') throw bad(f, meta[f], GO_TYPES.string);
    if (meta[f] === null) delete meta[f];
  }
  for (const f of ['labels', 'annotations'] as const) {
    const v = meta[f] as unknown;
    if (v === undefined || v === null) { delete meta[f]; continue; }
    if (typeof v !== 'object' || Array.isArray(v)) throw bad(f, v, GO_TYPES.map);
    for (const x of Object.values(v)) if (typeof x !== 'string') throw bad(f, x, 'string');
  }
  if (meta.finalizers !== undefined && meta.finalizers !== null) {
    if (!Array.isArray(meta.finalizers)) throw bad('finalizers', meta.finalizers, GO_TYPES.list);
    for (const x of meta.finalizers) if (typeof x !== 'string') throw bad('finalizers', x, 'string');
  }
  if (meta.ownerReferences !== undefined && meta.ownerReferences !== null) {
    if (!Array.isArray(meta.ownerReferences)) throw bad('ownerReferences', meta.ownerReferences, GO_TYPES.objects);
    for (const x of meta.ownerReferences as unknown[]) if (x === null || typeof x !== 'object' || Array.isArray(x)) throw bad('ownerReferences', x, 'v1.OwnerReference');
  }
  if (meta.generation !== undefined && meta.generation !== null && typeof meta.generation !== 'number') throw bad('generation', meta.generation, 'int64');
}

/** ValidateObjectMeta's name, label and annotation rules, for create and update alike. */
export function validateObjectMeta(kind: Kind, obj: KObject): Cause[] {
  const meta = obj.metadata;
  const causes: Cause[] = [];
  const name = meta.name ?? '';
  if (!name && !meta.generateName) causes.push({ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' });
  if (name) for (const m of nameRule(kind)(name)) causes.push(invalid('metadata.name', name, m));
  for (const [k, v] of Object.entries(meta.labels ?? {})) {
    for (const m of isQualifiedName(k)) causes.push(invalid('metadata.labels', k, m));
    for (const m of isValidLabelValue(v)) causes.push(invalid('metadata.labels', v, m));
  }
  let annotationBytes = 0;
  for (const [k, v] of Object.entries(meta.annotations ?? {})) {
    for (const m of isQualifiedName(k.toLowerCase())) causes.push(invalid('metadata.annotations', k, m));
    annotationBytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (annotationBytes > TOTAL_ANNOTATION_SIZE) causes.push(tooLong('metadata.annotations', TOTAL_ANNOTATION_SIZE));
  causes.push(...validateDataSize(kind, obj));
  return causes;
}

/** ValidateConfigMap / ValidateSecret: the data may total 1 MiB. */
function validateDataSize(kind: Kind, obj: KObject): Cause[] {
  if (kind.group !== '') return [];
  const values = (m: unknown): unknown[] => (m && typeof m === 'object' ? Object.values(m) : []);
  if (kind.kind === 'ConfigMap') {
    let total = 0;
    for (const v of values(obj.data)) total += typeof v === 'string' ? Buffer.byteLength(v) : 0;
    for (const v of values(obj.binaryData)) total += typeof v === 'string' ? Buffer.from(v, 'base64').length : 0;
    // field.NewPath("") renders as "[]".
    return total > MAX_SECRET_SIZE ? [tooLong('[]', MAX_SECRET_SIZE)] : [];
  }
  if (kind.kind === 'Secret') {
    let total = 0;
    for (const v of values(obj.data)) total += typeof v === 'string' ? Buffer.from(v, 'base64').length : 0;
    return total > MAX_SECRET_SIZE ? [tooLong('data', MAX_SECRET_SIZE)] : [];
  }
  return [];
}

/** What etcd would refuse: the object as stored is over its request limit. */
export function checkStorable(obj: KObject): void {
  if (Buffer.byteLength(JSON.stringify(obj)) > ETCD_MAX_REQUEST_BYTES) throw errors.etcdRequestTooLarge();
}
