// Shared set-up for data-plane self-tests: a sim with packets, VMs and guests over SSH.
import { resolve } from 'node:path';
import { Guest } from '../../src/guest/guest.ts';
import { generateKeyPair, type SshKeyPair } from '../../src/guest/keys.ts';
import { Kube, type KObject } from '../../src/kube/client.ts';
import { masqueradeVm, sshKeySecret, type VmOptions } from '../../src/kube/vm.ts';
import type { SimSettings } from '../../src/sim/cluster.ts';
import { startSim, type SimHandle } from '../../src/sim/up.ts';

export interface VmiInterface { name?: string; interfaceName?: string; mac?: string; ipAddress?: string; ipAddresses?: string[] }

export interface TestVm {
  name: string;
  guest: Guest;
  podIPv4: string;
  podIPv6?: string;
  node: string;
}

export class DataPlaneSim {
  readonly guests: Guest[] = [];
  private constructor(readonly sim: SimHandle, readonly kube: Kube, readonly keys: SshKeyPair, readonly namespace: string) {}

  static async start(id: string, settings: Partial<SimSettings> = {}, namespace = 'selftest'): Promise<DataPlaneSim> {
    const sim = await startSim({ settings, kubeconfig: resolve('test-results', `sim-${id}`, 'kubeconfig') });
    const kube = Kube.fromFile(sim.kubeconfig);
    const keys = generateKeyPair();
    await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    await kube.create(sshKeySecret('ssh-key', namespace, keys.publicKey));
    return new DataPlaneSim(sim, kube, keys, namespace);
  }

  /** Creates the VM, waits for its VMI to run, and logs in. */
  async vm(o: Omit<VmOptions, 'namespace' | 'sshKeySecret'>): Promise<TestVm> {
    await this.kube.create(masqueradeVm({ ...o, namespace: this.namespace, sshKeySecret: 'ssh-key' }));
    const vmi = await this.kube.waitForObject('kubevirt.io/v1', 'VirtualMachineInstance', this.namespace, o.name,
      (v) => ((v?.status as { phase?: string } | undefined)?.phase === 'Running' ? v : undefined), { what: `VMI ${o.name} Running`, timeoutMs: 60_000 });
    const status = vmi.status as { nodeName: string; interfaces: VmiInterface[] };
    const ips = status.interfaces[0].ipAddresses ?? [];
    const guest = await Guest.connect({ kc: this.kube.kc, namespace: this.namespace, vmi: o.name, user: 'fedora', privateKey: this.keys.privateKey, timeoutMs: 30_000 });
    this.guests.push(guest);
    return { name: o.name, guest, node: status.nodeName, podIPv4: ips.find((i) => !i.includes(':')) as string, podIPv6: ips.find((i) => i.includes(':')) };
  }

  async stop(): Promise<void> {
    for (const g of this.guests) g.close();
    await this.sim.stop();
  }
}
