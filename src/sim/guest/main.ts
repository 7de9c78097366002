// Guest agent entry: plays the VM's OS inside the guest netns. Boot order as on
// a cloud image: cloud-init network → sshd → QEMU guest agent reports.
// Usage: node --import tsx src/sim/guest/main.ts <config.json>
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateKeyPair } from '../../guest/keys.ts';
import { WARM_LINE, loadGuestConfig, type GuestConfig, type GuestReady } from './config.ts';
import { applyNetwork, ipAddrJson, toStatus, writeAtomic, type IpLink } from './agent.ts';
import { accessFromConfig, startSshd, startSshdFromConfig, type Sshd } from './sshd.ts';


function firstLine(input: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const done = () => resolve(buf.split('\n')[0].trim());
    input.setEncoding('utf8');
    input.on('data', (d: string) => { buf += d; if (buf.includes('\n')) done(); });
    input.on('end', done);
  });
}

/** Where a warm agent's sshd listens: what virt-handler's configs ask for. */
const WARM_SSH = { port: 22, listen: '::' } as const;

interface Warm {
  hostKey: string;
  sshd: Sshd;
  /** The file bound over /etc/resolv.conf, when the sim gave us a mount namespace. */
  resolvConf?: string;
}

function bindMount(source: string, target: string): Promise<boolean> {
  return new Promise((resolve) => {
    spawn('mount', ['--bind', source, target], { stdio: 'ignore' }).on('exit', (code) => resolve(code === 0)).on('error', () => resolve(false));
  });
}

/**
 * What a warm agent does before it has a VM (see pool.ts): bind its own resolv.conf, bring up lo,
 * make its host key and open sshd with nobody allowed in. The boot then only applies the network
 * and hands sshd the access list.
 */
async function warmUp(): Promise<Warm> {
  let resolvConf: string | undefined;
  if (process.env.KVNET_GUEST_BIND_RESOLV === '1') {
    resolvConf = `/run/kvnet-guest-${process.pid}.resolv.conf`;
    writeFileSync(resolvConf, '');
    if (!(await bindMount(resolvConf, '/etc/resolv.conf'))) resolvConf = undefined;
  }
  await new Promise<void>((resolve) => spawn('ip', ['link', 'set', 'dev', 'lo', 'up'], { stdio: 'ignore' }).on('exit', () => resolve()).on('error', () => resolve()));
  const hostKey = generateKeyPair('kvnet-guest-host').privateKey;
  const sshd = await startSshd({ hostKey, ...WARM_SSH, authorizedKeys: [], users: [] });
  return { hostKey, sshd, resolvConf };
}

/** The warm sshd serves this config when it fits (same port and listen address); else a new one starts. */
async function sshdFor(cfg: GuestConfig, warm: Warm | undefined): Promise<Sshd> {
  if (!warm) return startSshdFromConfig(cfg);
  if (cfg.sshPort === WARM_SSH.port && cfg.sshListen === WARM_SSH.listen && !existsSync(cfg.hostKeyPath)) {
    mkdirSync(dirname(cfg.hostKeyPath), { recursive: true });
    writeFileSync(cfg.hostKeyPath, warm.hostKey, { mode: 0o600 }); // persisted, as the host key of a real image is
    warm.sshd.configure(accessFromConfig(cfg));
    return warm.sshd;
  }
  await warm.sshd.close();
  return startSshdFromConfig(cfg);
}

async function main(): Promise<void> {
  // A warm agent (see pool.ts) is started before its VM exists and reads its config path from stdin.
  const fromStdin = process.argv[2] === '--config-from-stdin';
  const warm = fromStdin ? await warmUp() : undefined;
  if (warm) process.stdout.write(`${WARM_LINE}\n`);
  const path = fromStdin ? await firstLine(process.stdin) : process.argv[2];
  if (!path) {
    process.stderr.write('usage: main.ts <guest-config.json> | --config-from-stdin\n');
    process.exit(2);
  }
  // Milliseconds from the config's arrival to the end of each boot step, for diagnosing slow boots.
  const t0 = performance.now();
  const phasesMs: Record<string, number> = {};
  const phase = (name: string) => { phasesMs[name] = Math.round(performance.now() - t0); };
  const cfg = loadGuestConfig(path);
  for (const f of [cfg.statusFile, cfg.readyFile]) mkdirSync(dirname(f), { recursive: true });

  // The sim starts us in a mount namespace of our own, so the guest's resolver is its own file:
  // bound at warm-up, filled in place now (a rename would replace the bound inode).
  const fillResolv = warm?.resolvConf
    ? async (path: string) => { writeFileSync(warm.resolvConf as string, readFileSync(path)); }
    : process.env.KVNET_GUEST_BIND_RESOLV === '1' ? (path: string) => bindMount(path, '/etc/resolv.conf') : undefined;
  const net = await applyNetwork(cfg, fillResolv);
  phase('network');
  for (const e of net.errors) process.stderr.write(`guest ${cfg.namespace}/${cfg.name}: ${e.command.join(' ')}: ${e.error}\n`);
  const sshd = await sshdFor(cfg, warm);
  phase('sshd');

  let last = '';
  let refreshing = false;
  const report = (links: IpLink[]): void => {
    const s = JSON.stringify(toStatus(links));
    if (s !== last) {
      last = s;
      writeAtomic(cfg.statusFile, s + '\n');
    }
  };
  const refresh = async (): Promise<IpLink[] | undefined> => {
    if (refreshing) return undefined;
    refreshing = true;
    try {
      const links = await ipAddrJson();
      report(links);
      return links;
    } catch { /* transient (e.g. during a rename); next tick retries */ } finally {
      refreshing = false;
    }
  };
  // The network step already read the addresses back; ask again only when it could not.
  const links = net.links ?? (await ipAddrJson().catch(() => []));
  report(links);
  phase('report');
  const ready: GuestReady = {
    time: new Date().toISOString(),
    pid: process.pid,
    startupMs: Math.round(performance.now()), // performance.now() counts from process start,
    sshPort: sshd.port,
    resolvConfPath: net.resolvConfPath,
    networkErrors: net.errors,
    interfaces: links,
    phasesMs,
  };
  writeAtomic(cfg.readyFile, JSON.stringify(ready) + '\n');

  // `ip monitor` below reports changes as they happen; the timer is only a safety net, and slow:
  // a once-a-second `ip` spawn in every guest was most of an idle sim's CPU with twenty VMs up.
  const timer = setInterval(() => void refresh(), 10_000);
  // Refresh on change, so status.interfaces follows hot-plug/readdress quickly.
  let monitor: ChildProcess | undefined = spawn('ip', ['monitor', 'address', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let debounce: NodeJS.Timeout | undefined;
  monitor.stdout?.on('data', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => void refresh(), 50);
  });
  monitor.on('error', () => { monitor = undefined; });

  const stop = (): void => {
    clearInterval(timer);
    clearTimeout(debounce);
    monitor?.kill();
    void sshd.close();
    if (warm?.resolvConf) rmSync(warm.resolvConf, { force: true });
    // Open SSH sessions would keep close() pending; the VM is powering off anyway.
    setTimeout(() => process.exit(0), 100).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

// A guest OS does not power off because one session misbehaved: log and keep serving.
process.on('uncaughtException', (e) => process.stderr.write(`guest agent: uncaught: ${e.stack ?? String(e)}\n`));

main().catch((e: unknown) => {
  process.stderr.write(`guest agent: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
