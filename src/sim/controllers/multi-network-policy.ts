// multi-networkpolicy (the MultiNetworkPolicy enforcer OVN-Kubernetes runs for secondary
// networks): a MultiNetworkPolicy annotated `k8s.v1.cni.cncf.io/policy-for: <nad>[,<nad>...]`
// selects, by podSelector, VMs with an OVN secondary NIC on one of those NADs; a selected NIC is
// isolated for the policy's types (Ingress; Egress when listed or when egress rules exist) and
// lets in/out only what a rule allows. Peers: ipBlock (cidr, except); ports: protocol/port/endPort.
// Enforced per node with nftables, bridge family, on the NIC's bridge port. Linux bridge NICs are
// never touched (Table 8.1: network policies are not available on the Linux bridge CNI).
// Bridge-family nftables has no conntrack in this kernel, so "replies are allowed" is approximated
// statelessly: TCP segments other than a bare SYN, ICMP errors/echo replies and ND pass.
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import { matchesLabelSelectorObject } from '../api/selectors.ts';
import type { StoreEvent } from '../api/store.ts';
import type { KObject } from '../api/types.ts';
import type { Attachments, SecondaryAttachment } from '../cni/attachments.ts';
import { OVN_CNI_TYPE } from '../cni/ovn.ts';
import { NftTable } from '../fabric/nft-table.ts';
import { Controller } from './controller.ts';

const MNP = kindOf('k8s.cni.cncf.io/v1beta1', 'MultiNetworkPolicy') as Kind;
export const POLICY_FOR = 'k8s.v1.cni.cncf.io/policy-for';
export const MNP_TABLE = 'multi-networkpolicy';

type LabelSelector = Parameters<typeof matchesLabelSelectorObject>[0];
interface Peer { ipBlock?: { cidr: string; except?: string[] }; podSelector?: LabelSelector; namespaceSelector?: LabelSelector }
interface PolicyPort { protocol?: string; port?: number | string; endPort?: number }
interface Rule { from?: Peer[]; to?: Peer[]; ports?: PolicyPort[] }
interface MnpSpec { podSelector?: LabelSelector; policyTypes?: ('Ingress' | 'Egress')[]; ingress?: Rule[]; egress?: Rule[] }

export class MultiNetworkPolicyController extends Controller {
  /** The policy-ignored fault: rules are not installed. */
  ignore = false;

  constructor(api: Registry, private readonly attachments: Attachments, private readonly nodes: string[]) {
    super(api, 'multi-networkpolicy');
    attachments.onChange((a) => this.enqueue(a.node));
  }

  protected keysFor(e: StoreEvent): string[] {
    return e.kind === MNP ? this.nodes : [];
  }

  protected override resync(): void {
    this.nodes.forEach((n) => this.enqueue(n));
  }

  /** Re-render every node (after the fault flips). */
  resyncAll(): void {
    this.resync();
  }

  protected async reconcile(node: string): Promise<void> {
    const ports = this.attachments.list().filter((a) => a.node === node && a.type === OVN_CNI_TYPE);
    const policies = this.ignore ? [] : this.api.store.list(MNP);
    const dispatch: string[] = [];
    const chains: string[] = [];
    for (const a of ports) {
      const applying = policies.filter((p) => selects(p, a));
      if (!applying.length) continue;
      for (const dir of ['ingress', 'egress'] as const) {
        const isolating = applying.filter((p) => types(p).includes(dir === 'ingress' ? 'Ingress' : 'Egress'));
        if (!isolating.length) continue;
        const chain = `${dir}-${a.hostIf}`;
        dispatch.push(`    ${dir === 'ingress' ? 'oifname' : 'iifname'} "${a.hostIf}" jump ${chain}`);
        const allow = isolating.flatMap((p) => ((p.spec as MnpSpec)[dir] ?? []).flatMap((r) => ruleLines(r, dir)));
        chains.push([`  chain ${chain} {`, ...REPLIES, ...allow.map((l) => `    ${l} accept`), '    counter drop', '  }'].join('\n'));
      }
    }
    const table = new NftTable(node, 'bridge', MNP_TABLE);
    if (!dispatch.length) {
      await table.delete();
      return;
    }
    await table.replace([...chains, '  chain forward {', '    type filter hook forward priority 0; policy accept;', ...dispatch, '  }'].join('\n'));
  }
}

/** Not-new traffic and what L2/L3 needs to work (see the header on statelessness). */
const REPLIES = [
  '    meta protocol != { ip, ip6 } accept',
  '    tcp flags & syn == 0 accept',
  '    tcp flags & (syn | ack) == syn | ack accept',
  '    icmp type { echo-reply, destination-unreachable, time-exceeded } accept',
  '    icmpv6 type { echo-reply, destination-unreachable, packet-too-big, time-exceeded, nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept',
];

function types(p: KObject): string[] {
  const s = p.spec as MnpSpec;
  if (s.policyTypes?.length) return s.policyTypes;
  return s.egress ? ['Ingress', 'Egress'] : ['Ingress'];
}

/** Whether policy `p` covers attachment `a` (policy-for names its NAD, podSelector its VM). */
function selects(p: KObject, a: SecondaryAttachment): boolean {
  if (p.metadata.namespace !== a.vmi.namespace) return false;
  const nads = (p.metadata.annotations?.[POLICY_FOR] ?? '').split(',').map((s) => s.trim()).filter(Boolean)
    .map((n) => (n.includes('/') ? n : `${p.metadata.namespace}/${n}`));
  if (!nads.includes(a.nad)) return false;
  return matchesLabelSelectorObject((p.spec as MnpSpec).podSelector ?? {}, a.vmi.labels);
}

/** nft match expressions for one rule: peers × ports; an absent list matches everything. */
function ruleLines(r: Rule, dir: 'ingress' | 'egress'): string[] {
  const peers = dir === 'ingress' ? r.from : r.to;
  const addr = dir === 'ingress' ? 'saddr' : 'daddr';
  const peerExprs = peers?.length
    ? peers.filter((p) => p.ipBlock).map((p) => {
      const fam = (p.ipBlock as { cidr: string }).cidr.includes(':') ? 'ip6' : 'ip';
      const except = (p.ipBlock?.except ?? []).filter((e) => e.includes(':') === (fam === 'ip6'));
      return `${fam} ${addr} ${p.ipBlock?.cidr}${except.length ? ` ${fam} ${addr} != { ${except.join(', ')} }` : ''}`;
    })
    : [''];
  const portExprs = r.ports?.length
    ? r.ports.map((p) => {
      const proto = (p.protocol ?? 'TCP').toLowerCase();
      if (p.port === undefined || typeof p.port === 'string') return `meta l4proto ${proto}`; // named ports: not resolvable for VMs
      return `${proto} dport ${p.port}${p.endPort ? `-${p.endPort}` : ''}`;
    })
    : [''];
  return peerExprs.flatMap((pe) => portExprs.map((po) => [pe, po].filter(Boolean).join(' ') || 'meta protocol { ip, ip6 }'));
}
