// Which source address a peer sees for a TCP connection from `from` (SNAT / egress checks).
import { startBackground } from './background.ts';
import { shellLine } from '../guest/os.ts';
import { excerpt, isIpv6Literal, socatHost, type Exec } from './target.ts';

export interface EgressSourceResult {
  /** Normalized: no brackets, IPv6 compressed, IPv4-mapped IPv6 shown as IPv4. */
  sourceAddress: string;
  /** What socat reported in $SOCAT_PEERADDR. */
  raw: string;
  command: string;
  tool: 'socat';
}

/**
 * Starts a one-connection socat listener on `peer` that answers with $SOCAT_PEERADDR,
 * connects from `from` to peerAddr:port, and always stops the listener.
 * Throws when the connection or listener fails (nothing was measured).
 */
export async function egressSource(from: Exec, peer: Exec, peerAddr: string, port: number, opts: { timeoutMs?: number } = {}): Promise<EgressSourceResult> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const t = (timeoutMs / 1000).toFixed(3);
  // Listen in the peer address's family so v4 peers are not reported as ::ffff:a.b.c.d.
  const listen = isIpv6Literal(peerAddr) ? `TCP6-LISTEN:${port},ipv6only=1,reuseaddr` : `TCP4-LISTEN:${port},reuseaddr`;
  const bg = await startBackground(peer, shellLine(['socat', '-T', t, listen, 'SYSTEM:echo $SOCAT_PEERADDR']), { port, proto: 'tcp' });
  const command = shellLine(['socat', '-T', t, '-u', `TCP:${socatHost(peerAddr)}:${port},connect-timeout=${t}`, 'STDOUT']);
  try {
    const r = await from.exec(command, { timeoutMs: timeoutMs + 10_000 });
    const raw = r.stdout.trim();
    if (r.code !== 0 || !raw) throw new Error(`egressSource: '${command}' exited ${r.code}: ${excerpt(r.stderr || r.stdout) || 'no reply'}`);
    return { sourceAddress: normalizeAddress(raw), raw, command, tool: 'socat' };
  } finally {
    await bg.stop();
  }
}

/** "[0000:...:0001]" → "::1"; "::ffff:7f00:1" → "127.0.0.1"; IPv4 unchanged. */
export function normalizeAddress(addr: string): string {
  const bare = addr.trim().replace(/^\[|\]$/g, '');
  if (!bare.includes(':')) return bare;
  // The WHATWG URL parser prints IPv6 in canonical compressed form.
  const v6 = new URL(`http://[${bare}]/`).hostname.replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
  if (mapped) {
    const hi = parseInt(mapped[1], 16);
    const lo = parseInt(mapped[2], 16);
    return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
  }
  return v6;
}
