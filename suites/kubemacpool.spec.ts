// §8.14 Managing MAC address pools for network interfaces (KubeMacPool; §8.1.5): every VM interface
// gets a unique MAC from the cluster's pool, kept across reboots because it is written into the VM;
// §8.14.1 opts a namespace out with a label. The second NIC is an OVN-Kubernetes layer2 network,
// which needs no node configuration.
import { test as base, expect, topology } from '../src/fixtures/test.ts';
import type { Lab, LabVm, Scope } from '../src/fixtures/lab.ts';
import { capability, details, requires } from '../src/fixtures/capability.ts';
import { measured } from '../src/fixtures/annotate.ts';
import { inRange, KMP_VM_WEBHOOK, nacKubeMacPool, publishedRange, setNacKubeMacPool, setOptOut, templateMacs, type MacRange } from '../src/fixtures/kubemacpool.ts';
import { ovnNad } from '../src/fixtures/secondary.ts';
import type { KObject } from '../src/kube/client.ts';
import { bridgeNet, vm, type VmSpec } from '../src/kube/vm-spec.ts';
import { summarize } from '../src/probes/stats.ts';

const NICS = ['default', 'sec'];

interface KmpLab { scope: Scope; vms: LabVm[] }

async function kmpLab(scope: Scope, lab: Lab): Promise<KmpLab> {
  await scope.apply(ovnNad(scope.namespace, 'sec', { network: `kvnet-kmp-${scope.namespace.slice(-5)}`, topology: 'layer2' }));
  const specs = Array.from({ length: lab.profile.kubemacpool.vms }, (_, i) => vm(`m${i}`).nic('sec', bridgeNet('sec')));
  return { scope, vms: await scope.createAll(specs) };
}

const test = base.extend<{}, { kmp: KmpLab }>({ kmp: topology('kubemacpool', kmpLab) });

const specMacs = async (v: LabVm) => templateMacs(await v.vmObject());

/** A VM that never boots (API path only): what the webhook writes is all these checks read. */
function halted(name: string): VmSpec {
  return vm(name).nic('sec', bridgeNet('sec')).runStrategy('Halted');
}

async function createHalted(scope: Scope, name: string): Promise<KObject> {
  return scope.lab.kube.create(scope.manifest(halted(name)));
}

async function deleteVms(scope: Scope, names: string[]): Promise<void> {
  await Promise.all(names.map((name) => scope.lab.kube.delete({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name, namespace: scope.namespace } })));
  await Promise.all(names.map((name) => scope.lab.kube.waitForObject('kubevirt.io/v1', 'VirtualMachine', scope.namespace, name, (o) => o === undefined || undefined, { what: `VM ${name} to be deleted`, timeoutMs: scope.lab.profile.timeouts.convergenceMs })));
}

const show = (r: MacRange) => `${r.rangeStart}-${r.rangeEnd}`;
const errText = (e: unknown) => `${(e as Error).message ?? ''} ${String((e as { body?: unknown }).body ?? '')}`;

const KMP_CAP = {
  epic: 'Virtual machine networking', feature: 'MAC address pools',
  requires: [
    requires.webhook(KMP_VM_WEBHOOK, "KubeMacPool's VirtualMachine webhook"),
    requires.api('k8s.cni.cncf.io', 'Multus NetworkAttachmentDefinitions'),
    requires.networkType('OVNKubernetes'),
  ],
};

capability('8.14 Managing MAC address pools for network interfaces', { ...KMP_CAP, section: '8.14' }, () => {
  test('every NIC of the VMs gets a MAC from the pool: written in the VM spec, inside the published range, unique', async ({ lab, kmp: { vms } }) => {
    const r = await publishedRange(lab.kube);
    const all: string[] = [];
    for (const v of vms) {
      const macs = await specMacs(v);
      for (const nic of NICS) {
        const mac = macs.get(nic);
        expect(mac, `${v.name}/${nic} has a macAddress in its VM spec`).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
        expect(inRange(mac as string, r), `${v.name}/${nic} ${mac} inside the published range ${show(r)}`).toBe(true);
        all.push(`${v.name}/${nic} ${mac}`);
      }
    }
    const byMac = new Map<string, string[]>();
    for (const e of all) { const [who, mac] = e.split(' '); byMac.set(mac, [...(byMac.get(mac) ?? []), who]); }
    const dups = [...byMac].filter(([, who]) => who.length > 1).map(([mac, who]) => `${mac}: ${who.join(', ')}`);
    expect(dups, `MACs are unique across ${vms.length} VMs × ${NICS.length} NICs`).toEqual([]);
  });

  test('the MACs in the VM spec are the ones in the VMI status and in the guest', async ({ kmp: { vms } }) => {
    for (const v of vms) {
      const macs = await specMacs(v);
      const status = new Map((await v.interfaces()).map((i) => [i.name, i.mac?.toLowerCase()]));
      for (const [nic, dev] of [['default', 'eth0'], ['sec', 'eth1']]) {
        expect(status.get(nic), `${v.name}/${nic}: VMI status`).toBe(macs.get(nic));
        expect((await v.os.link(dev)).mac.toLowerCase(), `${v.name}/${nic}: ${dev} in the guest`).toBe(macs.get(nic));
      }
    }
  });

  test('a VMI created from the VM retains its MACs across a restart', async ({ kmp: { vms } }) => {
    const v = vms[0];
    const before = await specMacs(v);
    await v.restart();
    expect(await specMacs(v), 'the VM spec keeps the MACs').toEqual(before);
    const status = new Map((await v.interfaces()).map((i) => [i.name, i.mac?.toLowerCase()]));
    expect(status.get('default')).toBe(before.get('default'));
    expect(status.get('sec')).toBe(before.get('sec'));
    expect((await v.os.link('eth1')).mac.toLowerCase(), 'the new guest has the same MAC').toBe(before.get('sec'));
  });

  test('an explicit MAC already in use is accepted and reported as a Warning MACCollision naming both VMs', async ({ lab, kmp: { scope, vms } }) => {
    const taken = (await specMacs(vms[0])).get('sec') as string;
    const dup = await scope.create(vm('dup').nic('sec', bridgeNet('sec'), { mac: taken }), { wait: 'running' });
    try {
      expect((await specMacs(dup)).get('sec'), 'the requested MAC is kept as asked').toBe(taken);
      const want = [`vmi/${scope.namespace}/dup`, `vmi/${scope.namespace}/${vms[0].name}`];
      const ev = await lab.kube.waitFor(async () => (await lab.kube.list<KObject>('v1', 'Event', scope.namespace)).find((e) => {
        const m = String(e.message ?? '');
        return e.reason === 'MACCollision' && e.type === 'Warning' && m.startsWith(`MAC ${taken}:`) && want.every((w) => m.includes(w));
      }), { what: `a MACCollision event for ${taken} naming ${want.join(' and ')}`, timeoutMs: lab.profile.timeouts.convergenceMs });
      await test.info().attach('MACCollision event', { body: String(ev.message), contentType: 'text/plain' });
    } finally {
      await deleteVms(scope, ['dup']);
      scope.vms.splice(scope.vms.indexOf(dup), 1);
    }
  });

  test('a VMI created without a VM gets no MAC from the pool', async ({ lab, kmp: { scope } }) => {
    // A server-side dry run: the webhooks run, nothing persists or boots.
    const dry = async (o: KObject) => (await lab.kube.objects.create(o, undefined, 'All')) as KObject;
    const control = await dry(scope.manifest(halted('dry-vm')));
    expect(templateMacs(control).get('sec'), 'control: a VM here gets a pool MAC on the same path').toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    const m = scope.manifest(halted('dry-vmi'));
    const tmpl = (m.spec as { template: { metadata?: KObject['metadata']; spec: unknown } }).template;
    const vmi = await dry({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: 'dry-vmi', namespace: scope.namespace, labels: tmpl.metadata?.labels }, spec: tmpl.spec });
    const ifaces = ((vmi.spec as { domain: { devices: { interfaces: { name: string; macAddress?: string }[] } } }).domain.devices.interfaces);
    expect(ifaces.map((i) => i.macAddress), 'the VMI keeps interfaces without MACs').toEqual([undefined, undefined]);
  });
});

capability('8.14.1 Managing KubeMacPool by using the command line', { ...KMP_CAP, section: '8.14.1' }, () => {
  test('a namespace labelled mutatevirtualmachines.kubemacpool.io=ignore gets no pool MACs; removing the label re-enables the pool', async ({ lab, kmp: { scope } }) => {
    const made: string[] = [];
    try {
      const control = await createHalted(scope, 'optout-before');
      made.push('optout-before');
      expect([...templateMacs(control).values()].every(Boolean), 'control: the pool gives this namespace MACs').toBe(true);
      await setOptOut(lab.kube, scope.namespace, true);
      const ignored = await createHalted(scope, 'optout-ignored');
      made.push('optout-ignored');
      expect([...templateMacs(ignored).values()], 'no MAC in the opted-out namespace').toEqual([undefined, undefined]);
      await setOptOut(lab.kube, scope.namespace, false);
      const after = await createHalted(scope, 'optout-after');
      made.push('optout-after');
      expect([...templateMacs(after).values()].every(Boolean), 'MACs again once the label is gone').toBe(true);
    } finally {
      await setOptOut(lab.kube, scope.namespace, false);
      await deleteVms(scope, made);
    }
  });

  test('measured: VM create latency with KubeMacPool on and opted out, and allocations per second', async ({ lab, kmp: { scope } }) => {
    const n = lab.profile.kubemacpool.createSamples;
    const side = async (label: string): Promise<{ ms: number[]; macs: number }> => {
      const ms: number[] = [];
      let macs = 0;
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const o = await createHalted(scope, `lat-${label}-${i}`);
        ms.push(performance.now() - t0);
        macs += [...templateMacs(o).values()].filter(Boolean).length;
      }
      return { ms, macs };
    };
    const names = (label: string) => Array.from({ length: n }, (_, i) => `lat-${label}-${i}`);
    try {
      const on = await side('on');
      await setOptOut(lab.kube, scope.namespace, true);
      const off = await side('off');
      await setOptOut(lab.kube, scope.namespace, false);
      expect(on.macs, 'every create with the pool on allocated both MACs').toBe(2 * n);
      expect(off.macs, 'no create in the opted-out namespace allocated one').toBe(0);
      const sOn = summarize(on.ms);
      const sOff = summarize(off.ms);
      await measured('vm-create-kubemacpool-on', on.ms, sOn, 'ms', 'histogram');
      await measured('vm-create-kubemacpool-off', off.ms, sOff, 'ms', 'histogram', { webhookCostP50Ms: sOn.p50 - sOff.p50 });
      const perSecond = on.macs / (on.ms.reduce((a, b) => a + b, 0) / 1000);
      await test.info().attach('kubemacpool allocations per second', { body: JSON.stringify({ allocationsPerSecond: perSecond, creates: n, p50OnMs: sOn.p50, p50OffMs: sOff.p50 }, null, 2), contentType: 'application/json' });
    } finally {
      await setOptOut(lab.kube, scope.namespace, false);
      await deleteVms(scope, [...names('on'), ...names('off')]);
    }
  });
});

capability('8.14 A range set in NetworkAddonsConfig', { ...KMP_CAP, section: '8.14' }, () => {
  test('takes effect; a used-up range refuses new VMs, and deleting a VM releases its MACs',
    details({ requires: [requires.profile('kubemacpool.editNetworkAddonsConfig', 'permission to change the cluster MAC range')] }), async ({ lab, kmp: { scope } }) => {
      const kube = lab.kube;
      const bound = lab.profile.timeouts.convergenceMs;
      const original = await publishedRange(kube);
      const originalSpec = await nacKubeMacPool(kube);
      // Two MACs next to the published prefix: none of this run's VMs holds them.
      const p = original.rangeStart.split(':');
      const prefix = `${p[0]}:${p[1]}:${((parseInt(p[2], 16) + 1) % 256).toString(16).padStart(2, '0')}:00:00`;
      const tiny = { rangeStart: `${prefix}:00`, rangeEnd: `${prefix}:01` };
      const made: string[] = [];
      try {
        await setNacKubeMacPool(kube, tiny, tiny, bound);
        const x = await createHalted(scope, 'range-x');
        made.push('range-x');
        expect([...templateMacs(x).values()].sort(), `both NICs from the new range ${tiny.rangeStart}-${tiny.rangeEnd}`).toEqual([tiny.rangeStart, tiny.rangeEnd]);
        const refused = await createHalted(scope, 'range-y').then(() => 'created', errText);
        if (refused === 'created') made.push('range-y');
        expect(refused, 'a VM needing a MAC from the used-up range').toContain('the range is full');
        await deleteVms(scope, ['range-x']);
        made.splice(made.indexOf('range-x'), 1);
        // The release is the controller's: a bounded retry until it has seen the delete.
        const y = await kube.waitFor(async () => createHalted(scope, 'range-y').catch((e: unknown) => (errText(e).includes('the range is full') ? undefined : Promise.reject(e))),
          { what: 'a VM to get the MACs the deleted one released', timeoutMs: bound, intervalMs: 250 });
        made.push('range-y');
        expect([...templateMacs(y).values()].sort()).toEqual([tiny.rangeStart, tiny.rangeEnd]);
      } finally {
        await deleteVms(scope, made);
        // Back to the range in effect before; then the spec as it was (an empty range keeps the applied one).
        await setNacKubeMacPool(kube, { rangeStart: original.rangeStart, rangeEnd: original.rangeEnd }, original, bound);
        if (!originalSpec?.rangeStart) await setNacKubeMacPool(kube, {}, original, bound);
      }
    });
});

