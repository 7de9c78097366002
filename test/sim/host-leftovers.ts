// What a run may leave on the host, read from the host: files in /tmp, processes in a sandbox's
// pid namespace, and zombies among them.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * What the project's code puts in /tmp: probe logs and responder files written in guests (while
 * guests share the host's /tmp), named after the harness process that ran the probe, and mktemp
 * files (`tmp.XXXXXXXXXX`, the probes' held output).
 */
const OURS = /^(kvnet-(probe|resp)-\d+-(\d+)-|tmp\.)/;

export function tmpEntries(): Set<string> {
  return new Set(readdirSync('/tmp').filter((e) => OURS.test(e)));
}

/**
 * Entries of ours in /tmp that were not there `before`, made by one of `pids` (when the name says
 * which process made it), and still there after `settleMs`. Other self-tests run at the same time on
 * this host: their short-lived temp files are gone by then, and their probes' files name their pids.
 */
export async function newTmpEntries(before: Set<string>, pids: Iterable<number>, settleMs = 3000): Promise<string[]> {
  const by = new Set([...pids].map(String));
  const fresh = () => [...tmpEntries()].filter((e) => {
    const pid = OURS.exec(e)?.[3];
    return !before.has(e) && (pid === undefined || by.has(pid));
  });
  const end = Date.now() + settleMs;
  let left = fresh();
  while (left.length && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 250));
    left = fresh().filter((e) => left.includes(e));
  }
  return left;
}

/** Compile caches that Playwright and tsx keep in the temp dir on purpose, for every later run. */
const CACHES = /^(playwright-transform-cache|tsx)-\d+$/;

/** What is left in `dir` (a run's private TMPDIR) besides the compile caches. */
export function leftIn(dir: string): string[] {
  try {
    return readdirSync(dir).filter((e) => !CACHES.test(e));
  } catch {
    return [];
  }
}

function pids(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export function cmdline(pid: number): string {
  return read(`/proc/${pid}/cmdline`).split('\0').join(' ').trim();
}

/** Host pids in process group `pgid`. */
export function processGroup(pgid: number): number[] {
  return states(pids()).filter((p) => p.pgrp === pgid).map((p) => p.pid);
}

/** Host pids whose command line contains `marker`. */
export function processesWith(marker: string): number[] {
  return pids().filter((p) => p !== process.pid && cmdline(p).includes(marker));
}

/** The pid namespace (as `pid:[inode]`) of a process, or '' when it is gone. */
export function pidNamespace(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return '';
  }
}

/** Host pids in the pid namespace `ns`. */
export function processesIn(ns: string): number[] {
  return pids().filter((p) => pidNamespace(p) === ns);
}

export interface ProcState { pid: number; state: string; comm: string; ppid: number; pgrp: number }

/** State (R, S, Z, ...), name and parent of each host pid given, from /proc/PID/stat. */
export function states(of: number[]): ProcState[] {
  const out: ProcState[] = [];
  for (const pid of of) {
    const stat = read(`/proc/${pid}/stat`);
    // comm is in parentheses and may hold spaces or parentheses itself: split after the last ')'.
    const close = stat.lastIndexOf(')');
    if (close < 0) continue;
    const [state, ppid, pgrp] = stat.slice(close + 2).split(' ');
    out.push({ pid, state, comm: stat.slice(stat.indexOf('(') + 1, close), ppid: Number(ppid), pgrp: Number(pgrp) });
  }
  return out;
}

/** The sandbox of the sim whose state dir contains `marker`: its pid 1 (tini) seen from the host. */
export function sandboxInit(marker: string): number | undefined {
  return processesWith(marker).find((p) => cmdline(p).startsWith('tini '));
}
