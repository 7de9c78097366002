// cloud-init, the parts a KubeVirt guest relies on: #cloud-config user data
// (users, keys, passwords) and NoCloud networkData in netplan v2 form, turned
// into `ip` commands. Everything here is pure so it is testable without root.
import { parse as parseYaml } from 'yaml';
import type { DhcpLease, GuestInterface, GuestUser } from './config.ts';

export interface ParsedUserData {
  /** Keys for the default user (top-level ssh_authorized_keys). */
  authorizedKeys: string[];
  /** The default user's name: `user`, `system_info.default_user.name`, else the image's. */
  defaultUser: string;
  users: GuestUser[];
  /** `ssh_pwauth`: true/false, undefined when absent or "unchanged" (the image's sshd_config stands). */
  sshPwauth?: boolean;
  /** `disable_root` (cloud-init default true). */
  disableRoot: boolean;
}

/** cloud-init's util.is_true / is_false for config booleans. */
function cloudBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v !== 'string') return undefined;
  const t = v.trim().toLowerCase();
  if (['true', '1', 'on', 'yes'].includes(t)) return true;
  if (['false', '0', 'off', 'no'].includes(t)) return false;
  return undefined;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);
const strList = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').map((s) => s.trim()).filter(Boolean)
  : typeof v === 'string' && v.trim() ? [v.trim()] : [];

const isHash = (p: string): boolean => /^\$(1|5|6|y|2[aby]?)\$/.test(p);

/**
 * Parse #cloud-config user data. Non-cloud-config payloads (shell scripts,
 * MIME multipart) carry no keys for us and yield an empty result.
 * `defaultUser` is the image's default account (Fedora containerdisks: "fedora").
 */
export function parseUserData(text: string | undefined, defaultUser = 'fedora'): ParsedUserData {
  const out: ParsedUserData = { authorizedKeys: [], defaultUser, users: [], disableRoot: true };
  if (!text || !/^#cloud-config\b/.test(text.trimStart())) return out;
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new Error(`cloud-init userData: invalid YAML: ${(e as Error).message}`);
  }
  if (!isObj(doc)) return out;

  const byName = new Map<string, GuestUser>();
  const user = (name: string): GuestUser => {
    let u = byName.get(name);
    if (!u) {
      u = { name };
      byName.set(name, u);
      out.users.push(u);
    }
    return u;
  };
  const setPw = (u: GuestUser, pw: string, hashed?: boolean): void => {
    if (hashed ?? isHash(pw)) u.passwordHash = pw;
    else u.password = pw;
    delete u.locked; // chpasswd replaces a locked hash
  };

  const sysInfo = isObj(doc.system_info) && isObj(doc.system_info.default_user) ? doc.system_info.default_user : undefined;
  const defName = typeof doc.user === 'string' ? doc.user
    : isObj(doc.user) && typeof doc.user.name === 'string' ? doc.user.name
    : sysInfo && typeof sysInfo.name === 'string' ? sysInfo.name : defaultUser;
  out.defaultUser = defName;
  out.sshPwauth = cloudBool(doc.ssh_pwauth);
  out.disableRoot = cloudBool(doc.disable_root) ?? true;

  out.authorizedKeys.push(...strList(doc.ssh_authorized_keys));
  if (typeof doc.password === 'string') setPw(user(defName), doc.password, false);

  const users = Array.isArray(doc.users) ? doc.users : doc.users === undefined ? [] : [doc.users];
  for (const entry of users) {
    if (entry === 'default') { user(defName); continue; }
    if (typeof entry === 'string') { user(entry); continue; } // "users: [alice]" short form
    if (!isObj(entry) || typeof entry.name !== 'string') continue;
    const u = user(entry.name);
    const keys = strList(entry.ssh_authorized_keys);
    if (keys.length) u.authorizedKeys = [...(u.authorizedKeys ?? []), ...keys];
    if (typeof entry.plain_text_passwd === 'string') setPw(u, entry.plain_text_passwd, false);
    else if (typeof entry.passwd === 'string') setPw(u, entry.passwd, true);
    else if (typeof entry.hashed_passwd === 'string') setPw(u, entry.hashed_passwd, true);
    // distros.create_user: lock_passwd defaults to true, and locks the password just set.
    if (cloudBool(entry.lock_passwd) ?? true) u.locked = true;
  }

  const chp = doc.chpasswd;
  if (isObj(chp)) {
    // Legacy form: "list: |\n user:pass" or a YAML list of "user:pass".
    const lines = typeof chp.list === 'string' ? chp.list.split('\n') : strList(chp.list);
    for (const line of lines) {
      const i = line.indexOf(':');
      if (i <= 0) continue;
      const pw = line.slice(i + 1).trim();
      if (pw && pw !== 'R' && pw !== 'RANDOM') setPw(user(line.slice(0, i).trim()), pw);
    }
    if (Array.isArray(chp.users)) {
      for (const e of chp.users) {
        if (!isObj(e) || typeof e.name !== 'string' || typeof e.password !== 'string') continue;
        if (e.type === 'RANDOM' || e.password === 'RANDOM') continue;
        setPw(user(e.name), e.password, e.type === 'hash' ? true : e.type === 'text' ? false : undefined);
      }
    }
  }
  return out;
}

export interface NetplanResult {
  /** argv lists, each starting with "ip", in the order they must run. */
  commands: string[][];
  nameservers: string[];
  search: string[];
}

const isV6 = (addr: string): boolean => addr.includes(':');

/**
 * netplan v2 `ethernets` → ip commands. `dhcp4: true` uses the lease for that
 * interface if there is one (otherwise no IPv4, like a DHCP client with no
 * server). Interfaces with a lease that networkData does not mention get it, as
 * cloud-init's fallback DHCP on eth0 would. `interfaces` resolves match.macaddress.
 */
export function netplanToIpCommands(
  networkData: string | undefined,
  dhcpLeases: Record<string, DhcpLease> = {},
  interfaces: GuestInterface[] = [],
): string[][] {
  return parseNetplan(networkData, dhcpLeases, interfaces).commands;
}

export function parseNetplan(
  networkData: string | undefined,
  dhcpLeases: Record<string, DhcpLease> = {},
  interfaces: GuestInterface[] = [],
): NetplanResult {
  let doc: unknown = networkData && networkData.trim() ? parseYaml(networkData) : undefined;
  if (isObj(doc) && isObj(doc.network)) doc = doc.network; // "network: {version: 2}" wrapper
  let ethernets: Obj = {};
  if (isObj(doc)) {
    if (doc.version !== undefined && Number(doc.version) !== 2) {
      throw new Error(`cloud-init networkData: only netplan version 2 is supported, got version ${String(doc.version)}`);
    }
    if (isObj(doc.ethernets)) ethernets = doc.ethernets;
  }

  const link: string[][] = [];
  const addrs: string[][] = [];
  const routes: string[][] = [];
  const nameservers: string[] = [];
  const search: string[] = [];
  const configured = new Set<string>();

  const applyLease = (dev: string, lease: DhcpLease, opts: { useRoutes: boolean; useMtu: boolean; hasGw: boolean; hasMtu: boolean }): void => {
    addrs.push(['ip', 'addr', 'add', lease.address, 'dev', dev]);
    if (lease.mtu && opts.useMtu && !opts.hasMtu) link.push(['ip', 'link', 'set', 'dev', dev, 'mtu', String(lease.mtu)]);
    if (lease.gateway && opts.useRoutes && !opts.hasGw) {
      routes.push(['ip', ...(isV6(lease.gateway) ? ['-6'] : ['-4']), 'route', 'add', 'default', 'via', lease.gateway, 'dev', dev]);
    }
  };

  for (const [id, rawCfg] of Object.entries(ethernets)) {
    const cfg: Obj = isObj(rawCfg) ? rawCfg : {};
    // Resolve the kernel name: match.macaddress / match.name, else the netplan id.
    let dev = id;
    if (isObj(cfg.match)) {
      const mac = typeof cfg.match.macaddress === 'string' ? cfg.match.macaddress.toLowerCase() : undefined;
      const found = mac ? interfaces.find((i) => i.mac.toLowerCase() === mac) : undefined;
      if (found) dev = found.name;
      else if (typeof cfg.match.name === 'string' && !/[*?]/.test(cfg.match.name)) dev = cfg.match.name;
    }
    configured.add(dev);
    if (typeof cfg['set-name'] === 'string' && cfg['set-name'] !== dev) {
      const newName = cfg['set-name'];
      link.push(['ip', 'link', 'set', 'dev', dev, 'down']);
      link.push(['ip', 'link', 'set', 'dev', dev, 'name', newName]);
      const lease = dhcpLeases[dev];
      dev = newName;
      configured.add(dev);
      if (lease && !dhcpLeases[dev]) dhcpLeases = { ...dhcpLeases, [dev]: lease };
    }
    const mtu = cfg.mtu !== undefined ? Number(cfg.mtu) : undefined;
    if (mtu) link.push(['ip', 'link', 'set', 'dev', dev, 'mtu', String(mtu)]);
    link.push(['ip', 'link', 'set', 'dev', dev, 'up']);

    const gw4 = typeof cfg.gateway4 === 'string' ? cfg.gateway4 : undefined;
    const gw6 = typeof cfg.gateway6 === 'string' ? cfg.gateway6 : undefined;
    const listedRoutes = Array.isArray(cfg.routes) ? cfg.routes.filter(isObj) : [];
    const hasDefault = (v6: boolean): boolean =>
      listedRoutes.some((r) => (r.to === 'default' || r.to === (v6 ? '::/0' : '0.0.0.0/0')) && typeof r.via === 'string' && isV6(r.via) === v6);

    const lease = dhcpLeases[dev];
    if (cfg.dhcp4 === true || cfg.dhcp4 === 'yes' || cfg.dhcp4 === 'true') {
      const ov = isObj(cfg['dhcp4-overrides']) ? cfg['dhcp4-overrides'] : {};
      if (lease && !isV6(lease.address)) {
        applyLease(dev, lease, { useRoutes: ov['use-routes'] !== false, useMtu: ov['use-mtu'] !== false, hasGw: !!gw4 || hasDefault(false), hasMtu: !!mtu });
      }
    }
    if (cfg.dhcp6 === true || cfg.dhcp6 === 'yes' || cfg.dhcp6 === 'true') {
      if (lease && isV6(lease.address)) applyLease(dev, lease, { useRoutes: true, useMtu: true, hasGw: !!gw6 || hasDefault(true), hasMtu: !!mtu });
    }
    for (const a of strList(cfg.addresses)) {
      // nodad: the address is usable at once, as on a guest where DAD finished at boot.
      addrs.push(isV6(a) ? ['ip', '-6', 'addr', 'add', a, 'dev', dev, 'nodad'] : ['ip', '-4', 'addr', 'add', a, 'dev', dev]);
    }
    if (gw4) routes.push(['ip', '-4', 'route', 'add', 'default', 'via', gw4, 'dev', dev]);
    if (gw6) routes.push(['ip', '-6', 'route', 'add', 'default', 'via', gw6, 'dev', dev]);
    for (const r of listedRoutes) {
      if (typeof r.to !== 'string') continue;
      const via = typeof r.via === 'string' ? r.via : undefined;
      const fam = via ? (isV6(via) ? '-6' : '-4') : isV6(r.to) ? '-6' : '-4';
      const to = r.to === '0.0.0.0/0' || r.to === '::/0' ? 'default' : r.to;
      const cmd = ['ip', fam, 'route', 'add', to];
      if (via) cmd.push('via', via);
      cmd.push('dev', dev);
      if (r.metric !== undefined) cmd.push('metric', String(r.metric));
      if (r.table !== undefined) cmd.push('table', String(r.table));
      if (r['on-link'] === true) cmd.push('onlink');
      if (r.scope === 'link' || r.scope === 'host') cmd.push('scope', r.scope);
      routes.push(cmd);
    }
    if (isObj(cfg.nameservers)) {
      for (const a of strList(cfg.nameservers.addresses)) if (!nameservers.includes(a)) nameservers.push(a);
      for (const s of strList(cfg.nameservers.search)) if (!search.includes(s)) search.push(s);
    }
  }

  // Fallback DHCP: leased interfaces networkData does not mention.
  for (const [dev, lease] of Object.entries(dhcpLeases)) {
    if (configured.has(dev)) continue;
    link.push(['ip', 'link', 'set', 'dev', dev, 'up']);
    applyLease(dev, lease, { useRoutes: true, useMtu: true, hasGw: false, hasMtu: false });
  }
  // Links first, then addresses, then routes: a route's gateway must be on-link.
  return { commands: [...link, ...addrs, ...routes], nameservers, search };
}

/** Base resolv.conf plus netplan nameservers/search, the way systemd-resolved/NM would merge them. */
export function buildResolvConf(base: string, nameservers: string[], search: string[]): string {
  const lines = base.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
  const present = new Set(lines.filter((l) => l.startsWith('nameserver')).map((l) => l.split(/\s+/)[1]));
  for (const ns of nameservers) if (!present.has(ns)) lines.push(`nameserver ${ns}`);
  if (search.length) {
    const i = lines.findIndex((l) => l.startsWith('search '));
    if (i >= 0) {
      const have = lines[i].split(/\s+/).slice(1);
      lines[i] = `search ${[...have, ...search.filter((s) => !have.includes(s))].join(' ')}`;
    } else lines.push(`search ${search.join(' ')}`);
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}
