// KubeVirt masquerade binding inside a virt-launcher pod netns: the gateway (10.0.2.1) on
// `k6t-eth0`, NAT in an nft table `kubevirt`. KubeVirt's k6t-eth0 is a bridge whose one port is
// the VM's tap; here the guest is a netns, so its cable's launcher end is k6t-eth0 itself: the
// same gateway, MAC and NAT, without a one-port bridge crossing in every packet's path.
import { addrLine } from './bridge.ts';
import { frag } from './exec.ts';
import { netnsSysctls } from './netns.ts';
import { guestDefaults, DEFAULT_VM_CIDR4, DEFAULT_VM_CIDR6, type GuestDefaults } from './ipam.ts';
import { NftTable } from './nft-table.ts';
import { Veth } from './veth.ts';

/** The launcher's gateway interface (KubeVirt's name). */
export const MASQ_GATEWAY_IF = 'k6t-eth0';
/** libvirt live-migration ports: never forwarded to the guest. */
export const MIGRATION_PORTS = [49152, 49153];

export interface MasqueradeGuest {
  /** The guest netns (it exists: the domain made it). */
  netns: string;
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

/** The gateway addresses on k6t-eth0. */
function gatewayLines(p: MasqueradePlan): string[] {
  const prefix4 = p.vmCidr4.split('/')[1];
  const prefix6 = p.vmCidr6.split('/')[1];
  const gateways = [`${p.guest.gw4}/${prefix4}`, ...(p.dualStack ? [`${p.guest.gw6}/${prefix6}`] : [])];
  return gateways.map((a) => addrLine(a, MASQ_GATEWAY_IF));
}

/** `ip` lines for the pod netns: the cable k6t-eth0 <-> guest eth0, and the gateway addresses on k6t-eth0. */
export function masqueradeLinkLines(p: MasqueradePlan): string[] {
  const veth = new Veth({
    a: { name: MASQ_GATEWAY_IF },
    b: { name: 'eth0', netns: p.guestNetns, mac: p.mac },
    mtu: p.mtu,
  });
  return [...veth.createLines(), ...veth.endLines('a'), ...gatewayLines(p)];
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


/** The NAT table's script for the plan's launcher netns (`snat: false`: the masquerade-nat-broken fault). */
export function masqueradeNftScript(p: MasqueradePlan, snat = true): string {
  return kubevirtTable(p.podNetns).replaceScript(masqueradeNftBody(p, snat));
}

const LAUNCHER_SYSCTLS = netnsSysctls({ forwarding: true, bridgeNetfilter: false });

/** Inside an existing launcher netns: forwarding, the k6t-eth0 cable to the guest, the NAT table. */
export function masqueradeLauncherScript(p: MasqueradePlan): string {
  return frag.inNetns(p.podNetns, LAUNCHER_SYSCTLS, [frag.ip(masqueradeLinkLines(p)), frag.nft(masqueradeNftScript(p))].join('\n'));
}

/** A migration target's launcher before the cut-over: forwarding and the NAT table, no gateway yet. */
export function masqueradeTargetScript(p: MasqueradePlan): string {
  return frag.inNetns(p.podNetns, LAUNCHER_SYSCTLS, frag.nft(masqueradeNftScript(p)));
}

/**
 * The cut-over: the cable's launcher end (k6t-eth0, with its MAC) moves from `fromNetns` into the
 * plan's launcher netns and gets the gateway addresses again; the guest's side stays as it is.
 */
export function masqueradeHandoverScript(fromNetns: string, p: MasqueradePlan): string {
  return [
    frag.ip([`link set ${MASQ_GATEWAY_IF} netns ${p.podNetns}`], fromNetns),
    frag.ip([...gatewayLines(p), `link set ${MASQ_GATEWAY_IF} up`], p.podNetns),
  ].join('\n');
}

/** What turns launcher plumbing made for `was` into `want`'s: the guest MAC, and CIDRs or ports when they differ. */
export function masqueradeFixupScript(was: MasqueradePlan, want: MasqueradePlan): string {
  const out = want.mac === was.mac ? [] : [frag.ip([Veth.setMac('eth0', want.mac)], want.guestNetns)];
  const cidrs = want.vmCidr4 !== was.vmCidr4 || want.vmCidr6 !== was.vmCidr6 || want.dualStack !== was.dualStack;
  if (cidrs) out.push(frag.ip([`addr flush dev ${MASQ_GATEWAY_IF} scope global`, ...gatewayLines(want)], want.podNetns));
  if (cidrs || (want.ports ?? []).join() !== (was.ports ?? []).join()) out.push(frag.inNetns(want.podNetns, {}, frag.nft(masqueradeNftScript(want))));
  return out.join('\n');
}
