// SR-IOV hardware of the sim: physical functions (PFs) are NICs in the node netns cabled to the
// machine-network switch; virtual functions (VFs) are macvlans on them.
//
// VF = macvlan in VEPA mode, and the PF's switch port has hairpin on: every VF frame, even to a
// sibling VF on the same PF, crosses the PF's port on `br-machine`. That port plays the NIC's
// embedded switch, so spoof checking, link state and VLAN separation are enforced in one place
// (nft table `bridge kvnet-sriov` in the `machine` netns), outside anything a guest controls.
// Bridge mode would be a truer VEB but lets same-PF VF pairs bypass every check; passthru allows
// one VF per PF.
import { frag, run, sh } from './exec.ts';
import { ipLine } from './line.ts';
import type { NodeNic } from './machine-network.ts';
import { NftTable } from './nft-table.ts';
import { MACHINE_NETNS, type Fabric } from './topo.ts';

/** Whoever cables new node NICs to br-machine (MachineNetwork). */
export interface NicMaker {
  addNodeNic(node: string, name: string, opts?: { mtu?: number; mac?: string }): Promise<NodeNic>;
}

/** One PF model as `sriovnetworknodestates` reports it. */
export interface PfSpec {
  name: string;
  vendor: string;
  deviceID: string;
  pciAddress: string;
  totalvfs: number;
  linkSpeed: string;
  driver: string;
  /** VF PCI device id (from the supported-NIC table). */
  vfDeviceID: string;
}

/**
 * Every SR-IOV node has the same three cards. ens1f0 is the XXV710 the seed's §8.6.1 manifest
 * names (158b, 0000:3b:00.0); eno3 is the X710 of §8.7.1 (1572, 0000:19:00.2); ens2f0 a
 * ConnectX-5 whose firmware exposes 16 VFs (numVfs above that fails the node sync).
 */
export const SIM_PFS: readonly PfSpec[] = [
  { name: 'ens1f0', vendor: '8086', deviceID: '158b', vfDeviceID: '154c', pciAddress: '0000:3b:00.0', totalvfs: 64, linkSpeed: '25000 Mb/s', driver: 'i40e' },
  { name: 'eno3', vendor: '8086', deviceID: '1572', vfDeviceID: '154c', pciAddress: '0000:19:00.2', totalvfs: 32, linkSpeed: '10000 Mb/s', driver: 'i40e' },
  { name: 'ens2f0', vendor: '15b3', deviceID: '1017', vfDeviceID: '1018', pciAddress: '0000:5e:00.0', totalvfs: 16, linkSpeed: '100000 Mb/s', driver: 'mlx5_core' },
];

/** The PF MTU: the largest a policy may ask for (admission caps `mtu` at 9216). */
export const PF_MTU = 9216;
const SWITCH_TABLE = 'kvnet-sriov';

/** What the sriov CNI applies to a VF (the NAD config's vlan, spoofchk, trust, link_state, max_tx_rate). */
export interface VfSettings {
  mac: string;
  vlan: number;
  spoofchk: boolean;
  trust: boolean;
  linkState: 'enable' | 'disable' | 'auto';
  /** Mbps; 0 or absent: no cap. */
  maxTxRate?: number;
}

export interface Vf {
  node: string;
  pf: string;
  index: number;
  /** Kernel name while it sits in the node netns. */
  name: string;
  pciAddress: string;
  mac: string;
  mtu: number;
  /** Set while the VF is handed to a guest. */
  guest?: { netns: string; ifName: string; settings: VfSettings };
}

interface PfState {
  spec: PfSpec;
  node: string;
  mac: string;
  /** Its port on br-machine. */
  port: string;
  vfs: Vf[];
  numVfs: number;
}

/** `0000:3b:00.0` + VF n → the VF's routing-ID address, as the kernel numbers VFs after the PF. */
export function vfPciAddress(pf: string, index: number): string {
  const m = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(pf);
  if (!m) return `${pf}+${index}`;
  const rid = (parseInt(m[2], 16) << 8) | (parseInt(m[3], 16) << 3) | parseInt(m[4], 16);
  const v = rid + 2 + index; // VF offset 2, stride 1: what i40e and mlx5 report
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${m[1]}:${hex(v >> 8, 2)}:${hex((v >> 3) & 0x1f, 2)}.${v & 7}`;
}

export class SriovFabric {
  private readonly pfs = new Map<string, PfState>();
  /** Serialises device changes: VF create/move/delete and the switch table must not interleave. */
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(private readonly fabric: Fabric) {}

  /** Cables every PF of `nodes` (default: all) to the machine switch. */
  static async create(fabric: Fabric, nics: NicMaker, opts: { nodes?: string[]; pfs?: readonly PfSpec[] } = {}): Promise<SriovFabric> {
    const s = new SriovFabric(fabric);
    const nodes = opts.nodes ?? fabric.nodes.map((n) => n.name);
    const pfs = opts.pfs ?? SIM_PFS;
    await Promise.all(nodes.map(async (node) => {
      const idx = fabric.node(node).index;
      for (const [i, spec] of pfs.entries()) {
        const mac = `${spec.vendor === '15b3' ? '0c:42:a1' : '3c:fd:fe'}:${hex2(idx)}:${hex2(i)}:00`;
        const nic = await nics.addNodeNic(node, spec.name, { mtu: PF_MTU, mac });
        // VEPA needs the switch to send a frame back out the port it came in on (see the header).
        await sh(frag.ip([`link set ${nic.switchPort} type bridge_slave hairpin on`], MACHINE_NETNS));
        s.pfs.set(`${node}/${spec.name}`, { spec, node, mac, port: nic.switchPort, vfs: [], numVfs: 0 });
      }
    }));
    await s.applySwitch();
    return s;
  }

  nodes(): string[] {
    return [...new Set([...this.pfs.values()].map((p) => p.node))];
  }

  /** The PFs a node's config daemon discovers. */
  pfsOf(node: string): Array<PfSpec & { mac: string; mtu: number; numVfs: number; vfs: Vf[] }> {
    return [...this.pfs.values()].filter((p) => p.node === node).map((p) => ({ ...p.spec, mac: p.mac, mtu: PF_MTU, numVfs: p.numVfs, vfs: [...p.vfs] }));
  }

  private pf(node: string, pf: string): PfState {
    const p = this.pfs.get(`${node}/${pf}`);
    if (!p) throw new Error(`${node} has no SR-IOV PF ${pf}`);
    return p;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** sriov_numvfs: creates or removes VFs; VFs handed to guests stay until they come back. */
  setNumVfs(node: string, pfName: string, numVfs: number, mtu: number): Promise<void> {
    return this.serial(async () => {
      const p = this.pf(node, pfName);
      if (numVfs > p.spec.totalvfs) throw new Error(`${pfName}: numVfs ${numVfs} exceeds sriov_totalvfs ${p.spec.totalvfs}`);
      p.numVfs = numVfs;
      const lines: string[] = [];
      for (let i = 0; i < numVfs; i++) {
        const have = p.vfs.find((v) => v.index === i);
        if (have) {
          if (!have.guest && have.mtu !== mtu) lines.push(`link set ${have.name} mtu ${mtu}`);
          have.mtu = mtu;
          continue;
        }
        const vf: Vf = { node, pf: pfName, index: i, name: `${pfName}v${i}`, pciAddress: vfPciAddress(p.spec.pciAddress, i), mac: `02:00:${hex2(this.fabric.node(node).index)}:${hex2([...this.pfs.values()].indexOf(p) % 256)}:00:${hex2(i)}`, mtu };
        lines.push(ipLine`link add ${vf.name} link ${pfName} address ${vf.mac} mtu ${mtu} type macvlan mode vepa`);
        p.vfs.push(vf);
      }
      for (const v of p.vfs.filter((x) => x.index >= numVfs && !x.guest)) lines.push(`link delete ${v.name}`);
      p.vfs = p.vfs.filter((x) => x.index < numVfs || x.guest);
      p.vfs.sort((a, b) => a.index - b.index);
      if (lines.length) await sh(frag.ip(lines, node));
    });
  }

  /**
   * Hands VF `index` to a guest: it leaves the node netns and becomes `ifName` with the
   * interface's MAC. `move: false` leaves it behind (the vf-not-moved fault).
   */
  attach(node: string, pfName: string, index: number, guest: { netns: string; ifName: string }, settings: VfSettings, move = true): Promise<void> {
    return this.serial(async () => {
      const p = this.pf(node, pfName);
      const vf = p.vfs.find((v) => v.index === index);
      if (!vf) throw new Error(`${node}/${pfName} has no VF ${index}`);
      if (vf.guest) throw new Error(`${node}/${pfName} VF ${index} is already in ${vf.guest.netns}`);
      if (move) {
        // linkState disable: the guest gets the NIC down; the switch drops its frames even if the guest ups it.
        const up = settings.linkState === 'disable' ? 'down' : 'up';
        await sh([
          frag.ip([ipLine`link set ${vf.name} down`, ipLine`link set ${vf.name} address ${settings.mac}`, ipLine`link set ${vf.name} netns ${guest.netns} name ${guest.ifName}`], node),
          frag.ip([`link set ${guest.ifName} ${up}`], guest.netns),
        ].join('\n'));
      } else {
        await sh(frag.ip([ipLine`link set ${vf.name} address ${settings.mac}`], node));
      }
      vf.guest = { ...guest, settings };
      if (!move) vf.guest.netns = '';
      await this.applySwitch();
      await this.applyRates(p);
    });
  }

  /** The VF comes back to the node netns (before the guest netns goes) with its own name and MAC. */
  detach(node: string, pfName: string, index: number): Promise<void> {
    return this.serial(async () => {
      const p = this.pf(node, pfName);
      const vf = p.vfs.find((v) => v.index === index);
      if (!vf?.guest) return;
      const g = vf.guest;
      if (g.netns) {
        const r = await sh(frag.ip([`link set ${g.ifName} down`, `link set ${g.ifName} netns ${node} name ${vf.name}`], g.netns), { allowFail: true });
        // The guest netns already went (and the macvlan with it): make the VF again.
        if (r.code !== 0) await sh(frag.ip([`link add ${vf.name} link ${pfName} mtu ${vf.mtu} type macvlan mode vepa`], node), { allowFail: true });
      }
      await sh(frag.ip([`link set ${vf.name} address ${vf.mac}`, `link set ${vf.name} mtu ${vf.mtu}`], node), { allowFail: true });
      vf.guest = undefined;
      if (vf.index >= p.numVfs) {
        await sh(frag.ip([`link delete ${vf.name}`], node), { allowFail: true });
        p.vfs = p.vfs.filter((v) => v !== vf);
      }
      await this.applySwitch();
      await this.applyRates(p);
    });
  }

  /** VFs currently handed to guests, for the switch rules. */
  private assigned(): Array<Vf & { guest: NonNullable<Vf['guest']>; port: string; pfMac: string }> {
    return [...this.pfs.values()].flatMap((p) => p.vfs.filter((v) => v.guest).map((v) => ({ ...v, guest: v.guest as NonNullable<Vf['guest']>, port: p.port, pfMac: p.mac })));
  }

  /**
   * The embedded-switch rules, rebuilt whole: spoof check per PF port, link state, VLAN
   * separation by MAC membership (frames are untagged in the sim; see docs).
   */
  private async applySwitch(): Promise<void> {
    const vfs = this.assigned();
    const rules: string[] = [];
    const set = (macs: string[]) => `{ ${[...new Set(macs.map((m) => m.toLowerCase()))].join(', ')} }`;
    const down = vfs.filter((v) => v.guest.settings.linkState === 'disable').map((v) => v.guest.settings.mac);
    if (down.length) rules.push(`ether saddr ${set(down)} counter drop`, `ether daddr ${set(down)} counter drop`);
    // Spoof check: frames are not labelled with their VF, so a PF port is checked when none of its
    // guests' VFs has spoofchk off; then only those VFs' MACs (and the PF's own) may leave it.
    for (const p of this.pfs.values()) {
      const mine = vfs.filter((v) => v.port === p.port);
      if (!mine.length || mine.some((v) => !v.guest.settings.spoofchk)) continue;
      rules.push(`iifname "${p.port}" ether saddr != ${set([p.mac, ...mine.map((v) => v.guest.settings.mac)])} counter drop`);
    }
    const byVlan = new Map<number, string[]>();
    for (const v of vfs) if (v.guest.settings.vlan) byVlan.set(v.guest.settings.vlan, [...(byVlan.get(v.guest.settings.vlan) ?? []), v.guest.settings.mac]);
    for (const [vlan, macs] of byVlan) {
      const ports = [...new Set(vfs.filter((v) => v.guest.settings.vlan === vlan).map((v) => v.port))];
      rules.push(
        `ether daddr ${set(macs)} ether saddr != ${set(macs)} counter drop comment "vlan ${vlan} in"`,
        `ether saddr ${set(macs)} meta pkttype != { broadcast, multicast } ether daddr != ${set(macs)} counter drop comment "vlan ${vlan} out"`,
        `ether saddr ${set(macs)} oifname != { ${ports.map((p) => `"${p}"`).join(', ')} } counter drop comment "vlan ${vlan} flood"`,
      );
    }
    const table = new NftTable(MACHINE_NETNS, 'bridge', SWITCH_TABLE);
    await table.replace(`  chain forward {\n    type filter hook forward priority -5; policy accept;\n${rules.map((r) => `    ${r}`).join('\n')}\n  }`);
  }

  /** max_tx_rate: an htb class per capped VF on its PF, matched by the VF's source MAC. */
  private async applyRates(p: PfState): Promise<void> {
    const capped = p.vfs.filter((v) => v.guest && (v.guest.settings.maxTxRate ?? 0) > 0);
    await run(['tc', 'qdisc', 'del', 'dev', p.spec.name, 'root'], { netns: p.node, allowFail: true });
    if (!capped.length) return;
    const lines = [
      `qdisc add dev ${p.spec.name} root handle 1: htb default ffff`,
      `class add dev ${p.spec.name} parent 1: classid 1:ffff htb rate 100gbit`,
      ...capped.flatMap((v, i) => {
        const id = (i + 1).toString(16);
        const s = v.guest?.settings as VfSettings;
        return [
          `class add dev ${p.spec.name} parent 1: classid 1:${id} htb rate ${s.maxTxRate}mbit ceil ${s.maxTxRate}mbit`,
          `filter add dev ${p.spec.name} parent 1: protocol all prio 1 u32 match ether src ${s.mac} classid 1:${id}`,
        ];
      }),
    ];
    await sh(`tc -n ${p.node} -batch - <<'EOF'\n${lines.join('\n')}\nEOF`);
  }
}

function hex2(n: number): string {
  return (n & 0xff).toString(16).padStart(2, '0');
}
