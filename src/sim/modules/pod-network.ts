// The pod network (OVN-Kubernetes' default network as the fabric builds it), KubeVirt's masquerade
// binding on it, and its faults: the binding's NAT, loss at the VM's edge, the node-to-node overlay
// and its path MTU.
import { defaultUnderlayLimit } from '../fabric/faults.ts';
import type { FaultSpec, GuestInfo } from '../faults.ts';
import { MasqueradeBinding } from '../virt/bindings/masquerade.ts';
import type { SimModule } from './module.ts';

export const podNetwork: SimModule = {
  name: 'pod-network',
  summary: 'the pod network and masquerade binding: pod IPs, NAT, overlay (seed 8.2)',
  dataPlane(ctx) {
    const { fabric, faults } = ctx;
    // One binding: virt-handler plumbs through it, masquerade-nat-broken breaks it.
    const masquerade = (ctx.masquerade = new MasqueradeBinding(fabric));
    const withPod = (gs: GuestInfo[]) => gs.flatMap((g) => (g.pod ? [g.pod] : []));
    const pairs = (spec: FaultSpec): [string, string][] => {
      if (spec.nodes) return [spec.nodes];
      const names = fabric.nodes.map((n) => n.name);
      return names.flatMap((a, i) => names.slice(i + 1).map((b) => [a, b] as [string, string]));
    };
    return {
      faults: {
        'masquerade-nat-broken': {
          description: 'virt-launcher NAT loses its SNAT rule: guest egress leaves as 10.0.2.2 and replies never return (selector: namespace, vm, node)',
          scopes: ['namespace', 'vm', 'node'],
          set: async (spec) => { await Promise.all(withPod(faults.guests(spec.selector)).map((p) => masquerade.setSnat(p, false).catch(() => undefined))); },
          clear: async (spec) => { await Promise.all(withPod(faults.guests(spec.selector)).map((p) => masquerade.setSnat(p, true).catch(() => undefined))); },
          onGuestPlumbed: async (g) => { if (g.pod) await masquerade.setSnat(g.pod, false); },
        },
        'pod-network-loss': {
          description: 'nftables drops a share of every packet VMs send, on the pod network and every secondary NIC; the port-forward (SSH) path is spared (spec: {percent}, selector: namespace, vm, node)',
          scopes: ['namespace', 'vm', 'node'],
          set: async (spec) => {
            const pct = spec.percent ?? 30;
            if (typeof pct !== 'number' || !(pct > 0 && pct <= 100)) throw new Error('pod-network-loss needs "percent" from 1 to 100');
            await Promise.all(faults.guests(spec.selector).map((g) => fabric.setGuestLoss(g.netns, pct, g.launcherGateway)));
          },
          clear: async (spec) => { await Promise.all(faults.guests(spec.selector).map((g) => fabric.setGuestLoss(g.netns, 0).catch(() => undefined))); },
          onGuestPlumbed: (g, spec) => fabric.setGuestLoss(g.netns, spec.percent ?? 30, g.launcherGateway),
        },
        'overlay-drop': {
          description: 'the machine-network switch drops the node-to-node tunnels, pod-network VXLAN and OVN layer2 overlay alike (one Geneve tunnel in OVN-Kubernetes) (spec: {nodes: [a, b]}, default every pair)',
          set: async (spec) => { for (const [a, b] of pairs(spec)) await fabric.dropOverlay(a, b); },
          clear: async (spec) => { for (const [a, b] of pairs(spec)) await fabric.restoreOverlay(a, b); },
        },
        'overlay-mtu-low': {
          description: `the node-to-node path (pod-network VXLAN, OVN overlay, bridge and localnet uplinks) silently drops packets larger than spec.mtu (default ${defaultUnderlayLimit(fabric.mtu)} for pod MTU ${fabric.mtu}): a PMTU black hole (selector: node)`,
          scopes: ['node'],
          set: async (spec) => {
            const mtu = spec.mtu ?? defaultUnderlayLimit(fabric.mtu);
            if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 576 || mtu >= fabric.mtu) {
              throw new Error(`overlay-mtu-low needs "mtu" as a whole number from 576 to ${fabric.mtu - 1} (below the pod MTU ${fabric.mtu})`);
            }
            await fabric.setUnderlayLimit(mtu, spec.selector?.node);
          },
          clear: () => fabric.setUnderlayLimit(undefined),
        },
      },
    };
  },
};
