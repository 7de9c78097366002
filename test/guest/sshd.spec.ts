import { test, expect } from '@playwright/test';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';
import { generateKeyPair, writeKeyPair } from '../../src/guest/keys.ts';
import { startAgent, type AgentHandle, scratchDir } from './helpers.ts';

const run = promisify(execFile);
const key = generateKeyPair();
const other = generateKeyPair('intruder');
let agent: AgentHandle;

test.beforeAll(async () => {
  agent = await startAgent({
    authorizedKeys: [key.publicKey], passwordAuth: true, // cloud-init ssh_pwauth: true
    // cloud-init users[].passwd is a crypt(3) hash; make a real one.
    users: [{ name: 'fedora', password: 'fedora' }, { name: 'hashy', passwordHash: spawnSync('openssl', ['passwd', '-6', '-salt', 'saltsalt', 'hunter2']).stdout.toString().trim() }],
  });
  console.log(`agent start → ready: ${agent.startMs.toFixed(0)}ms (agent-reported ${agent.ready.startupMs}ms)`);
});
test.afterAll(async () => { await agent?.stop(); });

type Auth = { privateKey?: string; password?: string; username?: string };
function connect(auth: Auth): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('ready', () => resolve(c)).once('error', reject);
    c.connect({ host: '127.0.0.1', port: agent.port, username: auth.username ?? 'fedora', privateKey: auth.privateKey, password: auth.password, readyTimeout: 10_000 });
  });
}
function exec(c: ssh2.Client, cmd: string): Promise<{ out: string; err: string; code: number | null; signal?: string }> {
  return new Promise((resolve, reject) => {
    c.exec(cmd, (e, ch) => {
      if (e) return reject(e);
      let out = '', err = '', code: number | null = null, signal: string | undefined;
      ch.on('data', (d: Buffer) => { out += d; });
      ch.stderr.on('data', (d: Buffer) => { err += d; });
      ch.on('exit', (c2: number | null, s?: string) => { code = c2; signal = s; });
      ch.on('close', () => resolve({ out, err, code, signal }));
      ch.end();
    });
  });
}

test('the ready and status reports describe the guest', () => {
  expect(agent.ready.sshPort).toBe(agent.port);
  expect(agent.ready.resolvConf).toBe('nameserver 10.96.0.10\n');
  const status = agent.statuses.at(-1);
  expect(Array.isArray(status)).toBe(true);
  expect(status?.find((s) => s.interfaceName === 'lo')).toBeUndefined();
});

test('the right key runs a command: stdout, stderr and the real exit status', async () => {
  const c = await connect({ privateKey: key.privateKey });
  const t0 = performance.now();
  const r = await exec(c, 'echo hi; echo oops >&2; exit 3');
  console.log(`ssh exec round trip (connected): ${(performance.now() - t0).toFixed(1)}ms`);
  expect(r).toEqual({ out: 'hi\n', err: 'oops\n', code: 3, signal: undefined });
  // Killed commands report the signal.
  const k = await exec(c, 'kill -TERM $$');
  expect(k.signal).toBe('SIGTERM'); // RFC 4254 sends "TERM"; ssh2 prefixes SIG
  c.end();
});

test('a key not in authorizedKeys is refused', async () => {
  await expect(connect({ privateKey: other.privateKey })).rejects.toThrow(/authentication methods failed/);
});

test('password auth (plain and crypt hash) for a user with a password; wrong password and unknown user refused', async () => {
  const c = await connect({ password: 'fedora' });
  expect((await exec(c, 'echo $USER')).out).toBe('fedora\n');
  c.end();
  await expect(connect({ password: 'nope' })).rejects.toThrow(/authentication methods failed/);
  await expect(connect({ username: 'hashy', password: 'x' })).rejects.toThrow(/authentication methods failed/);
  const h = await connect({ username: 'hashy', password: 'hunter2' });
  expect((await exec(h, 'echo $USER')).out).toBe('hashy\n');
  h.end();
  await expect(connect({ username: 'root', password: 'fedora' })).rejects.toThrow(/authentication methods failed/);
});

test('the default user\'s key is not a key for another user; root gets cloud-init\'s disable_root message and exit 142', async () => {
  await expect(connect({ privateKey: key.privateKey, username: 'alice' })).rejects.toThrow(/authentication methods failed/);
  const c = await connect({ privateKey: key.privateKey, username: 'root' });
  const r = await exec(c, 'id -u; cat /etc/shadow');
  c.end();
  expect(r.out).toBe('Please login as the user "fedora" rather than the user "root".\n\n');
  expect(r.code).toBe(142);
});

test('stdin reaches the command; sftp is rejected', async () => {
  const c = await connect({ privateKey: key.privateKey });
  const out = await new Promise<string>((resolve, reject) => {
    c.exec('tr a-z A-Z', (e, ch) => {
      if (e) return reject(e);
      let s = '';
      ch.on('data', (d: Buffer) => { s += d; }).on('close', () => resolve(s));
      ch.end('hello\n');
    });
  });
  expect(out).toBe('HELLO\n');
  await expect(new Promise((resolve, reject) => c.sftp((e, s) => (e ? reject(e) : resolve(s))))).rejects.toThrow();
  c.end();
});

test('OpenSSH client logs in with the key and runs ip -V; -W forwards from inside the guest', async () => {
  test.skip(spawnSync('ssh', ['-V']).error !== undefined, 'no ssh client installed');
  const dir = scratchDir('kvnet-key-');
  const { privateKeyPath } = writeKeyPair(dir, key);
  const base = ['-i', privateKeyPath, '-p', String(agent.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-o', 'IdentitiesOnly=yes'];
  const r = await run('ssh', [...base, 'fedora@127.0.0.1', 'ip -V'], { timeout: 20_000 });
  expect(r.stdout).toMatch(/ip utility, iproute2/);
  // direct-tcpip: tunnel to the guest's own sshd and read its banner.
  const w = await run('sh', ['-c', `ssh ${base.join(' ')} -W 127.0.0.1:${agent.port} fedora@127.0.0.1 </dev/null | head -c 31`], { timeout: 20_000 });
  expect(w.stdout).toMatch(/^SSH-2\.0-OpenSSH_9\.6 kvnet-guest/);
  // A wrong key is refused by OpenSSH too.
  const bad = writeKeyPair(dir, other, 'bad');
  await expect(run('ssh', [...base.map((a) => (a === privateKeyPath ? bad.privateKeyPath : a)), 'fedora@127.0.0.1', 'true'], { timeout: 20_000 })).rejects.toThrow(/Permission denied/);
});
