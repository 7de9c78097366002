// Guest agent building blocks (network apply, interface report), kept apart
// from main.ts so the sim and tests can import them without booting an agent.
import { execFile, spawn } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
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

export async function applyNetwork(cfg: GuestConfig): Promise<{ resolvConfPath: string; errors: GuestReady['networkErrors'] }> {
  const plan = parseNetplan(cfg.networkData, cfg.dhcpLeases, cfg.defaultInterfaces);
  const errors: GuestReady['networkErrors'] = [];
  if (!cfg.skipNetwork) {
    if (cfg.hostname) await run('hostname', [cfg.hostname]).catch(() => undefined); // only works with its own UTS ns
    // Two `ip -batch` runs (IPv4/any, then IPv6) for the whole plan: a spawn per command made boots slow.
    // Batch lines take no family flag, so the family goes on the batch; -force keeps going and names failed lines.
    const ipCmds = [['ip', 'link', 'set', 'dev', 'lo', 'up'], ...plan.commands.filter((c) => c[0] === 'ip')];
    const others = plan.commands.filter((c) => c[0] !== 'ip');
    for (const v6 of [false, true]) {
      const group = ipCmds.filter((c) => (c[1] === '-6') === v6);
      if (!group.length) continue;
      const res = await runBatch(v6 ? ['-6'] : [], group.map((c) => c.slice(c[1] === '-6' || c[1] === '-4' ? 2 : 1).join(' ')));
      const detail = res.split('\n').filter((l) => l && !l.startsWith('Command failed')).join('; ').trim() || 'failed';
      for (const m of res.matchAll(/Command failed -:(\d+)/g)) errors.push({ command: group[Number(m[1]) - 1], error: detail });
    }
    for (const cmd of others) {
      try {
        await run(cmd[0], cmd.slice(1));
      } catch (e) {
        const err = e as { stderr?: string; message: string };
        errors.push({ command: cmd, error: (err.stderr || err.message).trim() });
      }
    }
  }
  const resolvConfPath = join(dirname(cfg.statusFile), 'resolv.conf');
  writeAtomic(resolvConfPath, buildResolvConf(cfg.resolvConf, plan.nameservers, plan.search));
  return { resolvConfPath, errors };
}


/** `ip -force -batch -`; resolves with stderr (empty when every line applied). */
function runBatch(flags: string[], lines: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('ip', [...flags, '-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('close', () => resolve(err));
    child.on('error', (e) => resolve(`Command failed -:1\n${e.message}`));
    child.stdin.end(`${lines.join('\n')}\n`);
  });
}
