// The pods/eviction subresource, as kube-apiserver's EvictionREST.Create does it
// (kubernetes/kubernetes pkg/registry/core/pod/storage/eviction.go): the body is a policy Eviction
// naming the pod, validating webhooks on pods/eviction see it first, then the pod is deleted with the
// eviction's deleteOptions. The sim has no PodDisruptionBudgets, so nothing else can refuse it.
import type { Kind } from './kinds.ts';
import type { Registry } from './registry.ts';
import { ApiError, errors } from './status.ts';
import type { KObject } from './types.ts';

/** What a validating webhook on pods/eviction is shown (its AdmissionReview, the parts the sim's use). */
export interface EvictionReview {
  namespace: string;
  /** The pod's name (AdmissionRequest.name). */
  name: string;
  eviction: KObject;
  dryRun: boolean;
}

/** A validating webhook on pods/eviction: throws the ApiError kube-apiserver would forward, or admits. */
export type EvictionWebhook = (review: EvictionReview) => void;

interface EvictionDeleteOptions {
  dryRun?: string[];
  preconditions?: { uid?: string; resourceVersion?: string };
}

/** POST .../pods/<name>/eviction: the Status a 201 carries, or throws. */
export function evictPod(registry: Registry, pods: Kind, namespace: string, name: string, body: unknown, queryDryRun: boolean, webhooks: readonly EvictionWebhook[]): Record<string, unknown> {
  const eviction = body as KObject;
  if (!eviction || typeof eviction !== 'object' || eviction.kind !== 'Eviction' || !['policy/v1', 'policy/v1beta1'].includes(eviction.apiVersion)) {
    throw errors.badRequest(`not a Eviction object: ${eviction?.apiVersion ?? ''}, Kind=${eviction?.kind ?? ''}`);
  }
  if (eviction.metadata?.name !== name) throw errors.badRequest('name in URL does not match name in Eviction object');
  const opts = (eviction.deleteOptions ?? {}) as EvictionDeleteOptions;
  // propagateDryRun: the query's dryRun and the body's must agree when both are given.
  const bodyDryRun = (opts.dryRun ?? []).includes('All');
  if (opts.dryRun?.length && queryDryRun !== bodyDryRun) throw new ApiError(500, '', `Non-matching dry-run options in request and content: ${queryDryRun ? '[All]' : '[]'} and [${opts.dryRun.join(' ')}]`);
  const dryRun = queryDryRun || bodyDryRun;
  for (const w of webhooks) w({ namespace, name, eviction, dryRun });
  if (!registry.tryGet(pods, namespace, name)) throw errors.notFound('pods', '', name);
  registry.delete(pods, namespace, name, { dryRun, preconditions: opts.preconditions });
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
}
