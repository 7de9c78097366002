// The macvlan CNI plugin, as upstream containernetworking/plugins plugins/main/macvlan/macvlan.go:
// - `master`: the node NIC the macvlan hangs off (default: the node's default-route interface); a
//   missing one fails with netlink's "Link not found", as loadConf's MTU lookup returns it;
// - `mode`: bridge (also when empty), private, vepa or passthru; else `unknown macvlan mode`;
// - `mtu`: 0 (the master's) up to the master's, else `invalid MTU N, must be [0, master MTU(M)]`;
// - `mac` (and runtimeConfig.mac) for the interface's address;
// - `ipam`: delegated (here to whereabouts, the only IPAM type the sim has); an empty result is
//   "IPAM plugin returned missing IP config"; without ipam the interface is L2 only, just up.
// The kernel itself refuses what it refuses upstream (a master that is a bridge port is busy).
//
// Pods (virt-handler's migration0 on the §8.11 migration network) get the addresses on the
// interface with arp_notify, as ipam.ConfigureIface does. VMs get the macvlan as the guest's NIC
// with the VM's MAC (the sim's guest is a netns: no in-pod bridge and tap between them), and the
// IPAM address as a DHCP lease, as KubeVirt's bridge binding hands a pod interface's IP to the guest.
import { frag, run, sh } from '../fabric/exec.ts';
import { ipLine } from '../fabric/line.ts';
import type { Fabric } from '../fabric/topo.ts';
import type { KObject } from '../api/types.ts';
import type { NadConfig } from '../api/admission/index.ts';
import type { AttachContext, AttachResult, CniPlugin } from './plugin.ts';
import type { IpamOwner, IpamPlugin, IpamResult } from './whereabouts.ts';

export const MACVLAN = 'macvlan';
const MODES = new Map([['', 'bridge'], ['bridge', 'bridge'], ['private', 'private'], ['vepa', 'vepa'], ['passthru', 'passthru']]);
/** Where OpenShift's Multus (and so CNI's ipam.ExecAdd) looks for plugins. */
const CNI_PATH = '[/var/lib/cni/bin /usr/libexec/cni]';

/** A pod's CNI ADD for one network (Multus `k8s.v1.cni.cncf.io/networks: <nad>@<ifName>`). */
export interface PodAttachContext {
  nad: KObject;
  config: NadConfig;
  /** Fabric node the pod runs on. */
  node: string;
  /** The pod's netns. */
  netns: string;
  /** The interface name in the pod (`migration0`, `net1`, ...). */
  ifName: string;
  /** `namespace/name`. */
  podRef: string;
  podUid: string;
}

/** What Multus writes into the pod's network-status annotation for this network. */
export interface PodAttachResult {
  interface: string;
  mac: string;
  /** Addresses without prefix, as network-status `ips`. */
  ips: string[];
  /** CIDRs on the interface. */
  addresses: string[];
}

/** A CNI plugin that can also plumb plain pods, not only VMs (see isPodCniPlugin). */
export interface PodCniPlugin extends CniPlugin {
  attachPod(ctx: PodAttachContext): Promise<PodAttachResult>;
  detachPod(ctx: PodAttachContext): Promise<void>;
}

export function isPodCniPlugin(p: CniPlugin): p is PodCniPlugin {
  return typeof (p as Partial<PodCniPlugin>).attachPod === 'function';
}

interface Plumbed {
  mac: string;
  ipam?: IpamResult;
}

let seq = 0;

export class MacvlanCni implements PodCniPlugin {
  readonly type = MACVLAN;

  constructor(private readonly fabric: Fabric, private readonly ipams: IpamPlugin[]) {}

  async attach(ctx: AttachContext): Promise<AttachResult> {
    const p = await this.add(ctx.node, ctx.guestNetns, ctx.guestIfName, ctx.config, this.vmOwner(ctx), ctx.mac, false);
    const v4 = p.ipam?.addresses.find((a) => !a.includes(':'));
    const mtu = await this.mtuOf(ctx.guestNetns, ctx.guestIfName);
    return v4 ? { dhcpLease: { address: v4, ...(p.ipam?.gateway ? { gateway: p.ipam.gateway } : {}), mtu } } : {};
  }

  async detach(ctx: AttachContext): Promise<void> {
    await this.del(ctx.guestNetns, ctx.guestIfName, ctx.config, this.vmOwner(ctx));
  }

  async attachPod(ctx: PodAttachContext): Promise<PodAttachResult> {
    const owner = { podRef: ctx.podRef, containerId: ctx.podUid, ifName: ctx.ifName };
    const p = await this.add(ctx.node, ctx.netns, ctx.ifName, ctx.config, owner, undefined, true);
    const addresses = p.ipam?.addresses ?? [];
    return { interface: ctx.ifName, mac: p.mac, addresses, ips: addresses.map((a) => a.split('/')[0]) };
  }

  async detachPod(ctx: PodAttachContext): Promise<void> {
    await this.del(ctx.netns, ctx.ifName, ctx.config, { podRef: ctx.podRef, containerId: ctx.podUid, ifName: ctx.ifName });
  }

  /** The launcher pod (by uid, as its sandbox) holds a VM's address: its interfaces are net1, net2, ... as Multus names them. */
  private vmOwner(ctx: AttachContext): IpamOwner {
    return { podRef: `${ctx.vmi.metadata.namespace}/${ctx.pod.name}`, containerId: ctx.podUid, ifName: `net${ctx.index}` };
  }

  private ipam(config: NadConfig): { plugin: IpamPlugin; conf: Record<string, unknown> } | undefined {
    const conf = config.ipam;
    const type = typeof conf?.type === 'string' ? conf.type : '';
    if (!conf || type === '') return undefined;
    const plugin = this.ipams.find((p) => p.type === type);
    if (!plugin) throw new Error(`failed to find plugin "${type}" in path ${CNI_PATH}`);
    return { plugin, conf };
  }

  private async add(node: string, netns: string, ifName: string, config: NadConfig, owner: IpamOwner, vmMac: string | undefined, configure: boolean): Promise<Plumbed> {
    const raw = config.raw;
    const master = config.master ?? await defaultRouteInterface(node);
    const modeIn = typeof raw.mode === 'string' ? raw.mode : '';
    const mode = MODES.get(modeIn);
    const masterMtu = await this.mtuOf(node, master).catch(() => { throw new Error('Link not found'); });
    const mtu = typeof raw.mtu === 'number' ? raw.mtu : 0;
    if (mtu < 0 || mtu > masterMtu) throw new Error(`invalid MTU ${mtu}, must be [0, master MTU(${masterMtu})]`);
    if (!mode) throw new Error(`unknown macvlan mode: "${modeIn}"`);
    const runtimeMac = (raw.runtimeConfig as { mac?: unknown } | undefined)?.mac;
    const mac = vmMac ?? (typeof runtimeMac === 'string' ? runtimeMac : typeof raw.mac === 'string' ? raw.mac : undefined);
    // Made under a temporary name straight into the target netns, then renamed there (upstream does
    // the same: the wanted name may exist on the node).
    const tmp = `mv${process.pid.toString(16)}${(++seq).toString(16)}`.slice(0, 15);
    const create = ipLine`link add link ${master} name ${tmp} netns ${netns}` + (mtu ? ipLine` mtu ${mtu}` : '') + (mac ? ipLine` address ${mac}` : '') + ipLine` type macvlan mode ${mode}`;
    const made = await sh(frag.ip([create], node), { allowFail: true });
    if (made.code !== 0) throw new Error(`failed to create macvlan: ${kernelReason(made.stderr)}`);
    let ipam: IpamResult | undefined;
    let dp: ReturnType<MacvlanCni['ipam']>;
    try {
      dp = this.ipam(config);
      await sh(frag.ip([ipLine`link set ${tmp} name ${ifName}`], netns)).catch((e: Error) => { throw new Error(`failed to rename macvlan to "${ifName}": ${kernelReason(e.message)}`); });
      if (dp) {
        ipam = dp.plugin.add(dp.conf, owner);
        if (ipam.addresses.length === 0) throw new Error('IPAM plugin returned missing IP config');
      }
      const lines = [ipLine`link set ${ifName} up`];
      if (configure && ipam) {
        lines.unshift(...ipam.addresses.map((a) => ipLine`addr add ${a} dev ${ifName}`));
        for (const r of ipam.routes) {
          const via = r.gw ?? ipam.gateway;
          lines.push(ipLine`route add ${r.dst} dev ${ifName}` + (via ? ipLine` via ${via}` : ''));
        }
      }
      const sysctls = configure && ipam ? { [`net.ipv4.conf.${ifName}.arp_notify`]: 1, [`?net.ipv6.conf.${ifName}.ndisc_notify`]: 1 } : {};
      await sh(frag.inNetns(netns, sysctls, frag.ip(lines)));
    } catch (e) {
      if (ipam && dp) dp.plugin.del(dp.conf, owner);
      await sh(frag.ip([ipLine`link delete ${ifName}`], netns), { allowFail: true });
      await sh(frag.ip([ipLine`link delete ${tmp}`], netns), { allowFail: true });
      throw e;
    }
    const shown = await run(['ip', '-j', 'link', 'show', 'dev', ifName], { netns });
    const got = (JSON.parse(shown.stdout) as { address?: string }[])[0]?.address ?? mac ?? '';
    return { mac: got, ipam };
  }

  private async del(netns: string, ifName: string, config: NadConfig, owner: IpamOwner): Promise<void> {
    // DEL may run more than once and after the netns went: neither is an error, as upstream.
    const dp = (() => { try { return this.ipam(config); } catch { return undefined; } })();
    dp?.plugin.del(dp.conf, owner);
    await sh(frag.ip([ipLine`link delete ${ifName}`], netns), { allowFail: true });
  }

  private async mtuOf(netns: string, dev: string): Promise<number> {
    const r = await run(['ip', '-j', 'link', 'show', 'dev', dev], { netns });
    const mtu = (JSON.parse(r.stdout) as { mtu?: number }[])[0]?.mtu;
    if (typeof mtu !== 'number') throw new Error(`no MTU for ${dev} in ${netns}`);
    return mtu;
  }
}

/** The node's default-route interface (upstream's default `master`). */
async function defaultRouteInterface(node: string): Promise<string> {
  const r = await run(['ip', '-j', 'route', 'show', 'default'], { netns: node, allowFail: true });
  const dev = r.code === 0 ? (JSON.parse(r.stdout || '[]') as { dev?: string }[])[0]?.dev : undefined;
  if (!dev) throw new Error('no default route interface found');
  return dev;
}

/** The kernel's reason from an `ip` error ("RTNETLINK answers: Device or resource busy" → "device or resource busy"). */
function kernelReason(stderr: string): string {
  const m = /RTNETLINK answers: (.+)/.exec(stderr) ?? /Error: (.+)/.exec(stderr);
  const s = (m?.[1] ?? stderr).trim().split('\n')[0];
  return s.charAt(0).toLowerCase() + s.slice(1);
}
