// virt-api's interface-state rules (pkg/network/admitter/admit.go) with its exact messages, and its
// VMI update admitter: a client may relabel a VMI but not change its spec ("update of VMI object is
// restricted", a cause with no field); KubeVirt's own components (the sim's controllers) may.
import { expect, test } from '@playwright/test';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KObject } from '../../src/sim/api/types.ts';
import { expectApiError, hasKubectl, kubectl, NO_KUBECTL, scratchFile, startTestSim, type TestSim } from './helpers.ts';

let sim: TestSim;
test.beforeAll(async () => { sim = await startTestSim('vmi-admission'); });
test.afterAll(async () => { await sim?.stop(); });

type Iface = Record<string, unknown> & { name: string };
function vmWith(name: string, ifaces: Iface[], networks: Record<string, unknown>[]): KObject {
  return {
    apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name, namespace: 'default' },
    spec: { runStrategy: 'Halted', template: { spec: { domain: { devices: { interfaces: ifaces } }, networks } } },
  };
}
const POD = { name: 'default', pod: {} };
const multus = (name: string) => ({ name, multus: { networkName: 'nad' } });

async function refused(o: KObject): Promise<{ field?: string; message: string }[]> {
  const e = await expectApiError(sim.objects.create(o as KubernetesObject, undefined, 'All'));
  expect(e.code).toBe(422);
  return (e.status.details?.causes ?? []).map((c) => ({ field: c.field, message: c.message }));
}

test('state: absent on an SR-IOV interface is refused: "supported only for bridge binding" (§8.9.3)', async () => {
  const causes = await refused(vmWith('sriov-absent', [{ name: 'default', masquerade: {} }, { name: 'vf', sriov: {}, state: 'absent' }], [POD, multus('vf')]));
  expect(causes).toEqual([{ field: 'spec.template.spec.domain.devices.interfaces[1].state', message: '"vf" interface\'s state "absent" is supported only for bridge binding' }]);
});

test('state: absent on the default network is refused, with the binding rule when it is masquerade', async () => {
  const causes = await refused(vmWith('pod-absent', [{ name: 'default', masquerade: {}, state: 'absent' }], [POD]));
  expect(causes.map((c) => c.message)).toEqual([
    '"default" interface\'s state "absent" is supported only for bridge binding',
    '"default" interface\'s state "absent" is not supported on default networks',
  ]);
  expect(new Set(causes.map((c) => c.field))).toEqual(new Set(['spec.template.spec.domain.devices.interfaces[0].state']));
});

test('any state but absent is refused as unsupported', async () => {
  const causes = await refused(vmWith('down', [{ name: 'default', masquerade: {} }, { name: 'br', bridge: {}, state: 'down' }], [POD, multus('br')]));
  expect(causes).toEqual([{ field: 'spec.template.spec.domain.devices.interfaces[1].state', message: 'logical br interface state value is unsupported: down' }]);
});

test('state: absent on a bridge interface of a secondary network is admitted (the unplug)', async () => {
  // Control for the refusals above: the same shape with the bridge binding passes.
  await sim.objects.create(vmWith('bridge-absent', [{ name: 'default', masquerade: {} }, { name: 'br', bridge: {}, state: 'absent' }], [POD, multus('br')]) as KubernetesObject, undefined, 'All');
});

test.describe('a VMI spec', () => {
  const VMI = { group: 'kubevirt.io', version: 'v1', namespace: 'default', plural: 'virtualmachineinstances' };
  let vmi: KObject;
  test.beforeAll(async () => {
    vmi = await sim.custom.createNamespacedCustomObject({ ...VMI, body: {
      apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: 'direct' },
      spec: { domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }] } }, networks: [POD] },
    } }) as KObject;
  });

  test('a client\'s change of it is refused: "update of VMI object is restricted", no field', async () => {
    const next = structuredClone(vmi);
    (next.spec as { domain: { devices: { interfaces: Iface[] } }; networks: unknown[] }).domain.devices.interfaces.push({ name: 'br', bridge: {} });
    (next.spec as { networks: unknown[] }).networks.push(multus('br'));
    const e = await expectApiError(sim.custom.replaceNamespacedCustomObject({ ...VMI, name: 'direct', body: next }));
    expect(e.code).toBe(422);
    expect(e.status.details?.causes).toEqual([{ reason: 'FieldValueNotSupported', message: 'update of VMI object is restricted' }]);
    expect(e.status.message).toContain('update of VMI object is restricted');
  });

  test('a patch of its labels is admitted (control: the refusal is about the spec)', async () => {
    const out = await sim.custom.patchNamespacedCustomObject({ ...VMI, name: 'direct', body: [{ op: 'add', path: '/metadata/labels', value: { team: 'net' } }] }) as KObject;
    expect(out.metadata.labels?.team).toBe('net');
  });

  test('kubectl patch of the spec fails with the same message', async () => {
    test.skip(!hasKubectl, NO_KUBECTL);
    const patch = scratchFile(sim, 'vmi-patch.json', JSON.stringify({ spec: { domain: { devices: { interfaces: [{ name: 'default', masquerade: {}, macAddress: '02:00:00:00:00:09' }] } } } }));
    const r = await kubectl(sim, ['patch', 'vmi', 'direct', '-n', 'default', '--type=merge', '--patch-file', patch]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('update of VMI object is restricted');
  });
});
