// Bridges on the nodes that secondary networks plug into: the ones nmstate makes (linux-bridge,
// and ovs-bridge modelled as a Linux bridge), br-ex, per-VLAN sub-bridges, and OVN bridge-mappings.
import { frag, sh } from './exec.ts';
import { ipLine } from './line.ts';
import { EXTERNAL_BRIDGE, EXTERNAL_UPLINK, ifName, type MachineNetwork } from './machine-network.ts';
import type { Node } from './node.ts';

export interface NodeBridge {
  /** The name nmstate and NADs use. */
  name: string;
  /** The kernel's name (names over 15 characters are shortened). */
  kname: string;
  type: 'linux-bridge' | 'ovs-bridge';
  ports: string[];
  mtu: number;
}

export class NodeBridges {
  private readonly bridges = new Map<string, NodeBridge>(); // `${node}/${name}`
  private readonly vlanBridges = new Map<string, Promise<string>>();
  /** `${node}/${localnet}` → bridge name. */
  private readonly mappings = new Map<string, string>();
  /** The bridge-port-down fault: machine-network uplinks of user bridges, present and future, are down. */
  private uplinksDown = false;
  /** Links the fault set down (`${node}/${link}`), brought back up on clear even if their bridge is gone. */
  private readonly heldDown = new Set<string>();

  constructor(private readonly nodes: Node[], private readonly machine: MachineNetwork) {
    for (const n of nodes) {
      this.bridges.set(`${n.name}/${EXTERNAL_BRIDGE}`, { name: EXTERNAL_BRIDGE, kname: EXTERNAL_BRIDGE, type: 'ovs-bridge', ports: [EXTERNAL_UPLINK], mtu: machine.mtu });
    }
  }

  get(node: string, name: string): NodeBridge | undefined {
    return this.bridges.get(`${node}/${name}`);
  }

  list(node: string): NodeBridge[] {
    return [...this.bridges.entries()].filter(([k]) => k.startsWith(`${node}/`)).map(([, b]) => b);
  }

  /** Why `ports` cannot be enslaved on `node`, or undefined. */
  async missingPort(node: string, bridge: string, ports: string[]): Promise<string | undefined> {
    const links = await linkNames(node);
    for (const p of ports) {
      if (!links.has(p)) return `port ${p} of ${bridge}: interface ${p} does not exist on ${node}`;
      const owner = this.list(node).find((b) => b.name !== bridge && b.ports.includes(p));
      if (owner) return `port ${p} of ${bridge}: ${p} is already a port of ${owner.name} on ${node}`;
    }
    return undefined;
  }

  /** Create or update a bridge with exactly these ports (nmstate's desired state). */
  async apply(node: string, name: string, type: NodeBridge['type'], ports: string[], mtu?: number): Promise<void> {
    const kname = ifName(name);
    const cur = this.get(node, name);
    const m = mtu ?? cur?.mtu ?? this.machine.mtu;
    const lines: string[] = [];
    if (!cur) lines.push(ipLine`link add ${kname} type bridge`);
    lines.push(ipLine`link set ${kname} mtu ${m} up`);
    for (const p of cur?.ports ?? []) if (!ports.includes(p)) lines.push(ipLine`link set ${p} nomaster`);
    const down = this.uplinksDown && name !== EXTERNAL_BRIDGE;
    for (const p of ports) {
      const hold = down && this.machine.isNic(node, p);
      if (hold) this.heldDown.add(`${node}/${p}`);
      lines.push(ipLine`link set ${p} master ${kname}`, ipLine`link set ${p} ${hold ? 'down' : 'up'}`);
    }
    await sh(frag.ip(lines, node));
    this.bridges.set(`${node}/${name}`, { name, kname, type, ports: [...ports], mtu: m });
    // VLAN sub-bridges follow their parent's new uplinks.
    for (const [k, p] of this.vlanBridges) {
      if (!k.startsWith(`${node}/${name}/`)) continue;
      const vid = Number(k.split('/')[2]);
      await this.cableVlan(node, await p, ports, vid);
    }
  }

  async remove(node: string, name: string): Promise<void> {
    const cur = this.get(node, name);
    if (!cur) return;
    this.bridges.delete(`${node}/${name}`);
    await sh(frag.ip([ipLine`link delete ${cur.kname}`], node), { allowFail: true });
  }

  /** A bridge CNI creates the bridge it is pointed at when the node has none (with no uplink). */
  async ensure(node: string, name: string): Promise<NodeBridge> {
    const cur = this.get(node, name);
    if (cur) return cur;
    await this.apply(node, name, 'linux-bridge', []);
    return this.get(node, name) as NodeBridge;
  }

  /**
   * VLAN `vid` on a node bridge: a sub-bridge whose uplinks are the VLAN's cables on each of
   * the parent's machine-network ports. Returns the sub-bridge's kernel name.
   */
  vlan(node: string, bridge: string, vid: number): Promise<string> {
    const key = `${node}/${bridge}/${vid}`;
    let p = this.vlanBridges.get(key);
    if (!p) {
      p = (async () => {
        const parent = this.get(node, bridge);
        if (!parent) throw new Error(`bridge ${bridge} not found on ${node}`);
        const kname = ifName(`${parent.kname}.v${vid}`);
        await sh(frag.ip([ipLine`link add ${kname} type bridge`, ipLine`link set ${kname} mtu ${parent.mtu} up`], node));
        await this.cableVlan(node, kname, parent.ports, vid);
        return kname;
      })();
      this.vlanBridges.set(key, p);
      p.catch(() => this.vlanBridges.delete(key));
    }
    return p;
  }

  private async cableVlan(node: string, kname: string, ports: string[], vid: number): Promise<void> {
    const links: string[] = [];
    for (const port of ports) if (this.machine.isNic(node, port)) links.push(await this.machine.trunk(node, port, vid));
    const down = this.uplinksDown && !kname.startsWith(EXTERNAL_BRIDGE);
    if (down) links.forEach((l) => this.heldDown.add(`${node}/${l}`));
    if (links.length) await sh(frag.ip(links.flatMap((l) => [ipLine`link set ${l} master ${kname}`, ipLine`link set ${l} ${down ? 'down' : 'up'}`]), node));
  }

  // --- OVN bridge-mappings (localnet name → bridge), per node -----------------

  setMapping(node: string, localnet: string, bridge: string | undefined): void {
    if (bridge) this.mappings.set(`${node}/${localnet}`, bridge);
    else this.mappings.delete(`${node}/${localnet}`);
  }

  mapping(node: string, localnet: string): string | undefined {
    return this.mappings.get(`${node}/${localnet}`);
  }

  mappingsOf(node: string): { localnet: string; bridge: string }[] {
    return [...this.mappings].filter(([k]) => k.startsWith(`${node}/`)).map(([k, bridge]) => ({ localnet: k.slice(node.length + 1), bridge }));
  }

  // --- the bridge-port-down fault -------------------------------------------

  /** Machine-network uplinks of nmstate/CNI bridges (br-ex's excluded: the fault is about the bridges users made). */
  uplinks(): { node: string; port: string }[] {
    return [...this.bridges.entries()].flatMap(([k, b]) => {
      const node = k.split('/')[0];
      return b.name === EXTERNAL_BRIDGE ? [] : b.ports.filter((p) => this.machine.isNic(node, p)).map((port) => ({ node, port }));
    });
  }

  async setPortsDown(down: boolean): Promise<void> {
    this.uplinksDown = down;
    if (down) {
      for (const { node, port } of this.uplinks()) {
        const links = [port, ...(await this.machine.trunkLinks(node, port))];
        links.forEach((l) => this.heldDown.add(`${node}/${l}`));
        await sh(frag.ip(links.map((l) => `link set ${l} down`), node));
      }
      return;
    }
    const held = [...this.heldDown].map((k) => k.split('/') as [string, string]);
    this.heldDown.clear();
    for (const node of new Set(held.map(([n]) => n))) {
      await sh(frag.ip(held.filter(([n]) => n === node).map(([, l]) => `link set ${l} up`), node), { allowFail: true });
    }
  }
}

async function linkNames(node: string): Promise<Set<string>> {
  const r = await sh(ipLine`ip -n ${node} -o link show`);
  return new Set(r.stdout.split('\n').map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1]).filter((x): x is string => !!x));
}

