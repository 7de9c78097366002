// Discovery documents: what kubectl api-resources and client-go's RESTMapper read.
import { type Kind, KINDS } from './kinds.ts';

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** Subresources that are not plain objects: KubeVirt's virt-api verbs. */
export const KUBEVIRT_SUBRESOURCES = {
  group: 'subresources.kubevirt.io',
  version: 'v1',
  resources: [
    { name: 'virtualmachines/start', kind: 'VirtualMachine', verbs: ['update'] },
    { name: 'virtualmachines/stop', kind: 'VirtualMachine', verbs: ['update'] },
    { name: 'virtualmachines/restart', kind: 'VirtualMachine', verbs: ['update'] },
    { name: 'virtualmachines/migrate', kind: 'VirtualMachine', verbs: ['update'] },
    { name: 'virtualmachineinstances/portforward', kind: 'VirtualMachineInstance', verbs: ['get'] },
  ],
};

function groups(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const k of KINDS) {
    if (!k.group) continue;
    const vs = out.get(k.group) ?? [];
    if (!vs.includes(k.version)) vs.push(k.version);
    out.set(k.group, vs);
  }
  out.set(KUBEVIRT_SUBRESOURCES.group, [KUBEVIRT_SUBRESOURCES.version]);
  return out;
}

function apiGroup(name: string, versions: string[]): Record<string, unknown> {
  const vs = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: vs, preferredVersion: vs[0] };
}

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

export function apiGroupList(): Record<string, unknown> {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groups()].map(([n, vs]) => apiGroup(n, vs)) };
}

export function apiGroupDoc(group: string): Record<string, unknown> | undefined {
  const vs = groups().get(group);
  return vs && { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, vs) };
}

function resourceEntry(k: Kind): Record<string, unknown>[] {
  const main = {
    name: k.plural, singularName: k.singular, namespaced: k.namespaced, kind: k.kind, verbs: VERBS,
    ...(k.shortNames ? { shortNames: k.shortNames } : {}), ...(k.categories ? { categories: k.categories } : {}),
  };
  const status = k.status ? [{ name: `${k.plural}/status`, singularName: '', namespaced: k.namespaced, kind: k.kind, verbs: ['get', 'patch', 'update'] }] : [];
  // kubectl drain evicts only when the core list names pods/eviction with its group and version
  // (kubectl pkg/drain CheckEvictionSupport); otherwise it deletes the pods.
  const eviction = k.kind === 'Pod' && !k.group ? [{ name: 'pods/eviction', singularName: '', namespaced: true, group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] }] : [];
  return [main, ...status, ...eviction];
}

export function resourceList(group: string, version: string): Record<string, unknown> | undefined {
  const groupVersion = group ? `${group}/${version}` : version;
  if (group === KUBEVIRT_SUBRESOURCES.group && version === KUBEVIRT_SUBRESOURCES.version) {
    return {
      kind: 'APIResourceList', apiVersion: 'v1', groupVersion,
      resources: KUBEVIRT_SUBRESOURCES.resources.map((r) => ({ ...r, singularName: '', namespaced: true })),
    };
  }
  const kinds = KINDS.filter((k) => k.group === group && k.version === version);
  if (!kinds.length) return undefined;
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources: kinds.flatMap(resourceEntry) };
}
