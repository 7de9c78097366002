// Query parameters and DeleteOptions as the apiserver decodes and validates them: dryRun (query for
// create/update/patch; the DeleteOptions body, else the query, for delete and deletecollection),
// integers (400 when they do not parse), resourceVersion and continue tokens (400 when malformed).
// Upstream: k8s.io/apiserver pkg/endpoints/handlers/{create,update,patch,delete,get}.go,
// k8s.io/apimachinery pkg/apis/meta/v1/validation/validation.go (ValidateDryRun, ValidateDeleteOptions),
// k8s.io/apiserver pkg/storage/continue.go and etcd3/store.go.
import type http from 'node:http';
import { decodeObjectBody } from './body.ts';
import { errors } from './status.ts';
import type { Cause } from './types.ts';

type OptionsKind = 'CreateOptions' | 'UpdateOptions' | 'PatchOptions' | 'DeleteOptions' | 'ListOptions';

const optionsInvalid = (kind: OptionsKind, causes: Cause[]) => errors.invalid(kind, 'meta.k8s.io', '', causes);

/** Go's %#v of a []string, as field.NotSupported prints the rejected dryRun list. */
const goStrings = (xs: string[]) => `[]string{${xs.map((x) => JSON.stringify(x)).join(', ')}}`;

/** ValidateDryRun: every value must be "All". */
export function dryRun(values: unknown, kind: OptionsKind): boolean {
  const list = values === undefined || values === null ? [] : values;
  if (!Array.isArray(list) || !list.every((v) => typeof v === 'string')) throw errors.badRequest('json: cannot unmarshal into Go struct field DeleteOptions.dryRun of type []string');
  const strs = list as string[];
  if (strs.some((v) => v !== 'All')) {
    throw optionsInvalid(kind, [{ reason: 'FieldValueNotSupported', field: 'dryRun', message: `Unsupported value: ${goStrings(strs)}: supported values: "All"` }]);
  }
  return strs.length > 0;
}

/** The query's dryRun for a create, update or patch (their options come only from the query). */
export function queryDryRun(q: URLSearchParams, kind: OptionsKind): boolean {
  return dryRun(q.getAll('dryRun'), kind);
}

/** An int64 query parameter; DecodeParameters' conversion error is a 400. */
export function queryInt(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^[-+]?\d+$/.test(v)) throw errors.badRequest(`strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw errors.badRequest(`strconv.ParseInt: parsing ${JSON.stringify(v)}: value out of range`);
  return n;
}

/** A boolean query parameter, as strconv.ParseBool reads it. */
function queryBool(q: URLSearchParams, name: string): boolean | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  throw errors.badRequest(`strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
}

export interface DeleteOptions {
  dryRun: boolean;
  propagationPolicy?: string;
  preconditions?: { uid?: string; resourceVersion?: string };
}

const PROPAGATION = ['Foreground', 'Background', 'Orphan'];

/**
 * DeleteOptions from the body when there is one, else from the query (never both: delete.go reads
 * the query only for an empty body). kubectl sends them in the body (cli-runtime resource.Helper).
 */
export function deleteOptions(req: http.IncomingMessage, raw: Buffer | undefined, q: URLSearchParams): DeleteOptions {
  let body: Record<string, unknown>;
  if (raw?.length) {
    const decoded = decodeObjectBody(req, raw);
    if (!decoded || typeof decoded !== 'object' || Array.isArray(decoded)) throw errors.badRequest('decoded object cannot be converted to DeleteOptions');
    body = decoded as Record<string, unknown>;
    if (body.kind !== undefined && body.kind !== 'DeleteOptions') throw errors.badRequest('decoded object cannot be converted to DeleteOptions');
  } else {
    queryInt(q, 'gracePeriodSeconds');
    body = { dryRun: q.getAll('dryRun'), propagationPolicy: q.get('propagationPolicy') ?? undefined, orphanDependents: queryBool(q, 'orphanDependents') };
  }
  const causes: Cause[] = [];
  const policy = body.propagationPolicy;
  if (policy !== undefined && policy !== null && typeof policy !== 'string') throw errors.badRequest('json: cannot unmarshal into Go struct field DeleteOptions.propagationPolicy of type v1.DeletionPropagation');
  if (body.orphanDependents !== undefined && body.orphanDependents !== null && policy) {
    causes.push({ reason: 'FieldValueInvalid', field: 'propagationPolicy', message: `Invalid value: ${JSON.stringify(policy)}: orphanDependents and deletionPropagation cannot be both set` });
  }
  if (typeof policy === 'string' && !PROPAGATION.includes(policy)) {
    causes.push({ reason: 'FieldValueNotSupported', field: 'propagationPolicy', message: `Unsupported value: ${JSON.stringify(policy)}: supported values: "Foreground", "Background", "Orphan", "nil"` });
  }
  let dry = false;
  try {
    dry = dryRun(body.dryRun, 'DeleteOptions');
  } catch (e) {
    const cause = (e as { details?: { causes?: Cause[] } }).details?.causes?.[0];
    if (!cause) throw e;
    causes.push(cause);
  }
  if (causes.length) throw optionsInvalid('DeleteOptions', causes);
  const pre = body.preconditions;
  const orphan = body.orphanDependents === true ? 'Orphan' : undefined;
  return {
    dryRun: dry,
    propagationPolicy: (typeof policy === 'string' ? policy : undefined) ?? orphan,
    preconditions: pre && typeof pre === 'object' && !Array.isArray(pre) ? (pre as DeleteOptions['preconditions']) : undefined,
  };
}

/** A resourceVersion the storage can use: '' or '0' is "any", else an unsigned integer (ParseUint). */
export function parseResourceVersion(rv: string | null): number | undefined {
  if (rv === null || rv === '' || rv === '0') return undefined;
  const why = !/^\d+$/.test(rv) ? 'invalid syntax' : BigInt(rv) > 18446744073709551615n ? 'value out of range' : '';
  // etcd3's GetList answers this 400; the watch cache passes the same storage.InvalidError on
  // unclassified (a 500). The sim answers every path with etcd's client error.
  if (why) throw errors.badRequest(`invalid resource version: resourceVersion: Invalid value: ${JSON.stringify(rv)}: strconv.ParseUint: parsing ${JSON.stringify(rv)}: ${why}`);
  return Number(rv);
}

export interface ContinueToken {
  rv: number;
  /** The first key to return, relative to the list's scope (`<ns>/<name>\0` or `<name>\0`). */
  start: string;
}

const invalidContinue = (why: string) => errors.badRequest(`invalid continue token: continue key is not valid${why}`);

/** storage.DecodeContinue: base64url (no padding) JSON `{"v":"meta.k8s.io/v1","rv":N,"start":"..."}`. */
export function decodeContinue(token: string): ContinueToken {
  if (!/^[A-Za-z0-9_-]*$/.test(token) || token.length % 4 === 1) throw invalidContinue(': illegal base64 data at input byte 0');
  let c: { v?: unknown; rv?: unknown; start?: unknown };
  try {
    c = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as typeof c;
  } catch (e) {
    throw invalidContinue(`: ${(e as Error).message}`);
  }
  if (!c || typeof c !== 'object') throw invalidContinue(': json: cannot unmarshal into Go value of type storage.continueToken');
  if (c.v !== 'meta.k8s.io/v1') throw invalidContinue(`: server does not recognize this encoded version ${String(c.v ?? '')}`);
  if (typeof c.rv !== 'number' || !Number.isInteger(c.rv) || c.rv === 0) throw invalidContinue(': incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  if (typeof c.start !== 'string' || !c.start) throw invalidContinue(': encoded start key empty (version meta.k8s.io/v1)');
  // Path traversal guard, as upstream: the cleaned key must equal the key.
  const key = c.start.startsWith('/') ? c.start : `/${c.start}`;
  if (key.split('/').some((p, i) => i > 0 && (p === '.' || p === '..' || (p === '' && i < key.split('/').length - 1)))) throw invalidContinue(`: ${c.start}`);
  return { rv: c.rv, start: key.slice(1) };
}

export function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: t.rv, start: t.start })).toString('base64url');
}

export interface ListParams {
  limit?: number;
  continueToken?: ContinueToken;
  resourceVersion?: number;
  timeoutSeconds?: number;
}

/** ListOptions from the query, 400 for what does not decode. */
export function listParams(q: URLSearchParams): ListParams {
  const limit = queryInt(q, 'limit');
  const timeoutSeconds = queryInt(q, 'timeoutSeconds');
  const cont = q.get('continue');
  const continueToken = cont ? decodeContinue(cont) : undefined;
  const rvText = q.get('resourceVersion');
  const resourceVersion = parseResourceVersion(rvText);
  if (continueToken && rvText && rvText !== '0' && q.get('watch') !== 'true' && q.get('watch') !== '1') {
    throw errors.badRequest('specifying resource version is not allowed when using continue');
  }
  return { limit, continueToken, resourceVersion, timeoutSeconds };
}
