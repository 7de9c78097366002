// Guest agent entry: plays the VM's OS inside the guest netns. Boot order as on
// a cloud image: cloud-init network → sshd → QEMU guest agent reports.
// Usage: node --import tsx src/sim/guest/main.ts <config.json>
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadGuestConfig, type GuestReady } from './config.ts';
import { applyNetwork, ipAddrJson, toStatus, writeAtomic } from './agent.ts';
import { startSshdFromConfig, type Sshd } from './sshd.ts';


function firstLine(input: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const done = () => resolve(buf.split('\n')[0].trim());
    input.setEncoding('utf8');
    input.on('data', (d: string) => { buf += d; if (buf.includes('\n')) done(); });
    input.on('end', done);
  });
}

async function main(): Promise<void> {
  // A warm agent (see pool.ts) is started before its VM exists and reads its config path from stdin.
  const path = process.argv[2] === '--config-from-stdin' ? await firstLine(process.stdin) : process.argv[2];
  if (!path) {
    process.stderr.write('usage: main.ts <guest-config.json> | --config-from-stdin\n');
    process.exit(2);
  }
  const cfg = loadGuestConfig(path);
  for (const f of [cfg.statusFile, cfg.readyFile]) mkdirSync(dirname(f), { recursive: true });

  const net = await applyNetwork(cfg);
  if (process.env.KVNET_GUEST_BIND_RESOLV === '1') {
    // The sim starts us in a mount namespace of our own, so the guest's resolver is its own file.
    await new Promise<void>((resolve) => {
      spawn('mount', ['--bind', net.resolvConfPath, '/etc/resolv.conf'], { stdio: 'ignore' }).on('exit', () => resolve()).on('error', () => resolve());
    });
  }
  for (const e of net.errors) process.stderr.write(`guest ${cfg.namespace}/${cfg.name}: ${e.command.join(' ')}: ${e.error}\n`);
  const sshd: Sshd = await startSshdFromConfig(cfg);

  let last = '';
  let refreshing = false;
  const refresh = async (): Promise<void> => {
    if (refreshing) return;
    refreshing = true;
    try {
      const s = JSON.stringify(toStatus(await ipAddrJson()));
      if (s !== last) {
        last = s;
        writeAtomic(cfg.statusFile, s + '\n');
      }
    } catch { /* transient (e.g. during a rename); next tick retries */ } finally {
      refreshing = false;
    }
  };
  await refresh();
  const links = await ipAddrJson().catch(() => []);
  const ready: GuestReady = {
    time: new Date().toISOString(),
    pid: process.pid,
    startupMs: Math.round(performance.now()), // performance.now() counts from process start,
    sshPort: sshd.port,
    resolvConfPath: net.resolvConfPath,
    networkErrors: net.errors,
    interfaces: links,
  };
  writeAtomic(cfg.readyFile, JSON.stringify(ready, null, 2) + '\n');

  const timer = setInterval(() => void refresh(), 1000);
  // Refresh on change too, so status.interfaces follows hot-plug/readdress quickly.
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

main().catch((e: unknown) => {
  process.stderr.write(`guest agent: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
