// Per-guest configuration the sim writes as JSON before starting the guest agent
// (src/sim/guest/main.ts). It stands in for what a real VM gets from its disk
// image, cloud-init NoCloud datasource and the launcher's DHCP server.
import { readFileSync } from 'node:fs';

/** A warm agent prints this line when it is ready to take a config (see pool.ts). */
export const WARM_LINE = 'kvnet-guest warm';

export interface GuestUser {
  name: string;
  /** Plain-text password (cloud-init plain_text_passwd / password / chpasswd). */
  password?: string;
  /** crypt(3) hash ($1$/$5$/$6$) from cloud-init users[].passwd or chpasswd type=hash. */
  passwordHash?: string;
  /** Keys valid only for this user; keys in GuestConfig.authorizedKeys are valid for any user. */
  authorizedKeys?: string[];
}

export interface DhcpLease {
  /** CIDR, e.g. "10.0.2.2/24". */
  address: string;
  gateway?: string;
  mtu?: number;
}

export interface GuestInterface {
  name: string;
  mac: string;
}

export interface GuestConfig {
  name: string;
  namespace: string;
  hostname: string;
  /** Default 22. */
  sshPort: number;
  /** Listen address; default "::" (dual-stack). Self-tests use "127.0.0.1". */
  sshListen: string;
  /**
   * OpenSSH public key lines valid for any user name. They come from cloud-init
   * ssh_authorized_keys and accessCredentials, which on a real image land on the
   * distro's default user, whose name the harness may not know.
   */
  authorizedKeys: string[];
  users: GuestUser[];
  /** netplan v2 YAML from cloudInitNoCloud/cloudInitConfigDrive networkData. */
  networkData?: string;
  /** What the launcher's DHCP server hands out, keyed by guest interface name. */
  dhcpLeases: Record<string, DhcpLease>;
  defaultInterfaces: GuestInterface[];
  /** Base resolv.conf content; netplan nameservers are appended. */
  resolvConf: string;
  hostKeyPath: string;
  readyFile: string;
  statusFile: string;
  /** Skip applying links/addresses/routes (self-tests outside a netns). */
  skipNetwork?: boolean;
}

/** The QEMU-guest-agent style report the agent writes to statusFile. */
export interface GuestInterfaceStatus {
  interfaceName: string;
  mac: string;
  /** CIDRs, global and site scope only (KubeVirt drops link-local). */
  ipAddresses: string[];
  mtu: number;
  state: string;
}

export interface GuestReady {
  time: string;
  /** The agent's pid in the sandbox's PID namespace. */
  pid: number;
  /** ms since agent process start. */
  startupMs: number;
  sshPort: number;
  resolvConfPath: string;
  /** ip commands that failed at boot, with the error (empty when all applied). */
  networkErrors: { command: string[]; error: string }[];
  interfaces: unknown;
  /** ms from the config's arrival to the end of each boot step (network, sshd, report). */
  phasesMs?: Record<string, number>;
}

/** Fill defaults and check required fields; throws with the offending field. */
export function normalizeGuestConfig(raw: unknown): GuestConfig {
  if (!raw || typeof raw !== 'object') throw new Error('guest config: not an object');
  const r = raw as Record<string, unknown>;
  const str = (k: string, def?: string): string => {
    const v = r[k];
    if (typeof v === 'string') return v;
    if (def !== undefined) return def;
    throw new Error(`guest config: ${k} must be a string`);
  };
  const name = str('name');
  return {
    name,
    namespace: str('namespace', 'default'),
    hostname: str('hostname', name),
    sshPort: typeof r.sshPort === 'number' ? r.sshPort : 22,
    sshListen: str('sshListen', '::'),
    authorizedKeys: Array.isArray(r.authorizedKeys) ? r.authorizedKeys.filter((k): k is string => typeof k === 'string') : [],
    users: Array.isArray(r.users) ? (r.users as GuestUser[]).filter((u) => u && typeof u.name === 'string') : [],
    networkData: typeof r.networkData === 'string' ? r.networkData : undefined,
    dhcpLeases: (r.dhcpLeases && typeof r.dhcpLeases === 'object' ? r.dhcpLeases : {}) as Record<string, DhcpLease>,
    defaultInterfaces: Array.isArray(r.defaultInterfaces) ? (r.defaultInterfaces as GuestInterface[]) : [],
    resolvConf: str('resolvConf', ''),
    hostKeyPath: str('hostKeyPath'),
    readyFile: str('readyFile'),
    statusFile: str('statusFile'),
    skipNetwork: r.skipNetwork === true,
  };
}

export function loadGuestConfig(path: string): GuestConfig {
  return normalizeGuestConfig(JSON.parse(readFileSync(path, 'utf8')));
}
