// Link shaping, as Mininet's TCLink does it: an htb root with one class at the link's rate on each
// end of a cable, so each direction carries at most `rateGbps` (a full-duplex NIC). This kernel has
// no netem, so shaping is rate only (no added delay or loss). The class's leaf is a drop-tail byte
// FIFO of 5 ms at the rate, as a switch port's shallow buffer: htb's own leaf would be a pfifo of
// txqueuelen packets, and with GSO skbs of up to 64 KiB that is a queue of seconds at 1 Gbit/s
// (this kernel has no fq_codel, sfq or tbf; htb, pfifo and bfifo are there).
import { sh } from './exec.ts';
import { ipLine } from './line.ts';
import { cabledNics } from '../topology.ts';
import { MACHINE_NETNS, type Fabric } from './topo.ts';

export interface LinkEnd {
  netns: string;
  dev: string;
}

/** A cable: its two ends (a veth pair, usually node NIC and switch port). */
export interface Link {
  a: LinkEnd;
  b: LinkEnd;
}

export interface ShapeOptions {
  /** Line rate per direction, in Gbit/s; 0 or undefined removes the shaping. */
  rateGbps?: number;
}

/** `ms` at the rate in bytes, never below two GSO skbs (htb's burst below one cannot reach the rate). */
function bytesOver(rateGbps: number, ms: number): number {
  return Math.max(128 * 1024, Math.round((rateGbps * 1e9) / 8 / 1000 * ms));
}

/** The `tc -batch` lines that shape one end (replace: idempotent, and a new rate applies at once). */
export function shapeLines(dev: string, rateGbps: number): string[] {
  const mbit = Math.round(rateGbps * 1000);
  if (!(mbit > 0)) throw new Error(`shape ${dev}: rate ${rateGbps} Gbit/s is not a positive rate`);
  const burst = bytesOver(rateGbps, 1);
  // quantum: htb's default (rate / r2q) exceeds its 200000-byte cap above ~16 Mbit/s and warns.
  return [
    ipLine`qdisc replace dev ${dev} root handle 1: htb default 1`,
    ipLine`class replace dev ${dev} parent 1: classid 1:1 htb rate ${mbit}mbit ceil ${mbit}mbit burst ${burst} cburst ${burst} quantum 60000`,
    ipLine`qdisc replace dev ${dev} parent 1:1 handle 10: bfifo limit ${bytesOver(rateGbps, 5)}`,
  ];
}

async function tcBatch(netns: string, lines: string[], allowFail = false): Promise<void> {
  await sh(`tc -n ${netns} -batch - <<'EOF'\n${lines.join('\n')}\nEOF`, { allowFail });
}

/** Shape both ends of `link` to `rateGbps` per direction, or unshape it (no rate). */
export async function shape(link: Link, o: ShapeOptions): Promise<void> {
  const ends = [link.a, link.b];
  if (!o.rateGbps) {
    // No root qdisc to delete is fine: the link was not shaped.
    await Promise.all(ends.map((e) => tcBatch(e.netns, [ipLine`qdisc del dev ${e.dev} root`], true)));
    return;
  }
  const rate = o.rateGbps;
  await Promise.all(ends.map((e) => tcBatch(e.netns, shapeLines(e.dev, rate))));
}

/**
 * The cables from each node to the machine-network switch: eth0 (node IP, pod overlay, OVN
 * overlays) and the spare NICs and br-ex uplink that secondary networks and the migration network
 * use. SR-IOV PFs are left out: their root qdisc holds the VFs' max_tx_rate classes.
 */
export function nodeNicLinks(fabric: Fabric): Link[] {
  return fabric.nodes.flatMap((n) => [
    { a: { netns: n.name, dev: 'eth0' }, b: { netns: MACHINE_NETNS, dev: `m-${n.name}` } },
    ...fabric.machineNet.nodeNics(n.name)
      .filter((nic) => cabledNics().includes(nic.name))
      .map((nic) => ({ a: { netns: n.name, dev: nic.name }, b: { netns: MACHINE_NETNS, dev: nic.switchPort } })),
  ]);
}

/** The sim setting `nicRateGbps`: every node NIC runs at that rate, so all traffic on a NIC shares it. */
export async function shapeNodeNics(fabric: Fabric, rateGbps: number | undefined): Promise<void> {
  if (!rateGbps) return;
  await Promise.all(nodeNicLinks(fabric).map((l) => shape(l, { rateGbps })));
}
