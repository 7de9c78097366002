// What virt-handler keeps per running VMI: the guest (its netns and agent process), the launcher
// it runs behind, a migration target launcher while one is prepared, and the plumbed NICs by
// their guest interface name. The guest outlives its launchers: a migration only swaps them.
// A NIC hot-unplugged from the guest stays prepared in its launcher until a migration leaves that
// launcher behind; one added to a running VMI's spec reaches the guest at the next migration.
import type { GuestInterfaceStatus } from '../guest/config.ts';
import type { AgentProcess } from '../guest/pool.ts';
import type { VmiInterfaceStatus } from '../controllers/kubevirt-types.ts';
import type { Binding, Nic } from './binding.ts';
import type { Launcher } from './launcher.ts';

/** Interfaces virt-launcher reserves PCI ports for at boot, counting the ones it boots with (nichotplug.go ReservedInterfaces). */
export const RESERVED_NIC_PORTS = 4;

export interface PlumbedNic {
  nic: Nic;
  binding: Binding;
  /** binding.prepare()'s result on the active launcher. */
  prepared: unknown;
}

export interface TargetLauncher {
  migrationUid: string;
  launcher: Launcher;
  /** binding.prepare()'s result on the target, per guest interface name. */
  prepared: Map<string, unknown>;
  /** NICs in the VMI spec but not in the guest, prepared on the target: connected after the cut-over. */
  added: PlumbedNic[];
}

export interface Domain {
  vmiUid: string;
  guestNetns: string;
  active: Launcher;
  target?: TargetLauncher;
  nics: Map<string, PlumbedNic>;
  /** Hot-unplugged NICs: out of the guest, still prepared on the active launcher. */
  unplugged: Map<string, PlumbedNic>;
  /** Hot-plugged NICs in the active launcher's pod that the guest did not get (no free PCI port); retried at the next migration. */
  pending: Map<string, PlumbedNic>;
  /**
   * PCIe root ports for NICs, fixed at boot (§8.9.1): the NICs booted with, and empty ones up to
   * four in all (virt-launcher's ReservedInterfaces placeholders). A detach frees its port.
   */
  nicPorts: number;
  /** Where port-forward connects from inside the launcher: the guest's address behind the binding (none without a pod network). */
  guestIP?: string;
  /** The masquerade NIC, reported with the launcher's pod IPs. */
  podNic?: { name: string; mac: string };
  agent: AgentProcess;
  /** The guest agent's last interface report (its stdout, as the virtio-serial channel). */
  guestReport: GuestInterfaceStatus[];
  interfaces: VmiInterfaceStatus[];
  stopping?: boolean;
}

/** Whether every NIC binding of the domain can migrate: true, or the first reason it cannot. */
export function domainMigratable(d: Domain): true | string {
  for (const p of d.nics.values()) {
    if (p.binding.migratable !== true) return `interface ${p.nic.iface.name}: ${p.binding.migratable}`;
  }
  return true;
}
