// The secondary NICs the CNI plugins have plumbed, for the components that act on them later
// (the multi-networkpolicy controller, faults). Plugins add and remove; listeners hear of both.
export interface SecondaryAttachment {
  /** `${podUid}/${interface name}`: a migrating VMI has a NIC on each of its two launcher pods. */
  id: string;
  vmi: { namespace: string; name: string; uid: string; labels: Record<string, string> };
  /** The NAD, `namespace/name`. */
  nad: string;
  /** CNI type and, for OVN, the topology. */
  type: string;
  topology?: string;
  /** The network name in the CNI config (OVN networks are keyed by it). */
  network: string;
  node: string;
  /** The NIC's port on the node bridge. */
  hostIf: string;
  mac: string;
}

export class Attachments {
  private readonly items = new Map<string, SecondaryAttachment>();
  private readonly listeners: ((a: SecondaryAttachment) => void)[] = [];

  add(a: SecondaryAttachment): void {
    this.items.set(a.id, a);
    this.listeners.forEach((l) => l(a));
  }

  remove(id: string): SecondaryAttachment | undefined {
    const a = this.items.get(id);
    if (!a) return undefined;
    this.items.delete(id);
    this.listeners.forEach((l) => l(a));
    return a;
  }

  get(id: string): SecondaryAttachment | undefined {
    return this.items.get(id);
  }

  list(): SecondaryAttachment[] {
    return [...this.items.values()];
  }

  onChange(l: (a: SecondaryAttachment) => void): void {
    this.listeners.push(l);
  }
}

export function attachmentId(podUid: string, ifaceName: string): string {
  return `${podUid}/${ifaceName}`;
}
