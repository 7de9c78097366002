// What the host's network looks like, for before/after equality (run on the HOST).
import { run } from './exec.ts';

export interface HostSnapshot {
  links: string[];
  routes4: string;
  routes6: string;
  nft: string;
  netns: string;
}

async function text(cmd: string[]): Promise<string> {
  const r = await run(cmd, { allowFail: true });
  return r.code === 0 ? r.stdout.trim() : `(exit ${r.code}: ${r.stderr.trim()})`;
}

/** Link names, flags, MTU, state and master; no counters or addresses that move by themselves. */
function linkSummary(out: string): string[] {
  return out.split('\n').filter(Boolean).map((l) => {
    const m = /^\d+:\s+(\S+):\s+<([^>]*)>(.*)$/.exec(l);
    if (!m) return l;
    const keep = [...m[3].matchAll(/\b(mtu|state|master)\s+(\S+)/g)].map((x) => `${x[1]} ${x[2]}`);
    return `${m[1]} <${m[2]}> ${keep.join(' ')}`;
  }).sort();
}

export async function snapshotHost(): Promise<HostSnapshot> {
  const [links, routes4, routes6, nft, netns] = await Promise.all([
    text(['ip', '-o', 'link', 'show']),
    text(['ip', 'route', 'show', 'table', 'all']),
    text(['ip', '-6', 'route', 'show', 'table', 'all']),
    text(['nft', 'list', 'ruleset']),
    text(['ip', 'netns', 'list']),
  ]);
  return {
    links: linkSummary(links),
    routes4,
    routes6: routes6.replace(/ expires \d+sec/g, ''),
    nft,
    netns,
  };
}
