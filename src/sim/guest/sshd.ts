// The guest's sshd: an ssh2 Server that checks the keys cloud-init /
// accessCredentials put in the VM and runs commands with the machine's own
// tools. The agent runs inside the guest netns, so every child does too.
import { generateKeyPair } from '../../guest/keys.ts';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import ssh2 from 'ssh2';
import type { AuthenticationType, Connection, ParsedKey, ServerChannel } from 'ssh2';
import type { GuestConfig, GuestUser } from './config.ts';
import { GUEST_PATH } from './root.ts';

const { Server, utils } = ssh2;

/** Who may log in, and the session environment: set at boot from cloud-init, changeable later. */
export interface SshdAccess {
  /** The default user's keys (see GuestConfig.authorizedKeys). */
  authorizedKeys: string[];
  defaultUser?: string;
  users: GuestUser[];
  /** PasswordAuthentication (default no). */
  passwordAuth?: boolean;
  /** cloud-init disable_root (default true). */
  disableRoot?: boolean;
  hostname?: string;
  /** Extra env for sessions (e.g. HOSTNAME). */
  env?: Record<string, string>;
}

export interface SshdOptions extends SshdAccess {
  /** An ed25519 private key (OpenSSH format) to serve; made when absent. */
  hostKey?: string;
  port: number;
  listen: string;
}

export interface Sshd {
  port: number;
  /** Replace who may log in; sessions already open keep running. */
  configure(access: SshdAccess): void;
  close(): Promise<void>;
}

/**
 * Capabilities a guest shell does not get (dropped from the bounding set): with them a uid 0 in the
 * sim's user namespace could mount, read any file, trace the agent or load modules. NET_ADMIN and
 * NET_RAW stay: guests run ip, nft and ping.
 */
export const DROPPED_CAPS = ['sys_admin', 'dac_read_search', 'sys_ptrace', 'sys_module', 'sys_rawio'];
const SESSION_WRAPPER = ['setpriv', '--bounding-set', DROPPED_CAPS.map((c) => `-${c}`).join(','), '--'];

/** What cloud-init's disable_root puts before the default user's keys in root's authorized_keys (cloudinit/ssh_util.py DISABLE_USER_OPTS). */
const disableRootCommand = (defaultUser: string): string =>
  `echo 'Please login as the user "${defaultUser}" rather than the user "root".';echo;sleep 10;exit 142`;

function parsePublicKeys(lines: string[]): ParsedKey[] {
  const out: ParsedKey[] = [];
  for (const line of lines) {
    // authorized_keys lines may carry options before the key type; find the key token.
    const m = /((?:ssh|ecdsa|sk)-[\w@.-]+)\s+([A-Za-z0-9+/=]+)/.exec(line);
    if (!m) continue;
    const k = utils.parseKey(`${m[1]} ${m[2]}`);
    if (k instanceof Error) continue;
    out.push(...(Array.isArray(k) ? (k as ParsedKey[]) : [k]));
  }
  return out;
}

const eqBuf = (a: Buffer, b: Buffer): boolean => a.length === b.length && timingSafeEqual(a, b);

/** Verify a crypt(3) hash with openssl (no crypt in Node); false if unsupported. */
function verifyHash(password: string, hash: string): Promise<boolean> {
  const m = /^\$(1|5|6)\$([^$]+)\$/.exec(hash);
  if (!m) return Promise.resolve(false);
  return new Promise((resolve) => {
    execFile('openssl', ['passwd', `-${m[1]}`, '-salt', m[2], '-stdin'], (err, stdout) => resolve(!err && stdout.trim() === hash))
      .stdin?.end(password + '\n');
  });
}

const SIGNALS = new Set(['ABRT', 'ALRM', 'FPE', 'HUP', 'ILL', 'INT', 'KILL', 'PIPE', 'QUIT', 'SEGV', 'TERM', 'USR1', 'USR2']);

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, sig); // the whole group: `sh -c 'sleep 100'` must die too
  } catch {
    try { child.kill(sig); } catch { /* already gone */ }
  }
}

/** Run a command on a channel: streams both ways, then reports exit status or signal. */
function runOnChannel(channel: ServerChannel, command: string[], env: NodeJS.ProcessEnv, mergeStderr: boolean): ChildProcess {
  const argv = [...SESSION_WRAPPER, ...command];
  const child = spawn(argv[0], argv.slice(1), { env, cwd: env.HOME && existsSync(env.HOME) ? env.HOME : '/', detached: true, stdio: 'pipe' });
  let done = false;
  child.stdout.pipe(channel, { end: false });
  child.stderr.pipe(mergeStderr ? channel : channel.stderr, { end: false });
  channel.pipe(child.stdin);
  child.stdin.on('error', () => { /* EPIPE when the command ignores stdin */ });
  channel.on('error', () => killGroup(child, 'SIGKILL'));
  channel.on('close', () => { if (!done) killGroup(child, 'SIGKILL'); });
  child.on('error', (err) => {
    if (done) return;
    done = true;
    channel.stderr.write(`sh: ${err.message}\n`);
    channel.exit(127);
    channel.end();
  });
  // 'close' fires after stdout/stderr are drained, so no output is lost before exit-status.
  child.on('close', (code, signal) => {
    if (done) return;
    done = true;
    if (signal) channel.exit(signal.replace(/^SIG/, ''), false, '');
    else channel.exit(code ?? 0);
    channel.end();
  });
  return child;
}

export async function startSshd(opts: SshdOptions): Promise<Sshd> {
  const hostKey = opts.hostKey ?? generateKeyPair('kvnet-guest-host').privateKey;
  let access = compileAccess(opts);

  const server = new Server({ hostKeys: [hostKey], ident: 'OpenSSH_9.6 kvnet-guest' }, (client: Connection) => {
    let username = 'root';
    (client as Connection & { setNoDelay(on: boolean): void }).setNoDelay(true); // interactive request/response: Nagle + delayed ACK would add ~40 ms per exec
    client.on('error', () => { /* client vanished; nothing to report */ });
    // Set when root logs in with a key cloud-init gave the default user (disable_root).
    let forcedCommand: string | undefined;
    client.on('authentication', (ctx) => {
      username = ctx.username;
      // The access list of this moment: a login racing the boot sees cloud-init's keys once they are in.
      const { userKeys, rootRestricted, users, passwordAuth, defaultUser } = access;
      const methods: AuthenticationType[] = passwordAuth ? ['publickey', 'password'] : ['publickey'];
      if (ctx.method === 'publickey') {
        // As sshd: only the keys in this user's authorized_keys.
        const find = (candidates: ParsedKey[]) => candidates.find((k) => k.type === ctx.key.algo && eqBuf(k.getPublicSSH(), ctx.key.data))
          ?? candidates.find((k) => eqBuf(k.getPublicSSH(), ctx.key.data)); // rsa-sha2-* algo names differ from key type
        let key = find(userKeys.get(ctx.username) ?? []);
        let forced: string | undefined;
        if (!key && ctx.username === 'root') {
          key = find(rootRestricted);
          if (key) forced = disableRootCommand(defaultUser);
        }
        if (!key) return ctx.reject(methods);
        if (!ctx.signature) return ctx.accept(); // "would this key be accepted?" probe
        if (ctx.blob && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) { forcedCommand = forced; return ctx.accept(); }
        return ctx.reject(methods);
      }
      if (ctx.method === 'password' && passwordAuth) {
        const u = users.get(ctx.username);
        if (u?.locked) return ctx.reject(methods);
        if (u?.password !== undefined && ctx.password === u.password) return ctx.accept();
        if (u?.passwordHash) {
          void verifyHash(ctx.password, u.passwordHash).then((ok) => (ok ? ctx.accept() : ctx.reject(methods)));
          return;
        }
      }
      ctx.reject(methods);
    });

    client.on('ready', () => {
      const { hostname, env: extraEnv } = access;
      const home = username === 'root' ? '/root' : `/home/${username}`;
      const env: NodeJS.ProcessEnv = {
        PATH: GUEST_PATH,
        USER: username, LOGNAME: username, HOME: home, SHELL: '/bin/sh', LANG: 'C.UTF-8',
        ...(hostname ? { HOSTNAME: hostname } : {}),
        ...extraEnv,
      };
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        let pty = false;
        let child: ChildProcess | undefined;
        session.on('pty', (accept) => { pty = true; accept?.(); });
        session.on('env', (accept) => accept?.()); // accepted and ignored
        session.on('window-change', (accept) => accept?.());
        session.on('auth-agent', (_a, reject) => reject?.());
        session.on('x11', (_a, reject) => reject?.());
        session.on('subsystem', (_a, reject) => reject()); // no sftp
        session.on('signal', (accept, info) => {
          accept?.();
          if (child && SIGNALS.has(info.name)) killGroup(child, `SIG${info.name}` as NodeJS.Signals);
        });
        session.on('exec', (accept, _reject, info) => {
          child = runOnChannel(accept(), ['sh', '-c', forcedCommand ?? info.command], env, pty);
        });
        session.on('shell', (accept) => {
          child = runOnChannel(accept(), forcedCommand ? ['sh', '-c', forcedCommand] : ['sh', '-i'], { ...env, PS1: `[${username}@${hostname ?? 'guest'}]$ ` }, true);
        });
      });
      // OpenSSH -L / -W: connect from inside the guest.
      client.on('tcpip', (accept, reject, info) => {
        if (forcedCommand) return reject(); // no-port-forwarding
        const sock = netConnect({ host: info.destIP, port: info.destPort });
        sock.once('connect', () => {
          const ch = accept();
          sock.pipe(ch).pipe(sock);
          ch.on('close', () => sock.destroy());
          sock.on('close', () => ch.close());
          ch.on('error', () => sock.destroy());
        });
        sock.once('error', () => { if (!sock.readyState || sock.connecting) reject(); else sock.destroy(); });
      });
      client.on('request', (accept, reject) => reject?.()); // no -R remote forwarding
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onErr = (err: NodeJS.ErrnoException): void => {
      // A netns with IPv6 disabled cannot bind "::"; fall back to IPv4 only.
      if (opts.listen === '::' && (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL')) {
        server.listen(opts.port, '0.0.0.0', () => resolve());
      } else reject(err);
    };
    server.once('error', onErr);
    server.listen({ port: opts.port, host: opts.listen, ipv6Only: false }, () => {
      server.off('error', onErr);
      resolve();
    });
  });
  server.on('error', () => { /* per-connection errors are handled per client */ });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return {
    port,
    configure: (next) => { access = compileAccess(next); },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Keys parsed once per configuration, not per login: each user's authorized_keys, as cloud-init writes them. */
function compileAccess(a: SshdAccess) {
  const defaultUser = a.defaultUser ?? 'fedora';
  const keys = new Map<string, string[]>();
  const add = (user: string, lines: string[]) => keys.set(user, [...(keys.get(user) ?? []), ...lines]);
  add(defaultUser, a.authorizedKeys);
  for (const u of a.users) add(u.name, u.authorizedKeys ?? []);
  const disableRoot = a.disableRoot ?? true;
  // disable_root: the default user's keys reach root only behind the forced command; otherwise root gets them plainly.
  if (!disableRoot && defaultUser !== 'root') add('root', a.authorizedKeys);
  return {
    userKeys: new Map([...keys].map(([u, lines]) => [u, parsePublicKeys(lines)])),
    rootRestricted: disableRoot && defaultUser !== 'root' ? parsePublicKeys(a.authorizedKeys) : [],
    users: new Map(a.users.map((u) => [u.name, u])),
    passwordAuth: a.passwordAuth ?? false,
    defaultUser,
    hostname: a.hostname,
    env: a.env,
  };
}

export function accessFromConfig(cfg: GuestConfig): SshdAccess {
  return {
    authorizedKeys: cfg.authorizedKeys, defaultUser: cfg.defaultUser, users: cfg.users,
    passwordAuth: cfg.passwordAuth, disableRoot: cfg.disableRoot, hostname: cfg.hostname,
  };
}

export function startSshdFromConfig(cfg: GuestConfig, hostKey?: string): Promise<Sshd> {
  return startSshd({ hostKey, port: cfg.sshPort, listen: cfg.sshListen, ...accessFromConfig(cfg) });
}
