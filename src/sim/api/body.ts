// Request bodies as the apiserver takes them: read at most MaxRequestBodyBytes (413 beyond, without
// buffering the rest), decoded by Content-Type (415 for a type the endpoint does not take), and
// parse errors answered as the client's (400), never as the server's.
// Upstream: k8s.io/apiserver pkg/endpoints/handlers/rest.go limitedReadBody, pkg/server/config.go
// (MaxRequestBodyBytes 3 MiB), handlers/negotiation NegotiateInputSerializer.
import type http from 'node:http';
import YAML from 'yaml';
import { errors } from './status.ts';

export const MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024;

/**
 * The media types a 415 lists: built-in kinds (and DeleteOptions) also take protobuf, custom resources
 * do not. The sim decodes JSON and YAML only; a protobuf body gets the same 415.
 */
export const BUILTIN_MEDIA_TYPES = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'] as const;
export const CUSTOM_RESOURCE_MEDIA_TYPES = ['application/json', 'application/yaml'] as const;

/** The request's media type without parameters, lower-cased; '' when absent. */
export function mediaType(req: http.IncomingMessage): string {
  return String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

/**
 * Reads the body, up to `limit` bytes. Over the limit it stops keeping bytes and fails with 413 at
 * once; the rest of the upload is discarded as it arrives, and the server closes the connection after
 * answering (as Go's server does after an unread body), so a huge upload costs neither memory nor time.
 */
export function readBody(req: http.IncomingMessage, limit = MAX_REQUEST_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const tooLarge = () => {
      chunks.length = 0;
      req.removeListener('data', onData);
      req.on('data', discard);
      closeAfterResponse(req);
      reject(errors.requestEntityTooLarge(limit));
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) tooLarge();
      else chunks.push(c);
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) { tooLarge(); return; }
    req.on('data', onData);
    req.on('end', () => { if (size <= limit) resolve(Buffer.concat(chunks)); });
    req.on('error', reject);
  });
}

function discard(): void {}

/** Connection: close on the answer, then the socket goes (after Go's 500 ms lingering close). */
function closeAfterResponse(req: http.IncomingMessage): void {
  (req as http.IncomingMessage & { kvnetClose?: boolean }).kvnetClose = true;
}

export function mustClose(req: http.IncomingMessage): boolean {
  return !!(req as http.IncomingMessage & { kvnetClose?: boolean }).kvnetClose;
}

export function parseJson(raw: Buffer | undefined): unknown {
  try {
    return JSON.parse(raw?.toString() || 'null');
  } catch (e) {
    throw errors.badRequest(`the request body is not valid JSON: ${(e as Error).message}`);
  }
}

export function parseYaml(raw: Buffer | undefined): unknown {
  try {
    return YAML.parse(raw?.toString() ?? '', { maxAliasCount: 100, logLevel: 'error' }) as unknown;
  } catch (e) {
    throw errors.badRequest(`error converting YAML to JSON: ${(e as Error).message}`);
  }
}

/** An object body by its Content-Type: JSON when absent (the serializer's default), 415 if unknown. */
export function decodeObjectBody(req: http.IncomingMessage, raw: Buffer | undefined, builtin = true): unknown {
  const type = mediaType(req);
  if (type === '' || type === 'application/json') return parseJson(raw);
  if (type === 'application/yaml') return parseYaml(raw);
  throw errors.unsupportedMediaType(builtin ? BUILTIN_MEDIA_TYPES : CUSTOM_RESOURCE_MEDIA_TYPES);
}
