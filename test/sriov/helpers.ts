// Shared set-up for the SR-IOV self-tests: a data-plane sim, and the objects §8.6 has users write.
import { spawn } from 'node:child_process';
import type { KObject } from '../../src/kube/client.ts';
import { sriovNet, vm, type VmSpec } from '../../src/kube/vm-spec.ts';
import type { DataPlaneSim } from '../sim/helpers.ts';

export const OPERATOR_NS = 'openshift-sriov-network-operator';
export const SRIOV = 'sriovnetwork.openshift.io/v1';

export function policy(name: string, spec: Record<string, unknown>): KObject {
  return {
    apiVersion: SRIOV, kind: 'SriovNetworkNodePolicy', metadata: { name, namespace: OPERATOR_NS },
    spec: { nodeSelector: { 'feature.node.kubernetes.io/network-sriov.capable': 'true' }, deviceType: 'vfio-pci', ...spec },
  };
}

export function sriovNetwork(name: string, spec: Record<string, unknown>): KObject {
  return { apiVersion: SRIOV, kind: 'SriovNetwork', metadata: { name, namespace: OPERATOR_NS }, spec };
}

export interface NodeStateStatus {
  syncStatus?: string;
  lastSyncError?: string;
  interfaces?: { name: string; vendor: string; deviceID: string; pciAddress: string; totalvfs: number; numVfs?: number; mtu: number; linkSpeed: string; driver: string; Vfs?: { vfID: number; pciAddress: string; mac: string }[] }[];
}

export async function nodeState(sim: DataPlaneSim, node: string): Promise<NodeStateStatus> {
  const s = await sim.kube.get<KObject>(SRIOV, 'SriovNetworkNodeState', OPERATOR_NS, node);
  return (s?.status ?? {}) as NodeStateStatus;
}

/** Waits until every listed node's state is Succeeded or Failed and returns the statuses. */
export async function settled(sim: DataPlaneSim, nodes: string[], want: 'Succeeded' | 'Failed' = 'Succeeded', afterRv?: number): Promise<NodeStateStatus[]> {
  return sim.kube.waitFor(async () => {
    const all = await Promise.all(nodes.map(async (n) => {
      const s = await sim.kube.get<KObject>(SRIOV, 'SriovNetworkNodeState', OPERATOR_NS, n);
      return { rv: Number(s?.metadata?.resourceVersion ?? 0), st: (s?.status ?? {}) as NodeStateStatus };
    }));
    return all.every((a) => a.st.syncStatus === want && (afterRv === undefined || a.rv > afterRv)) ? all.map((a) => a.st) : undefined;
  }, { what: `SriovNetworkNodeStates ${nodes.join(', ')} ${want}`, timeoutMs: 20_000, intervalMs: 50 });
}

export async function allocatable(sim: DataPlaneSim, node: string, resource: string): Promise<number> {
  const n = await sim.kube.get<KObject>('v1', 'Node', undefined, node);
  return Number((n?.status as { allocatable?: Record<string, string> })?.allocatable?.[resource] ?? 0);
}

/** A VM with `count` SR-IOV interfaces on `nad` (the first with `mac` and a static `cidr`), pinned to `node` when given. */
export function sriovVm(name: string, nad: string, o: { node?: string; mac?: string; cidr?: string; count?: number } = {}): VmSpec {
  const spec = vm(name);
  if (o.node) spec.placement({ node: o.node });
  spec.nic('sriov0', sriovNet(nad), { ...(o.mac ? { mac: o.mac } : {}), ...(o.cidr ? { addresses: [o.cidr] } : {}) });
  for (let i = 1; i < (o.count ?? 1); i++) spec.nic(`sriov${i}`, sriovNet(nad));
  return spec;
}

/** kubectl against a data-plane sim (asynchronous: never block the event loop). */
export function kubectl(kubeconfig: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', ['--kubeconfig', kubeconfig, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
