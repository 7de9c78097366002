// kube-proxy's nftables ruleset (its `nftables` mode, trimmed): one `table inet kube-proxy` per
// node netns, the same text on every node. Pure, so it can be read and tested on its own.
import { isIP } from 'node:net';

export const KUBE_PROXY_TABLE = 'kube-proxy';
/** kube-proxy's masquerade mark. */
const MASQ_MARK = '0x4000';

export interface ServicePortRule {
  /** `ns/name/proto/port`, for chain names and comments. */
  id: string;
  protocol: 'tcp' | 'udp';
  port: number;
  nodePort?: number;
  clusterIPs: string[];
  loadBalancerIPs: string[];
  /** Ready endpoints per family, each with the port the DNAT goes to (targetPort). */
  endpoints: { v4: Endpoint[]; v6: Endpoint[] };
}

export interface Endpoint {
  ip: string;
  port: number;
}

export interface ProxyOptions {
  /** The bridge pods hang off (their traffic enters the node through it). */
  podBridge: string;
}

const chainName = (prefix: string, id: string, fam: 'v4' | 'v6', i?: number) =>
  `${prefix}-${id.replace(/[^A-Za-z0-9/_.-]/g, '_')}-${fam}${i === undefined ? '' : `-${i}`}`;

/** The body of `table inet kube-proxy`. */
export function kubeProxyBody(rules: ServicePortRule[], o: ProxyOptions): string {
  const dispatch: string[] = [];
  const nodePorts: string[] = [];
  const chains: string[] = [];
  const noEndpoints: string[] = [];
  for (const r of rules) {
    for (const fam of ['v4', 'v6'] as const) {
      const nf = fam === 'v4' ? 'ip' : 'ip6';
      const eps = r.endpoints[fam];
      const ips = r.clusterIPs.filter((ip) => isIP(ip) === (fam === 'v4' ? 4 : 6));
      const lbs = r.loadBalancerIPs.filter((ip) => isIP(ip) === (fam === 'v4' ? 4 : 6));
      if (!eps.length) {
        // As kube-proxy: a Service without ready endpoints is rejected at once, not left to time out.
        for (const ip of [...ips, ...lbs]) noEndpoints.push(`    ${nf} daddr ${ip} ${r.protocol} dport ${r.port} reject`);
        continue;
      }
      if (!ips.length && !r.nodePort && !lbs.length) continue;
      const svc = chainName('svc', r.id, fam);
      const ext = chainName('ext', r.id, fam);
      for (const ip of ips) dispatch.push(`    ${nf} daddr ${ip} ${r.protocol} dport ${r.port} goto ${svc}`);
      for (const ip of lbs) dispatch.push(`    ${nf} daddr ${ip} ${r.protocol} dport ${r.port} goto ${ext}`);
      if (r.nodePort) nodePorts.push(`    meta nfproto ip${fam === 'v4' ? 'v4' : 'v6'} fib daddr type local ${r.protocol} dport ${r.nodePort} goto ${ext}`);
      // Traffic from outside the pod network (NodePort, LoadBalancer) is masqueraded so replies come back through this node.
      chains.push(`  chain ${ext} {\n    meta mark set meta mark | ${MASQ_MARK}\n    goto ${svc}\n  }`);
      const vmap = eps.map((_, i) => `${i} : goto ${chainName('ep', r.id, fam, i)}`).join(', ');
      chains.push(`  chain ${svc} {\n    numgen random mod ${eps.length} vmap { ${vmap} }\n  }`);
      eps.forEach((ep, i) => {
        const to = fam === 'v4' ? `${ep.ip}:${ep.port}` : `[${ep.ip}]:${ep.port}`;
        chains.push([
          `  chain ${chainName('ep', r.id, fam, i)} {`,
          // Hairpin: a pod reaching itself through its Service must see the reply come from the Service.
          `    ${nf} saddr ${ep.ip} meta mark set meta mark | ${MASQ_MARK}`,
          `    meta l4proto ${r.protocol} dnat ${nf} to ${to}`,
          '  }',
        ].join('\n'));
      });
    }
  }
  return [
    '  chain services {',
    ...dispatch,
    // NodePorts last, as kube-proxy does: a ClusterIP match wins.
    ...nodePorts,
    '  }',
    ...chains,
    '  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n    jump services\n  }',
    // Locally originated: NodePort and LoadBalancer from the node itself (the host-side forwarder connects from here).
    '  chain output {\n    type nat hook output priority -100; policy accept;\n    jump services\n  }',
    '  chain no-endpoints {',
    ...noEndpoints,
    '  }',
    '  chain filter-forward {\n    type filter hook forward priority -1; policy accept;\n    ct state new jump no-endpoints\n  }',
    '  chain filter-output {\n    type filter hook output priority -1; policy accept;\n    ct state new jump no-endpoints\n  }',
    '  chain filter-input {\n    type filter hook input priority -1; policy accept;\n    ct state new jump no-endpoints\n  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    meta mark & ${MASQ_MARK} == ${MASQ_MARK} masquerade`,
    // Client and backend on the same bridge: the reply would be bridged straight back, never passing this
    // node's conntrack (no br_netfilter here), so the client would see the pod IP instead of the Service's.
    `    iifname "${o.podBridge}" oifname "${o.podBridge}" ct status dnat masquerade`,
    '  }',
  ].join('\n');
}
