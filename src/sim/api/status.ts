// Kubernetes `Status` errors, the only error shape clients understand.
import type { Cause } from './types.ts';

export type Reason =
  | 'BadRequest' | 'Unauthorized' | 'Forbidden' | 'NotFound' | 'MethodNotAllowed' | 'AlreadyExists'
  | 'Conflict' | 'Invalid' | 'Gone' | 'UnsupportedMediaType' | 'InternalError' | 'NotAcceptable'
  | 'RequestEntityTooLarge'
  /** metav1.StatusReasonUnknown: what the apiserver sends for an error it did not classify. */
  | '';

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  /** As metav1.StatusCause: `field` omitted when the cause is about the whole object. */
  causes?: (Omit<Cause, 'field'> & { field?: string })[];
}

export class ApiError extends Error {
  constructor(readonly code: number, readonly reason: Reason, message: string, readonly details?: StatusDetails) {
    super(message);
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: this.message, ...(this.reason ? { reason: this.reason } : {}), ...(this.details ? { details: this.details } : {}), code: this.code,
    };
  }
}

/** `<plural>.<group> "<name>"`, the way the real server names a resource in messages. */
export function resourceRef(plural: string, group: string, name: string): string {
  return `${group ? `${plural}.${group}` : plural} "${name}"`;
}

export const errors = {
  badRequest: (msg: string) => new ApiError(400, 'BadRequest', msg),
  unauthorized: () => new ApiError(401, 'Unauthorized', 'Unauthorized'),
  forbidden: (msg: string) => new ApiError(403, 'Forbidden', msg),
  notFound: (plural: string, group: string, name: string) =>
    new ApiError(404, 'NotFound', `${resourceRef(plural, group, name)} not found`, { name, group, kind: plural }),
  pathNotFound: () => new ApiError(404, 'NotFound', 'the server could not find the requested resource'),
  /** As go-restful's 405 through the apiserver's serviceErrorHandler (apierrors.NewGenericServerResponse). */
  methodNotAllowed: () => new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {}),
  alreadyExists: (plural: string, group: string, name: string) =>
    new ApiError(409, 'AlreadyExists', `${resourceRef(plural, group, name)} already exists`, { name, group, kind: plural }),
  conflict: (plural: string, group: string, name: string, why: string) =>
    new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${resourceRef(plural, group, name)}: ${why}`, { name, group, kind: plural }),
  /** apierrors.NewInvalid: `<Kind>[.<group>] "<name>" is invalid: <cause>` or `[<cause>, <cause>]`. */
  invalid: (kind: string, group: string, name: string, causes: Cause[]) => {
    const msgs = [...new Set(causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)))];
    return new ApiError(422, 'Invalid',
      `${group ? `${kind}.${group}` : kind} "${name}" is invalid: ${msgs.length === 1 ? msgs[0] : `[${msgs.join(', ')}]`}`,
      // A cause about the whole object has no field (metav1.StatusCause omits it).
      { name, group, kind, causes: causes.map((c) => (c.field ? c : { reason: c.reason, message: c.message })) });
  },
  gone: (msg: string) => new ApiError(410, 'Gone', msg),
  /** negotiation.NewUnsupportedMediaTypeError. */
  unsupportedMediaType: (accepted: readonly string[]) => new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`),
  /** apierrors.NewRequestEntityTooLargeError, from the handlers' limitedReadBody. */
  requestEntityTooLarge: (limit: number) => new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`),
  /**
   * etcd refuses a request over its --max-request-bytes (1.5 MiB by default) and the apiserver passes
   * the gRPC error on unclassified: a 500 with no reason (kubernetes/kubernetes#112152, still open).
   */
  etcdRequestTooLarge: () => new ApiError(500, '', 'etcdserver: request is too large'),
};
