// The kinds the sim serves, with the group, plural and short names the real projects use.

export interface Column {
  name: string;
  type: 'string' | 'integer' | 'date' | 'boolean';
  /** Dotted path into the object, `.metadata.creationTimestamp` style, or a function of it. */
  path: string | ((o: Record<string, unknown>) => unknown);
  priority?: number;
}

export interface Kind {
  group: string; // '' for core
  version: string;
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  /** Has a /status subresource: the main endpoint ignores status, /status ignores everything else. */
  status?: boolean;
  /** Strategic merge patch applies (built-in kinds); CRDs only take JSON and merge patch, as on a real server. */
  builtin?: boolean;
  /** Extra printer columns after NAME, as additionalPrinterColumns do for CRDs. */
  columns?: Column[];
}

const age: Column = { name: 'Age', type: 'date', path: '.metadata.creationTimestamp' };

export const KINDS: Kind[] = [
  { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', singular: 'namespace', namespaced: false, shortNames: ['ns'], status: true, builtin: true,
    columns: [{ name: 'Status', type: 'string', path: '.status.phase' }, age] },
  { group: '', version: 'v1', kind: 'Node', plural: 'nodes', singular: 'node', namespaced: false, shortNames: ['no'], status: true, builtin: true,
    columns: [
      { name: 'Status', type: 'string', path: (o) => nodeReady(o) },
      { name: 'Roles', type: 'string', path: (o) => nodeRoles(o) },
      age,
      { name: 'Version', type: 'string', path: '.status.nodeInfo.kubeletVersion' },
      { name: 'Internal-IP', type: 'string', path: (o) => nodeAddress(o, 'InternalIP'), priority: 1 },
      { name: 'External-IP', type: 'string', path: (o) => nodeAddress(o, 'ExternalIP'), priority: 1 },
    ] },
  { group: '', version: 'v1', kind: 'Pod', plural: 'pods', singular: 'pod', namespaced: true, shortNames: ['po'], categories: ['all'], status: true, builtin: true,
    columns: [
      { name: 'Ready', type: 'string', path: (o) => podReady(o) },
      { name: 'Status', type: 'string', path: '.status.phase' },
      age,
      { name: 'IP', type: 'string', path: '.status.podIP', priority: 1 },
      { name: 'Node', type: 'string', path: '.spec.nodeName', priority: 1 },
    ] },
  { group: '', version: 'v1', kind: 'Service', plural: 'services', singular: 'service', namespaced: true, shortNames: ['svc'], categories: ['all'], status: true, builtin: true,
    columns: [
      { name: 'Type', type: 'string', path: '.spec.type' },
      { name: 'Cluster-IP', type: 'string', path: (o) => str(get(o, '.spec.clusterIPs')) || str(get(o, '.spec.clusterIP')) || '<none>' },
      { name: 'External-IP', type: 'string', path: (o) => serviceExternal(o) },
      { name: 'Port(s)', type: 'string', path: (o) => servicePorts(o) },
      age,
      { name: 'Selector', type: 'string', path: (o) => selectorString(get(o, '.spec.selector')), priority: 1 },
    ] },
  { group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', singular: 'configmap', namespaced: true, shortNames: ['cm'], builtin: true,
    columns: [{ name: 'Data', type: 'integer', path: (o) => Object.keys((o.data as object) ?? {}).length }, age] },
  { group: '', version: 'v1', kind: 'Secret', plural: 'secrets', singular: 'secret', namespaced: true, builtin: true,
    columns: [{ name: 'Type', type: 'string', path: '.type' }, { name: 'Data', type: 'integer', path: (o) => Object.keys((o.data as object) ?? {}).length }, age] },
  { group: '', version: 'v1', kind: 'Event', plural: 'events', singular: 'event', namespaced: true, shortNames: ['ev'], builtin: true,
    columns: [
      { name: 'Last Seen', type: 'date', path: '.lastTimestamp' },
      { name: 'Type', type: 'string', path: '.type' },
      { name: 'Reason', type: 'string', path: '.reason' },
      { name: 'Object', type: 'string', path: (o) => `${String(get(o, '.involvedObject.kind')).toLowerCase()}/${String(get(o, '.involvedObject.name'))}` },
      { name: 'Message', type: 'string', path: '.message' },
    ] },
  { group: 'apps', version: 'v1', kind: 'DaemonSet', plural: 'daemonsets', singular: 'daemonset', namespaced: true, shortNames: ['ds'], categories: ['all'], status: true, builtin: true,
    columns: [
      { name: 'Desired', type: 'integer', path: '.status.desiredNumberScheduled' },
      { name: 'Current', type: 'integer', path: '.status.currentNumberScheduled' },
      { name: 'Ready', type: 'integer', path: '.status.numberReady' },
      { name: 'Up-to-date', type: 'integer', path: '.status.updatedNumberScheduled' },
      { name: 'Available', type: 'integer', path: '.status.numberAvailable' },
      { name: 'Node Selector', type: 'string', path: (o) => selectorString(get(o, '.spec.template.spec.nodeSelector')) || '<none>' },
      age,
    ] },
  { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', plural: 'endpointslices', singular: 'endpointslice', namespaced: true, builtin: true,
    columns: [
      { name: 'AddressType', type: 'string', path: '.addressType' },
      { name: 'Ports', type: 'string', path: (o) => ((o.ports as { port?: number }[]) ?? []).map((p) => p.port).join(',') || '<unset>' },
      { name: 'Endpoints', type: 'string', path: (o) => ((o.endpoints as { addresses?: string[] }[]) ?? []).flatMap((e) => e.addresses ?? []).join(',') || '<unset>' },
      age,
    ] },
  { group: 'node.k8s.io', version: 'v1', kind: 'RuntimeClass', plural: 'runtimeclasses', singular: 'runtimeclass', namespaced: false, builtin: true,
    columns: [{ name: 'Handler', type: 'string', path: '.handler' }, age] },

  // KubeVirt
  { group: 'kubevirt.io', version: 'v1', kind: 'VirtualMachine', plural: 'virtualmachines', singular: 'virtualmachine', namespaced: true, shortNames: ['vm', 'vms'], categories: ['all'], status: true,
    columns: [age, { name: 'Status', type: 'string', path: '.status.printableStatus' }, { name: 'Ready', type: 'string', path: (o) => condition(o, 'Ready') }] },
  { group: 'kubevirt.io', version: 'v1', kind: 'VirtualMachineInstance', plural: 'virtualmachineinstances', singular: 'virtualmachineinstance', namespaced: true, shortNames: ['vmi', 'vmis'], categories: ['all'], status: true,
    columns: [age, { name: 'Phase', type: 'string', path: '.status.phase' }, { name: 'IP', type: 'string', path: '.status.interfaces[0].ipAddress' },
      { name: 'NodeName', type: 'string', path: '.status.nodeName' }, { name: 'Ready', type: 'string', path: (o) => condition(o, 'Ready') }] },
  { group: 'kubevirt.io', version: 'v1', kind: 'KubeVirt', plural: 'kubevirts', singular: 'kubevirt', namespaced: true, shortNames: ['kv', 'kvs'], status: true,
    columns: [age, { name: 'Phase', type: 'string', path: '.status.phase' }] },
  { group: 'kubevirt.io', version: 'v1', kind: 'VirtualMachineInstanceMigration', plural: 'virtualmachineinstancemigrations', singular: 'virtualmachineinstancemigration', namespaced: true, shortNames: ['vmim', 'vmims'], categories: ['all'], status: true,
    columns: [{ name: 'Phase', type: 'string', path: '.status.phase' }, { name: 'VMI', type: 'string', path: '.spec.vmiName' }] },

  // MetalLB (its CRDs; printer columns as upstream's)
  { group: 'metallb.io', version: 'v1beta1', kind: 'IPAddressPool', plural: 'ipaddresspools', singular: 'ipaddresspool', namespaced: true,
    columns: [{ name: 'Auto Assign', type: 'boolean', path: '.spec.autoAssign' }, { name: 'Avoid Buggy IPs', type: 'boolean', path: '.spec.avoidBuggyIPs' }, { name: 'Addresses', type: 'string', path: '.spec.addresses' }, age] },
  { group: 'metallb.io', version: 'v1beta1', kind: 'L2Advertisement', plural: 'l2advertisements', singular: 'l2advertisement', namespaced: true,
    columns: [{ name: 'IPAddressPools', type: 'string', path: '.spec.ipAddressPools' }, { name: 'IPAddressPool Selectors', type: 'string', path: '.spec.ipAddressPoolSelectors' }, { name: 'Interfaces', type: 'string', path: '.spec.interfaces' }, age] },
  // Multus, nmstate
  { group: 'k8s.cni.cncf.io', version: 'v1', kind: 'NetworkAttachmentDefinition', plural: 'network-attachment-definitions', singular: 'network-attachment-definition', namespaced: true, shortNames: ['net-attach-def'], columns: [age] },
  { group: 'k8s.cni.cncf.io', version: 'v1beta1', kind: 'MultiNetworkPolicy', plural: 'multi-networkpolicies', singular: 'multi-networkpolicy', namespaced: true, shortNames: ['multi-policy'], columns: [age] },
  { group: 'nmstate.io', version: 'v1', kind: 'NodeNetworkConfigurationPolicy', plural: 'nodenetworkconfigurationpolicies', singular: 'nodenetworkconfigurationpolicy', namespaced: false, shortNames: ['nncp'], status: true,
    columns: [{ name: 'Status', type: 'string', path: (o) => trueCondition(o) }, { name: 'Reason', type: 'string', path: (o) => trueCondition(o, 'reason') }] },
  { group: 'nmstate.io', version: 'v1beta1', kind: 'NodeNetworkState', plural: 'nodenetworkstates', singular: 'nodenetworkstate', namespaced: false, shortNames: ['nns'], status: true, columns: [age] },
  { group: 'nmstate.io', version: 'v1beta1', kind: 'NodeNetworkConfigurationEnactment', plural: 'nodenetworkconfigurationenactments', singular: 'nodenetworkconfigurationenactment', namespaced: false, shortNames: ['nnce'], status: true,
    columns: [{ name: 'Status', type: 'string', path: (o) => trueCondition(o) }, { name: 'Reason', type: 'string', path: (o) => trueCondition(o, 'reason') }] },

  // SR-IOV Network Operator
  { group: 'sriovnetwork.openshift.io', version: 'v1', kind: 'SriovNetworkNodePolicy', plural: 'sriovnetworknodepolicies', singular: 'sriovnetworknodepolicy', namespaced: true, status: true, columns: [age] },
  { group: 'sriovnetwork.openshift.io', version: 'v1', kind: 'SriovNetwork', plural: 'sriovnetworks', singular: 'sriovnetwork', namespaced: true, status: true, columns: [age] },
  { group: 'sriovnetwork.openshift.io', version: 'v1', kind: 'SriovNetworkNodeState', plural: 'sriovnetworknodestates', singular: 'sriovnetworknodestate', namespaced: true, status: true,
    columns: [{ name: 'Sync Status', type: 'string', path: '.status.syncStatus' }, age] },

  { group: 'admissionregistration.k8s.io', version: 'v1', kind: 'MutatingWebhookConfiguration', plural: 'mutatingwebhookconfigurations', singular: 'mutatingwebhookconfiguration', namespaced: false, builtin: true,
    columns: [{ name: 'Webhooks', type: 'integer', path: (o) => ((o.webhooks as unknown[]) ?? []).length }, age] },

  // OpenShift and operators
  { group: 'hco.kubevirt.io', version: 'v1beta1', kind: 'HyperConverged', plural: 'hyperconvergeds', singular: 'hyperconverged', namespaced: true, shortNames: ['hco', 'hcos'], status: true, columns: [age] },
  { group: 'networkaddonsoperator.network.kubevirt.io', version: 'v1', kind: 'NetworkAddonsConfig', plural: 'networkaddonsconfigs', singular: 'networkaddonsconfig', namespaced: false, status: true, columns: [age] },
  { group: 'performance.openshift.io', version: 'v2', kind: 'PerformanceProfile', plural: 'performanceprofiles', singular: 'performanceprofile', namespaced: false, status: true, columns: [age] },
  { group: 'config.openshift.io', version: 'v1', kind: 'Network', plural: 'networks', singular: 'network', namespaced: false, status: true, columns: [age] },
  { group: 'config.openshift.io', version: 'v1', kind: 'DNS', plural: 'dnses', singular: 'dns', namespaced: false, status: true, columns: [age] },
  { group: 'machineconfiguration.openshift.io', version: 'v1', kind: 'MachineConfigPool', plural: 'machineconfigpools', singular: 'machineconfigpool', namespaced: false, shortNames: ['mcp'], status: true, columns: [age] },
];

export function apiVersionOf(k: Kind): string {
  return k.group ? `${k.group}/${k.version}` : k.version;
}

const byApiVersionKind = new Map(KINDS.map((k) => [`${apiVersionOf(k)}|${k.kind}`, k]));
const byGroupVersionPlural = new Map(KINDS.map((k) => [`${k.group}|${k.version}|${k.plural}`, k]));

export function kindOf(apiVersion: string, kind: string): Kind | undefined {
  return byApiVersionKind.get(`${apiVersion}|${kind}`);
}
export function kindByPlural(group: string, version: string, plural: string): Kind | undefined {
  return byGroupVersionPlural.get(`${group}|${version}|${plural}`);
}

// --- helpers for printer columns -------------------------------------------------

/** Resolves `.a.b[0].c` against an object. */
export function get(o: unknown, path: string): unknown {
  let cur: unknown = o;
  for (const part of path.split('.').filter(Boolean)) {
    const m = /^([^[]+)(?:\[(\d+)\])?$/.exec(part);
    if (!m || cur == null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[m[1]];
    if (m[2] !== undefined) cur = Array.isArray(cur) ? cur[Number(m[2])] : undefined;
  }
  return cur;
}
function str(v: unknown): string {
  return Array.isArray(v) ? v.join(',') : v == null ? '' : String(v);
}
function condition(o: Record<string, unknown>, type: string): string {
  const c = ((get(o, '.status.conditions') as { type: string; status: string }[]) ?? []).find((x) => x.type === type);
  return c ? c.status : 'False';
}
function trueCondition(o: Record<string, unknown>, field: 'type' | 'reason' = 'type'): string {
  const c = ((get(o, '.status.conditions') as { type: string; status: string; reason?: string }[]) ?? []).find((x) => x.status === 'True');
  return c ? String(c[field] ?? '') : '';
}
function nodeReady(o: Record<string, unknown>): string {
  const ready = condition(o, 'Ready') === 'True' ? 'Ready' : 'NotReady';
  return get(o, '.spec.unschedulable') ? `${ready},SchedulingDisabled` : ready;
}
function nodeRoles(o: Record<string, unknown>): string {
  const roles = Object.keys((get(o, '.metadata.labels') as Record<string, string>) ?? {})
    .filter((l) => l.startsWith('node-role.kubernetes.io/'))
    .map((l) => l.slice('node-role.kubernetes.io/'.length));
  return roles.sort().join(',') || '<none>';
}
function nodeAddress(o: Record<string, unknown>, type: string): string {
  const a = ((get(o, '.status.addresses') as { type: string; address: string }[]) ?? []).find((x) => x.type === type);
  return a ? a.address : '<none>';
}
function podReady(o: Record<string, unknown>): string {
  const cs = (get(o, '.status.containerStatuses') as { ready: boolean }[]) ?? [];
  const total = ((get(o, '.spec.containers') as unknown[]) ?? []).length;
  return `${cs.filter((c) => c.ready).length}/${total}`;
}
function serviceExternal(o: Record<string, unknown>): string {
  const ingress = ((get(o, '.status.loadBalancer.ingress') as { ip?: string; hostname?: string }[]) ?? []).map((i) => i.ip ?? i.hostname);
  if (ingress.length) return ingress.join(',');
  const ext = get(o, '.spec.externalIPs') as string[] | undefined;
  if (ext?.length) return ext.join(',');
  return get(o, '.spec.type') === 'LoadBalancer' ? '<pending>' : '<none>';
}
function servicePorts(o: Record<string, unknown>): string {
  const ports = (get(o, '.spec.ports') as { port: number; nodePort?: number; protocol?: string }[]) ?? [];
  return ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',') || '<none>';
}
function selectorString(sel: unknown): string {
  if (!sel || typeof sel !== 'object') return '<none>';
  return Object.entries(sel as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',') || '<none>';
}
