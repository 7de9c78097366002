// Shared set-up for data-plane self-tests: a sim with packets, VMs and guests over SSH.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Guest } from '../../src/guest/guest.ts';
import { generateKeyPair, type SshKeyPair } from '../../src/guest/keys.ts';
import { Kube, type KObject } from '../../src/kube/client.ts';
import { masqueradeVm, sshKeySecret, type VmOptions } from '../../src/kube/vm.ts';
import type { SimSettings } from '../../src/sim/cluster.ts';
import { startSim, type SimHandle } from '../../src/sim/up.ts';

/** Where the kubectl-driven self-tests expect the real client. */
export const KUBECTL = '/usr/bin/kubectl';
export const hasKubectl = existsSync(KUBECTL);

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
  vm(o: Omit<VmOptions, 'namespace' | 'sshKeySecret'>): Promise<TestVm> {
    return this.vmFrom(masqueradeVm({ ...o, namespace: this.namespace, sshKeySecret: 'ssh-key' }));
  }

  /** As vm(), for a manifest built elsewhere (any namespace that has the `ssh-key` Secret, see secret()). */
  async vmFrom(vm: KObject): Promise<TestVm> {
    const ns = vm.metadata?.namespace as string;
    const name = vm.metadata?.name as string;
    await this.kube.create(vm);
    const vmi = await this.kube.waitForObject('kubevirt.io/v1', 'VirtualMachineInstance', ns, name,
      (v) => ((v?.status as { phase?: string } | undefined)?.phase === 'Running' ? v : undefined), { what: `VMI ${name} Running`, timeoutMs: 60_000 });
    const status = vmi.status as { nodeName: string; interfaces: VmiInterface[] };
    const ips = status.interfaces[0].ipAddresses ?? [];
    const guest = await Guest.connect({ kc: this.kube.kc, namespace: ns, vmi: name, user: 'fedora', privateKey: this.keys.privateKey, timeoutMs: 30_000 });
    this.guests.push(guest);
    return { name, guest, node: status.nodeName, podIPv4: ips.find((i) => !i.includes(':')) as string, podIPv6: ips.find((i) => i.includes(':')) };
  }

  /** The SSH key Secret in another namespace. */
  async secret(namespace: string): Promise<void> {
    await this.kube.create(sshKeySecret('ssh-key', namespace, this.keys.publicKey));
  }

  /** The real kubectl against this sim; stdout and stderr together, as a user reads them. */
  kubectl(args: string[]): Promise<{ code: number | null; out: string }> {
    const cache = join(dirname(this.sim.kubeconfig), 'kubectl-cache');
    return new Promise((res, rej) => {
      const c = spawn(KUBECTL, ['--kubeconfig', this.sim.kubeconfig, '--cache-dir', cache, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d));
      c.stderr.on('data', (d: Buffer) => (out += d));
      c.on('error', rej);
      c.on('close', (code) => res({ code, out }));
    });
  }

  async stop(): Promise<void> {
    for (const g of this.guests) g.close();
    await this.sim.stop();
  }
}
