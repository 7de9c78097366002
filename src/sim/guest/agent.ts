// Guest agent building blocks (network apply, interface report), kept apart
// from main.ts so the sim and tests can import them without booting an agent.
import { execFile } from 'node:child_process';
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
    await run('ip', ['link', 'set', 'dev', 'lo', 'up']).catch(() => undefined);
    if (cfg.hostname) await run('hostname', [cfg.hostname]).catch(() => undefined); // only works with its own UTS ns
    for (const cmd of plan.commands) {
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

