// What a probe runs commands on. `Guest` satisfies it structurally; tests pass a fake.
// Never import src/sim here: probes must run unchanged against a real cluster.

export interface ExecResultLike {
  stdout: string;
  stderr: string;
  /** null when the command died from a signal. */
  code: number | null;
}

export interface Exec {
  exec(cmd: string, opts?: { timeoutMs?: number }): Promise<ExecResultLike>;
  readonly id?: string;
}

/** The target a probe runs on (a Guest, or anything with the same exec). */
export type ProbeTarget = Exec;

export type IpFamily = 4 | 6;

/**
 * POSIX single-quote a word for sh (always quoted).
 * @deprecated build argv and use `shellLine` (src/guest/os.ts), the one quoting function.
 */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * `cmd` with its output held in the target until it exits, then printed; the exit status is kept.
 * Streamed, every output line is an SSH message sent in the middle of the measurement it reports.
 */
export function heldOutput(cmd: string): string {
  return `o=$(mktemp) && e=$(mktemp) || exit 125; ${cmd} >"$o" 2>"$e"; rc=$?; cat "$o"; cat "$e" >&2; rm -f "$o" "$e"; exit $rc`;
}

export function isIpv6Literal(host: string): boolean {
  return host.replace(/^\[|\]$/g, '').includes(':');
}

/** socat needs IPv6 literals in brackets (`TCP:[fd00::1]:80`). */
export function socatHost(host: string): string {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare.includes(':') ? `[${bare}]` : bare;
}

export function targetName(t: Exec): string {
  return t.id ?? 'target';
}

/** Trimmed, length-capped text for error messages. */
export function excerpt(s: string, max = 1500): string {
  const t = s.trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}
