// Guest agent building blocks (network apply, interface report), kept apart
// from main.ts so the sim and tests can import them without booting an agent.
import { execFile, spawn } from 'node:child_process';
import { readlinkSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { GuestConfig, GuestInterfaceStatus, GuestReady } from './config.ts';
import { parseNetplan, buildResolvConf } from './cloud-init.ts';

const run = promisify(execFile);

export interface IpAddrInfo { family: string; local: string; prefixlen: number; scope: string }
export interface IpLink { ifname: string; address?: string; mtu: number; operstate: string; addr_info?: IpAddrInfo[] }

export function writeAtomic(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path); // readers never see a half-written file
}

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

/** Where the guest's resolv.conf is written (beside its status file). */
export function resolvConfPathFor(cfg: GuestConfig): string {
  return join(dirname(cfg.statusFile), 'resolv.conf');
}

/**
 * Applies cloud-init's network plan. `alongside` runs concurrently once resolv.conf is written
 * (the sim binds it over /etc/resolv.conf meanwhile): each spawn here costs tens of ms on a busy
 * machine, and they are independent.
 */
export async function applyNetwork(cfg: GuestConfig, alongside?: (resolvConfPath: string) => Promise<unknown>): Promise<{ resolvConfPath: string; errors: GuestReady['networkErrors']; links?: IpLink[] }> {
  const plan = parseNetplan(cfg.networkData, cfg.dhcpLeases, cfg.defaultInterfaces);
  const errors: GuestReady['networkErrors'] = [];
  const resolvConfPath = resolvConfPathFor(cfg);
  writeAtomic(resolvConfPath, buildResolvConf(cfg.resolvConf, plan.nameservers, plan.search));
  const jobs: Promise<unknown>[] = [alongside?.(resolvConfPath) ?? Promise.resolve()];
  let links: IpLink[] | undefined;
  if (!cfg.skipNetwork) {
    // sethostname(2) without a spawn, and only in a UTS namespace of our own: never the host's.
    if (cfg.hostname && ownUtsNamespace()) { try { writeFileSync('/proc/sys/kernel/hostname', cfg.hostname); } catch { /* not ours to set */ } }
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
  return { resolvConfPath, errors, links };
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
