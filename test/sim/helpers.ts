// Shared set-up for data-plane self-tests: a sim with packets, VMs and guests over SSH.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Guest } from '../../src/guest/guest.ts';
import { generateKeyPair, type SshKeyPair } from '../../src/guest/keys.ts';
import { Kube, type KObject } from '../../src/kube/client.ts';
import { sshKeySecret, type VmOptions } from '../../src/kube/vm.ts';
import { Lab, Scope, type LabVm } from '../../src/fixtures/lab.ts';
import { loadProfile } from '../../src/fixtures/profile.ts';
import { addSecondaryNics, bridgeNad, linuxBridgeNncp, waitNncp } from '../../src/fixtures/secondary.ts';
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
  /** The harness's own VM code (src/fixtures/lab.ts) on this sim's namespace and key Secret. */
  readonly scope: Scope;
  private constructor(readonly sim: SimHandle, readonly kube: Kube, readonly keys: SshKeyPair, readonly namespace: string) {
    this.scope = new Scope(new Lab(kube, loadProfile('sim', '', sim.kubeconfig), keys, 'selftest', 'sim'), namespace, 'ssh-key');
  }

  static async start(id: string, settings: Partial<SimSettings> = {}, namespace = 'selftest'): Promise<DataPlaneSim> {
    const sim = await startSim({ settings, kubeconfig: resolve('test-results', `sim-${id}`, 'kubeconfig') });
    const kube = Kube.fromFile(sim.kubeconfig);
    const keys = generateKeyPair();
    await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    await kube.create(sshKeySecret('ssh-key', namespace, keys.publicKey));
    return new DataPlaneSim(sim, kube, keys, namespace);
  }

  /** Creates the VM, waits for its VMI to run, and logs in (the lab's Scope.vm). */
  async vm(o: Omit<VmOptions, 'namespace' | 'sshKeySecret'>): Promise<TestVm> {
    return this.testVm(await this.scope.vm(o));
  }

  /** As vm(), for a manifest built elsewhere (any namespace that has the `ssh-key` Secret, see secret()). */
  async vmFrom(vm: KObject): Promise<TestVm> {
    const ns = vm.metadata?.namespace as string;
    const scope = ns === this.namespace ? this.scope : new Scope(this.scope.lab, ns, 'ssh-key');
    return this.testVm(await scope.fromManifest(vm));
  }

  private testVm(v: LabVm): TestVm {
    this.guests.push(v.guest);
    return { name: v.name, guest: v.guest, node: v.node, podIPv4: v.podIPv4 as string, podIPv6: v.podIPv6 };
  }

  /** A Linux bridge br3 on every node's eth2 (an NNCP), a bridge NAD on it, and one VM per entry with a NIC `br` at its address. */
  async onBridge(nad: string, vms: { name: string; node: string; address: string }[]): Promise<TestVm[]> {
    await this.kube.create(linuxBridgeNncp('br3-all', 'br3', 'eth2'));
    await waitNncp(this.kube, 'br3-all');
    await this.kube.create(bridgeNad(this.namespace, nad, 'br3'));
    return Promise.all(vms.map((v) => this.vm({ name: v.name, node: v.node, customize: (x) => addSecondaryNics(x, [{ name: 'br', nad, addresses: [v.address] }]) })));
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
