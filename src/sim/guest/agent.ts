// Guest agent building blocks (network apply, interface report), kept apart
// from main.ts so the sim and tests can import them without booting an agent.
import { execFile, spawn } from 'node:child_process';
import { readlinkSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { GuestConfig, GuestInterfaceStatus, GuestReady } from './config.ts';
import { parseNetplan, buildResolvConf } from './cloud-init.ts';
import { inGuestRoot } from './etc.ts';

const run = promisify(execFile);

export interface IpAddrInfo { family: string; local: string; prefixlen: number; scope: string }
export interface IpLink { ifname: string; address?: string; mtu: number; operstate: string; addr_info?: IpAddrInfo[] }

export async function ipAddrJson(): Promise<IpLink[]> {
  const { stdout } = await run('ip', ['-j', 'addr', 'show']);
  return JSON.parse(stdout) as IpLink[];
}

/** The guest-agent interface report; link-local and lo are left out, as KubeVirt does. */
export function toStatus(links: IpLink[]): GuestInterfaceStatus[] {
  return links
    .filter((l) => l.ifname !== 'lo')
    .map((l) => ({
      interfaceName: l.ifname,
      mac: l.address ?? '',
      ipAddresses: (l.addr_info ?? []).filter((a) => a.scope !== 'link' && a.scope !== 'host').map((a) => `${a.local}/${a.prefixlen}`),
      mtu: l.mtu,
      state: l.operstate,
    }));
}

function ownUtsNamespace(): boolean {
  try {
    return readlinkSync('/proc/self/ns/uts') !== readlinkSync('/proc/1/ns/uts');
  } catch {
    return false;
  }
}

/**
 * Applies cloud-init's network plan; `writeResolv` gets the guest's resolv.conf (the agent writes
 * /etc/resolv.conf of its own root).
 */
export async function applyNetwork(cfg: GuestConfig, writeResolv?: (content: string) => void): Promise<{ resolvConf: string; errors: GuestReady['networkErrors']; links?: IpLink[] }> {
  const plan = parseNetplan(cfg.networkData, cfg.dhcpLeases, cfg.defaultInterfaces);
  const errors: GuestReady['networkErrors'] = [];
  const resolvConf = buildResolvConf(cfg.resolvConf, plan.nameservers, plan.search);
  writeResolv?.(resolvConf);
  const jobs: Promise<unknown>[] = [];
  let links: IpLink[] | undefined;
  if (!cfg.skipNetwork) {
    // sethostname(2) without a spawn, and only in a UTS namespace of our own (a guest root always has one): never the host's.
    if (cfg.hostname && (inGuestRoot() || ownUtsNamespace())) { try { writeFileSync('/proc/sys/kernel/hostname', cfg.hostname); } catch { /* not ours to set */ } }
    jobs.push((async () => {
      // The whole plan in one `ip -batch`, in order, ending with the address report the agent
      // needs next; -force keeps going and names the failed lines.
      const group = [['ip', 'link', 'set', 'dev', 'lo', 'up'], ...plan.commands];
      const res = await runBatch(['-j'], [...group.map(batchLine), 'addr show']);
      const detail = res.stderr.split('\n').filter((l) => l && !l.startsWith('Command failed')).join('; ').trim() || 'failed';
      for (const m of res.stderr.matchAll(/Command failed -:(\d+)/g)) {
        const cmd = group[Number(m[1]) - 1];
        if (cmd) errors.push({ command: cmd, error: detail });
      }
      try { links = JSON.parse(res.stdout) as IpLink[]; } catch { /* the caller asks again */ }
    })());
  }
  await Promise.all(jobs);
  return { resolvConf, errors, links };
}

/**
 * An `ip` command as a batch line. Batch lines take no family flag, and addresses carry their
 * own family, so the flag only matters for `default`, which becomes the family's any-route.
 */
export function batchLine(cmd: string[]): string {
  const fam = cmd[1] === '-6' || cmd[1] === '-4' ? cmd[1] : undefined;
  const args = cmd.slice(fam ? 2 : 1);
  if (fam && args[0] === 'route') {
    const i = args.indexOf('default');
    if (i > 0) args[i] = fam === '-6' ? '::/0' : '0.0.0.0/0';
  }
  return args.join(' ');
}


/** `ip [flags] -force -batch -`; stdout is what the batch printed, stderr names failed lines. */
function runBatch(flags: string[], lines: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('ip', [...flags, '-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', () => resolve({ stdout, stderr }));
    child.on('error', (e) => resolve({ stdout, stderr: `Command failed -:1\n${e.message}` }));
    child.stdin.end(`${lines.join('\n')}\n`);
  });
}
