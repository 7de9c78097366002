// The memory copy of a live migration, with real bytes over TCP between the two nodes' virt-handler
// pod netns: the target's virt-handler listens (its migration proxy), the source's streams the VM's memory to it,
// paced to bandwidthPerMigration. Progress is what the target has received. The monitor aborts as
// virt-launcher's does (kubevirt/kubevirt pkg/virt-launcher/virtwrap/live-migration-source.go,
// migrationMonitor): no progress for progressTimeout s, or longer than completionTimeoutPerGiB
// times the data size in GiB (rounded up), each with its message.
import { rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { connectFrom } from '../fabric/connect.ts';
import { netnsPath, q, run, scratchDir, sh } from '../fabric/exec.ts';
import type { MigrationPlan, MigrationProgress } from './node-side.ts';

const GIB = 1024 ** 3;
const CHUNK = 256 * 1024;
const MONITOR_MS = 250;
const LISTEN_WAIT_MS = 5000;
let seq = 0;

/** The target's listener: socat in the target virt-handler's pod netns hands each received byte to us over a unix socket. */
export class MemoryReceiver {
  received = 0;
  private paused = false;
  private sockets = new Set<net.Socket>();

  private constructor(readonly port: number, private readonly server: net.Server, private readonly sock: string, private readonly pid: number | undefined) {}

  static async listen(netns: string, address: string, port: number): Promise<MemoryReceiver> {
    const sock = join(scratchDir(), `mig-${process.pid}-${++seq}.sock`);
    const server = net.createServer();
    await new Promise<void>((r, j) => { server.once('error', j); server.listen(sock, () => r()); });
    const r = await sh(`nsenter --net=${q(netnsPath(netns))} -- socat -u TCP4-LISTEN:${port},bind=${address},reuseaddr UNIX-CONNECT:${q(sock)} </dev/null >/dev/null 2>&1 &\necho $!`);
    const rx = new MemoryReceiver(port, server, sock, Number(r.stdout.trim()) || undefined);
    server.on('connection', (s) => {
      rx.sockets.add(s);
      if (rx.paused) s.pause();
      s.on('data', (d: Buffer) => { rx.received += d.length; });
      s.on('error', () => undefined);
      s.on('close', () => rx.sockets.delete(s));
    });
    // Bounded wait until the proxy listens, so the source's first connect is not refused.
    const deadline = Date.now() + LISTEN_WAIT_MS;
    while (Date.now() < deadline) {
      const out = (await run(['ss', '-Hltn'], { netns, allowFail: true })).stdout;
      if (out.includes(`${address}:${port} `)) return rx;
      await new Promise((res) => setTimeout(res, 20));
    }
    rx.close();
    throw new Error(`migration target proxy did not listen on ${address}:${port} within ${LISTEN_WAIT_MS} ms`);
  }

  /** Stop (or resume) reading: TCP's window then stalls the source (the migration-stalled fault). */
  setPaused(p: boolean): void {
    this.paused = p;
    for (const s of this.sockets) { if (p) s.pause(); else s.resume(); }
  }

  close(): void {
    if (this.pid) { try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ } }
    for (const s of this.sockets) s.destroy();
    this.server.close();
    rmSync(this.sock, { force: true });
  }
}

/** KubeVirt's abort reasons (live-migration-source.go). */
export const stuckReason = (s: number) => `Live migration stuck for ${s} seconds and has been aborted`;
export const notCompletedReason = (s: number) => `Live migration is not completed after ${s} seconds and has been aborted`;
export const ABORTED_REASON = 'Live migration aborted';

/**
 * Stream plan.memoryBytes from the source virt-handler pod netns to the receiver, paced; resolves when the
 * target has every byte, rejects with KubeVirt's reason otherwise.
 */
export async function copyMemory(
  sourceNetns: string, address: string, rx: MemoryReceiver, plan: MigrationPlan,
  onProgress: (p: MigrationProgress) => void, signal: AbortSignal, path: () => string | undefined,
): Promise<void> {
  const total = plan.memoryBytes;
  const completionS = plan.completionTimeoutPerGiB * Math.max(1, Math.ceil(total / GIB));
  const start = Date.now();
  let lastProgressAt = start;
  let lastReceived = rx.received;
  let lastReport = 0;
  const conn: Duplex = connectFrom(sourceNetns, address, rx.port);
  let failed: Error | undefined;
  let done!: () => void;
  let fail!: (e: Error) => void;
  const finished = new Promise<void>((res, rej) => { done = res; fail = rej; });
  const report = () => onProgress({ dataTotalBytes: total, dataProcessedBytes: Math.min(rx.received, total), dataRemainingBytes: Math.max(0, total - rx.received) });
  const stop = (e?: Error) => {
    if (failed) return;
    failed = e ?? new Error('done');
    clearInterval(monitor);
    conn.destroy();
    if (e) fail(e); else done();
  };
  conn.on('error', (e: Error) => stop(new Error(`Live migration failed ${e.message}`)));
  const onAbort = () => stop(new Error(ABORTED_REASON));
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) onAbort();
  const monitor = setInterval(() => {
    const now = Date.now();
    if (rx.received > lastReceived) { lastReceived = rx.received; lastProgressAt = now; }
    if (now - lastReport >= 500) { lastReport = now; report(); }
    if (rx.received >= total) { report(); stop(); return; }
    const stuck = (now - lastProgressAt) / 1000;
    if (plan.progressTimeoutS > 0 && stuck > plan.progressTimeoutS) {
      const where = path();
      stop(new Error(stuckReason(Math.floor(stuck)) + (where ? ` (${where})` : '')));
    } else if (completionS > 0 && (now - start) / 1000 > completionS) stop(new Error(notCompletedReason(completionS)));
  }, MONITOR_MS);
  // The sender: zero pages are still real bytes on the wire; pacing keeps sent/elapsed <= the bandwidth.
  const page = Buffer.alloc(CHUNK);
  void (async () => {
    let sent = 0;
    while (sent < total && !failed) {
      const n = Math.min(CHUNK, total - sent);
      if (plan.bandwidthBytesPerSec > 0) {
        const due = start + ((sent + n) / plan.bandwidthBytesPerSec) * 1000;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (failed) break;
      }
      const ok = conn.write(n === CHUNK ? page : page.subarray(0, n));
      sent += n;
      if (!ok) {
        await new Promise<void>((r) => {
          const go = () => { conn.off('drain', go); conn.off('close', go); r(); };
          conn.on('drain', go);
          conn.on('close', go);
        });
      }
    }
  })().catch((e: Error) => stop(e));
  try {
    await finished;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
