// A minimal OpenAPI v3 index: one document per group-version whose PATCH operations carry the GVK and
// the `fieldValidation` parameter. That is what kubectl reads to decide it may leave validation to
// the server (it refuses to apply when no OpenAPI is served at all). Schemas are not published.
import { type Kind, KINDS } from './kinds.ts';

function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

export function openapiRoot(): Record<string, unknown> {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const k of KINDS) {
    const p = gvPath(k.group, k.version);
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=kvnet` };
  }
  return { paths };
}

function itemPath(k: Kind): string {
  const base = `/${gvPath(k.group, k.version)}`;
  return k.namespaced ? `${base}/namespaces/{namespace}/${k.plural}/{name}` : `${base}/${k.plural}/{name}`;
}

export function openapiGroupVersion(path: string): Record<string, unknown> | undefined {
  const kinds = KINDS.filter((k) => gvPath(k.group, k.version) === path);
  if (!kinds.length) return undefined;
  const paths: Record<string, unknown> = {};
  for (const k of kinds) {
    const gvk = { group: k.group, version: k.version, kind: k.kind };
    // Built-in kinds take strategic merge patch; kubectl then computes it from its own compiled types.
    const content: Record<string, object> = { 'application/json-patch+json': {}, 'application/merge-patch+json': {}, 'application/apply-patch+yaml': {} };
    // kubectl looks for `fieldValidation` among the PATCH operation's own parameters.
    const parameters = [
      { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
      ...(k.namespaced ? [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string' } }] : []),
      { name: 'dryRun', in: 'query', schema: { type: 'string' } },
      { name: 'fieldManager', in: 'query', schema: { type: 'string' } },
      { name: 'fieldValidation', in: 'query', schema: { type: 'string' } },
    ];
    paths[itemPath(k)] = {
      get: { operationId: `read${k.kind}`, 'x-kubernetes-action': 'get', 'x-kubernetes-group-version-kind': gvk, responses: { '200': { description: 'OK' } } },
      put: { operationId: `replace${k.kind}`, 'x-kubernetes-action': 'put', 'x-kubernetes-group-version-kind': gvk, parameters, responses: { '200': { description: 'OK' } } },
      patch: { operationId: `patch${k.kind}`, 'x-kubernetes-action': 'patch', 'x-kubernetes-group-version-kind': gvk, parameters, requestBody: { content }, responses: { '200': { description: 'OK' } } },
      delete: { operationId: `delete${k.kind}`, 'x-kubernetes-action': 'delete', 'x-kubernetes-group-version-kind': gvk, responses: { '200': { description: 'OK' } } },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes (kvnet sim)', version: 'v1.31.0' }, paths, components: { schemas: {} } };
}
