// KubeVirt masquerade binding inside a virt-launcher pod netns: the gateway (10.0.2.1) on
// `k6t-eth0`, NAT in an nft table `kubevirt`. KubeVirt's k6t-eth0 is a bridge whose one port is
// the VM's tap; here the guest is a netns, so its cable's launcher end is k6t-eth0 itself: the
// same gateway, MAC and NAT, without a one-port bridge crossing in every packet's path.
import { addrLine } from './bridge.ts';
import { guestDefaults, DEFAULT_VM_CIDR4, DEFAULT_VM_CIDR6, type GuestDefaults } from './ipam.ts';
import { NftTable } from './nft-table.ts';
import { Veth } from './veth.ts';

/** The launcher's gateway interface (KubeVirt's name). */
export const MASQ_GATEWAY_IF = 'k6t-eth0';
/** libvirt live-migration ports: never forwarded to the guest. */
export const MIGRATION_PORTS = [49152, 49153];

export interface MasqueradeGuest {
  /** Guest netns to create (by convention `vm-<name>`). */
  netns: string;
  /** The guest netns exists already (a warm guest): only plumb into it. */
  precreated?: boolean;
  mac: string;
  /** Forward only these ports (tcp and udp) to the guest; all when absent. */
  ports?: number[];
  vmCidr4?: string;
  vmCidr6?: string;
}

export interface MasqueradePlan {
  podNetns: string;
  guestNetns: string;
  guest: GuestDefaults;
  dualStack: boolean;
  ports?: number[];
  mtu: number;
  mac: string;
  vmCidr4: string;
  vmCidr6: string;
}

export function masqueradePlan(podNetns: string, g: MasqueradeGuest, mtu: number, dualStack: boolean): MasqueradePlan {
  const vmCidr4 = g.vmCidr4 ?? DEFAULT_VM_CIDR4;
  const vmCidr6 = g.vmCidr6 ?? DEFAULT_VM_CIDR6;
  return {
    podNetns, guestNetns: g.netns, guest: guestDefaults(vmCidr4, vmCidr6), dualStack,
    ports: g.ports && g.ports.length > 0 ? [...g.ports] : undefined, mtu, mac: g.mac, vmCidr4, vmCidr6,
  };
}

/** `ip` lines for the pod netns: the cable k6t-eth0 <-> guest eth0, and the gateway addresses on k6t-eth0. */
export function masqueradeLinkLines(p: MasqueradePlan): string[] {
  const prefix4 = p.vmCidr4.split('/')[1];
  const prefix6 = p.vmCidr6.split('/')[1];
  const veth = new Veth({
    a: { name: MASQ_GATEWAY_IF },
    b: { name: 'eth0', netns: p.guestNetns, mac: p.mac },
    mtu: p.mtu,
  });
  const gateways = [`${p.guest.gw4}/${prefix4}`, ...(p.dualStack ? [`${p.guest.gw6}/${prefix6}`] : [])];
  return [...veth.createLines(), ...veth.endLines('a'), ...gateways.map((a) => addrLine(a, MASQ_GATEWAY_IF))];
}

function set(ports: number[]): string {
  return `{ ${ports.join(', ')} }`;
}

/** Body of `table inet kubevirt`. `snat: false` leaves postrouting empty (the breakMasquerade fault). */
export function masqueradeNftBody(p: MasqueradePlan, snat = true): string {
  const g4 = p.guest.ipv4.split('/')[0];
  const g6 = p.guest.ipv6.split('/')[0];
  const only = p.ports ? ` meta l4proto { tcp, udp } th dport ${set(p.ports)}` : '';
  const fams: Array<['ipv4' | 'ipv6', 'ip' | 'ip6', string]> = [['ipv4', 'ip', g4]];
  if (p.dualStack) fams.push(['ipv6', 'ip6', g6]);
  const dnat = fams.map(([nf, f, addr]) => `    iifname "eth0" meta nfproto ${nf}${only} counter dnat ${f} to ${addr}`);
  const masq = snat ? fams.map(([, f, addr]) => `    oifname "eth0" ${f} saddr ${addr} counter masquerade`) : [];
  return [
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    `    iifname "eth0" meta l4proto { tcp, udp } th dport ${set(MIGRATION_PORTS)} return`,
    ...dnat,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    ...masq,
    '  }',
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    `    iifname "eth0" meta l4proto { tcp, udp } th dport ${set(MIGRATION_PORTS)} counter drop`,
    '  }',
  ].join('\n');
}

export function kubevirtTable(podNetns: string): NftTable {
  return new NftTable(podNetns, 'inet', 'kubevirt');
}

