// Guest agent entry: plays the VM's OS inside the guest netns, in a root of its own (root.ts). Boot
// order as on a cloud image: cloud-init network → sshd → QEMU guest agent reports.
// Usage: node guest-agent.cjs [--warm]; the config arrives as one JSON line on stdin, reports leave
// as stdout lines (config.ts). With --warm the agent warms up first and says so (pool.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { generateKeyPair } from '../../guest/keys.ts';
import { WARM_LINE, normalizeGuestConfig, reportLine, type GuestConfig, type GuestInterfaceStatus, type GuestReady } from './config.ts';
import { applyNetwork, ipAddrJson, toStatus, type IpLink } from './agent.ts';
import { hashPasswords, inGuestRoot, writeBaseEtc, writeBootEtc } from './etc.ts';
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
}

/**
 * What a warm agent does before it has a VM (see pool.ts): write its base /etc, bring up lo, make
 * its host key and open sshd with nobody allowed in. The boot then only applies the network and
 * hands sshd the access list.
 */
async function warmUp(): Promise<Warm> {
  if (inGuestRoot()) writeBaseEtc();
  await new Promise<void>((resolve) => spawn('ip', ['link', 'set', 'dev', 'lo', 'up'], { stdio: 'ignore' }).on('exit', () => resolve()).on('error', () => resolve()));
  const hostKey = generateKeyPair('kvnet-guest-host').privateKey;
  const sshd = await startSshd({ hostKey, ...WARM_SSH, authorizedKeys: [], users: [] });
  return { hostKey, sshd };
}

/** The warm sshd serves this config when it fits (same port and listen address); else a new one starts. */
async function sshdFor(cfg: GuestConfig, warm: Warm | undefined): Promise<Sshd> {
  if (!warm) return startSshdFromConfig(cfg);
  if (cfg.sshPort === WARM_SSH.port && cfg.sshListen === WARM_SSH.listen) {
    warm.sshd.configure(accessFromConfig(cfg));
    return warm.sshd;
  }
  await warm.sshd.close();
  return startSshdFromConfig(cfg, warm.hostKey);
}

const send = (line: string): void => { process.stdout.write(line); };

async function main(): Promise<void> {
  const warm = process.argv.includes('--warm') ? await warmUp() : undefined;
  if (warm) send(`${WARM_LINE}\n`);
  const line = await firstLine(process.stdin);
  if (!line) {
    process.stderr.write('guest agent: no config on stdin (one JSON line)\n');
    process.exit(2);
  }
  // Milliseconds from the config's arrival to the end of each boot step, for diagnosing slow boots.
  const t0 = performance.now();
  const phasesMs: Record<string, number> = {};
  const phase = (name: string) => { phasesMs[name] = Math.round(performance.now() - t0); };
  const cfg = normalizeGuestConfig(JSON.parse(line));

  const own = inGuestRoot();
  if (own) writeBootEtc(cfg.hostname, cfg.users, cfg.defaultUser);
  const net = await applyNetwork(cfg, own ? (content) => writeFileSync('/etc/resolv.conf', content) : undefined);
  phase('network');
  for (const e of net.errors) process.stderr.write(`guest ${cfg.namespace}/${cfg.name}: ${e.command.join(' ')}: ${e.error}\n`);
  const sshd = await sshdFor(cfg, warm);
  phase('sshd');

  let last = '';
  let refreshing = false;
  const report = (links: IpLink[]): void => {
    const interfaces: GuestInterfaceStatus[] = toStatus(links);
    const s = JSON.stringify(interfaces);
    if (s !== last) {
      last = s;
      send(reportLine({ t: 'status', interfaces }));
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
    resolvConf: net.resolvConf,
    networkErrors: net.errors,
    interfaces: links,
    phasesMs,
  };
  send(reportLine({ t: 'ready', ready }));
  if (own) void hashPasswords(cfg.users, cfg.defaultUser).catch(() => undefined);

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
    // Open SSH sessions would keep close() pending; the VM is powering off anyway.
    setTimeout(() => process.exit(0), 100).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

// A guest OS does not power off because one session misbehaved: log and keep serving.
process.on('uncaughtException', (e) => process.stderr.write(`guest agent: uncaught: ${e.stack ?? String(e)}\n`));
// The reader of our reports went away: nothing left to report to.
process.stdout.on('error', () => undefined);

main().catch((e: unknown) => {
  process.stderr.write(`guest agent: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
