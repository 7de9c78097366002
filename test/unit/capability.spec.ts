// Requirements: one unmet reason per kind, serialised into static annotations and read back.
import { expect, test } from '@playwright/test';
import { defaultProfile } from '../../src/fixtures/profile.ts';
import { describeRequirement, requirementAnnotation, requirementsOf, requires, unmet } from '../../src/fixtures/requirements.ts';
import { capabilityAnnotations, details } from '../../src/fixtures/capability.ts';
import { simProfile } from '../../src/sim/modules/index.ts';
import type { ClusterFacts } from '../../src/kube/discovery.ts';

const facts: ClusterFacts = {
  kubernetesVersion: 'v1.31.0', groups: ['kubevirt.io', 'k8s.cni.cncf.io'], schedulableNodes: ['n1'], dualStack: false,
  nodeResources: ['cpu', 'memory', 'openshift.io/vfs'], namespaces: ['default', 'metallb-system'],
};
// The sim's profile with the keys it publishes (its spare NICs among them).
const sim = { ...defaultProfile('sim'), secondary: { ...defaultProfile('sim').secondary, ...simProfile().secondary } };
const cluster = defaultProfile('cluster');

test('each kind: met, and unmet with the reason the skip shows', () => {
  expect(unmet(requires.api('kubevirt.io', 'KubeVirt'), facts, sim)).toBeUndefined();
  expect(unmet(requires.api('nmstate.io', 'kubernetes-nmstate'), facts, sim)).toBe('the target serves no nmstate.io API (kubernetes-nmstate not installed)');
  expect(unmet(requires.nodes(1), facts, sim)).toBeUndefined();
  expect(unmet(requires.nodes(2), facts, sim)).toBe('needs 2 schedulable nodes, the target has 1');
  expect(unmet(requires.dualStack(), facts, sim)).toBe('the cluster network is single-stack');
  expect(unmet(requires.dualStack(), { ...facts, dualStack: true }, sim)).toBeUndefined();
  expect(unmet(requires.profile('secondary.bridgePort', 'a spare NIC'), facts, sim)).toBeUndefined();
  expect(unmet(requires.profile('secondary.bridgePort', 'a spare NIC'), facts, cluster)).toBe('the profile sets no secondary.bridgePort (a spare NIC): set it in the KVNET_PROFILE file');
  expect(unmet(requires.profile('secondary.noSuchKey', 'x'), facts, sim)).toBe('the profile has no key secondary.noSuchKey (x)');
  expect(unmet(requires.nodeResource('openshift.io/vfs', 'SR-IOV VFs'), facts, sim)).toBeUndefined();
  expect(unmet(requires.nodeResource('openshift.io/other', 'SR-IOV VFs'), facts, sim)).toBe('no schedulable node has allocatable openshift.io/other (SR-IOV VFs)');
  expect(unmet(requires.namespace('metallb-system', 'MetalLB'), facts, sim)).toBeUndefined();
  expect(unmet(requires.namespace('openshift-sriov-network-operator', 'the SR-IOV operator'), facts, sim)).toBe('the target has no namespace openshift-sriov-network-operator (the SR-IOV operator not installed)');
  expect(unmet(requires.namespace('x', 'y'), { ...facts, namespaces: undefined }, sim), 'unlistable namespaces do not skip').toBeUndefined();
  expect(unmet(requires.networkType('OVNKubernetes'), facts, sim), 'an unpublished network type does not skip').toBeUndefined();
  expect(unmet(requires.networkType('OVNKubernetes'), { ...facts, networkType: 'OVNKubernetes' }, sim)).toBeUndefined();
  expect(unmet(requires.networkType('OVNKubernetes'), { ...facts, networkType: 'OpenShiftSDN' }, sim)).toBe('the cluster network is OpenShiftSDN, not OVNKubernetes');
});

test('annotations round-trip: describe labels, seed, one kvnet.requires per requirement; details add params', () => {
  const reqs = [requires.nodes(2), requires.api('nmstate.io', 'nmstate')];
  const a = capabilityAnnotations({ epic: 'Secondary networks', feature: 'Linux bridge', section: '8.5', requires: reqs });
  expect(a.slice(0, 3)).toEqual([{ type: '@allure.label.epic', description: 'Secondary networks' }, { type: '@allure.label.feature', description: 'Linux bridge' }, { type: 'seed', description: '8.5' }]);
  const d = details({ requires: [requires.dualStack(), requires.nodes(2)], params: { placement: 'cross-node' } });
  expect(d.annotation).toContainEqual({ type: 'kvnet.param', description: 'placement=cross-node' });
  // Deduplicated across the describe chain and the test.
  expect(requirementsOf([...a, ...d.annotation])).toEqual([...reqs, requires.dualStack()]);
  expect(requirementAnnotation(requires.nodes(2))).toEqual({ type: 'kvnet.requires', description: '{"count":2,"kind":"nodes"}' });
  expect(() => requirementsOf([{ type: 'kvnet.requires', description: '{"kind":"gpu"}' }])).toThrow(/unknown requirement kind/);
  expect(describeRequirement(requires.nodeResource('openshift.io/vfs', 'SR-IOV VFs'))).toBe('node resource openshift.io/vfs (SR-IOV VFs)');
});
