// Per-guest configuration the sim hands the guest agent (src/sim/guest/main.ts) as one JSON line on
// its stdin, and the reports the agent sends back as stdout lines, like the virtio-serial channel of
// a QEMU guest agent. The config stands in for what a real VM gets from its disk image, cloud-init
// NoCloud datasource and the launcher's DHCP server. Nothing passes through files: the agent runs in
// a root of its own (root.ts) that has none of the sim's.

/** A warm agent prints this line when it is ready to take a config (see pool.ts). */
export const WARM_LINE = 'kvnet-guest warm';
const REPORT_PREFIX = 'kvnet-guest ';

export interface GuestUser {
  name: string;
  /** Plain-text password (cloud-init plain_text_passwd / password / chpasswd). */
  password?: string;
  /** crypt(3) hash ($1$/$5$/$6$) from cloud-init users[].passwd or chpasswd type=hash. */
  passwordHash?: string;
  /** The password is locked (cloud-init users[].lock_passwd, default true): no password login. */
  locked?: boolean;
  /** Keys valid only for this user (cloud-init users[].ssh_authorized_keys, accessCredentials qemuGuestAgent users). */
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
   * OpenSSH public key lines of the image's default user (`defaultUser`): cloud-init's top-level
   * ssh_authorized_keys and the datasource's public-keys (accessCredentials with noCloud or
   * configDrive propagation), as cloud-init's cc_ssh applies them.
   */
  authorizedKeys: string[];
  /** The image's default user (Fedora cloud images: "fedora"). */
  defaultUser: string;
  users: GuestUser[];
  /** sshd PasswordAuthentication: cloud-init `ssh_pwauth` (a Fedora cloud image has it off). */
  passwordAuth: boolean;
  /**
   * cloud-init `disable_root` (default true): root's authorized_keys get the default user's keys
   * behind a forced command that tells the user to log in as the default user and exits 142.
   */
  disableRoot: boolean;
  /** netplan v2 YAML from cloudInitNoCloud/cloudInitConfigDrive networkData. */
  networkData?: string;
  /** What the launcher's DHCP server hands out, keyed by guest interface name. */
  dhcpLeases: Record<string, DhcpLease>;
  defaultInterfaces: GuestInterface[];
  /** Base resolv.conf content; netplan nameservers are appended. */
  resolvConf: string;
  /** Skip applying links/addresses/routes (self-tests outside a netns). */
  skipNetwork?: boolean;
}

/** The QEMU-guest-agent style interface report (`guest-network-get-interfaces`). */
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
  /** The guest's /etc/resolv.conf as written at boot. */
  resolvConf: string;
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
    defaultUser: str('defaultUser', 'fedora'),
    passwordAuth: r.passwordAuth === true,
    disableRoot: r.disableRoot !== false,
    users: Array.isArray(r.users) ? (r.users as GuestUser[]).filter((u) => u && typeof u.name === 'string') : [],
    networkData: typeof r.networkData === 'string' ? r.networkData : undefined,
    dhcpLeases: (r.dhcpLeases && typeof r.dhcpLeases === 'object' ? r.dhcpLeases : {}) as Record<string, DhcpLease>,
    defaultInterfaces: Array.isArray(r.defaultInterfaces) ? (r.defaultInterfaces as GuestInterface[]) : [],
    resolvConf: str('resolvConf', ''),
    skipNetwork: r.skipNetwork === true,
  };
}

/** What the agent reports on stdout once it has a config. */
export type AgentReport =
  | { t: 'ready'; ready: GuestReady }
  | { t: 'status'; interfaces: GuestInterfaceStatus[] };

export function reportLine(r: AgentReport): string {
  return `${REPORT_PREFIX}${r.t} ${JSON.stringify(r.t === 'ready' ? r.ready : r.interfaces)}\n`;
}

/** A stdout line of the agent as a report; undefined for the warm line and anything else. */
export function parseReportLine(line: string): AgentReport | undefined {
  const m = /^kvnet-guest (ready|status) (.*)$/.exec(line);
  if (!m) return undefined;
  try {
    const body: unknown = JSON.parse(m[2]);
    return m[1] === 'ready' ? { t: 'ready', ready: body as GuestReady } : { t: 'status', interfaces: body as GuestInterfaceStatus[] };
  } catch {
    return undefined;
  }
}

/** Splits a text stream into lines (the spawner and pipes hand over arbitrary chunks). */
export function lineSplitter(onLine: (line: string) => void): (chunk: string) => void {
  let buf = '';
  return (chunk) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  };
}
