// The guest's own /etc: the accounts cloud-init made, its hostname, hosts and resolver. Written only
// inside the guest's root (root.ts), where /etc is a tmpfs of its own; never on the host.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import type { GuestUser } from './config.ts';
import { GUEST_ROOT_ENV } from './root.ts';

/** True when the agent runs in a root of its own, so /etc is the guest's. */
export function inGuestRoot(): boolean {
  return process.env[GUEST_ROOT_ENV] === '1';
}

interface Account { name: string; uid: number; home: string; shell: string }

function accounts(users: GuestUser[], defaultUser: string): Account[] {
  const out: Account[] = [{ name: 'root', uid: 0, home: '/root', shell: '/bin/sh' }];
  let uid = 1000;
  for (const name of [defaultUser, ...users.map((u) => u.name)]) {
    if (out.some((a) => a.name === name)) continue;
    out.push({ name, uid: uid++, home: `/home/${name}`, shell: '/bin/sh' });
  }
  out.push({ name: 'nobody', uid: 65534, home: '/nonexistent', shell: '/usr/sbin/nologin' });
  return out;
}

/** Before a VM: root and nobody only, so tools that look up names work from the start. */
export function writeBaseEtc(): void {
  writeAccounts(accounts([], 'root'), new Map());
  writeFileSync('/etc/hosts', '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  writeFileSync('/etc/resolv.conf', '');
}

/** A locked password is the hash behind a `!`, as `passwd -l` leaves it. */
const shadowOf = (u: GuestUser, hash: string): string => (u.locked ? `!${hash}` : hash);

function writeAccounts(list: Account[], shadow: Map<string, string>): void {
  writeFileSync('/etc/passwd', list.map((a) => `${a.name}:x:${a.uid}:${a.uid === 65534 ? 65534 : a.uid}:${a.name}:${a.home}:${a.shell}\n`).join(''));
  writeFileSync('/etc/group', [...list.map((a) => `${a.name === 'nobody' ? 'nogroup' : a.name}:x:${a.uid}:\n`), 'wheel:x:10:' + list.filter((a) => a.uid >= 1000 && a.uid < 65534).map((a) => a.name).join(',') + '\n'].join(''));
  writeFileSync('/etc/shadow', list.map((a) => `${a.name}:${shadow.get(a.name) ?? '!'}:20000:0:99999:7:::\n`).join(''), { mode: 0o600 });
  chmodSync('/etc/shadow', 0o600);
}

/** crypt(3) SHA-512 of a plain-text password, as cloud-init's chpasswd stores it (openssl; no crypt in Node). */
function sha512crypt(password: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('openssl', ['passwd', '-6', '-stdin'], (err, stdout) => resolve(err ? undefined : stdout.trim())).stdin?.end(`${password}\n`);
  });
}

/**
 * The VM's accounts, home directories, hostname and hosts at boot. Password hashes for plain-text
 * passwords follow later (`hashPasswords`), off the boot's critical path, as cloud-init's
 * set-passwords module runs late too.
 */
export function writeBootEtc(hostname: string, users: GuestUser[], defaultUser: string): void {
  const list = accounts(users, defaultUser);
  const shadow = new Map(users.filter((u) => u.passwordHash).map((u) => [u.name, shadowOf(u, u.passwordHash as string)]));
  writeAccounts(list, shadow);
  for (const a of list) {
    if (!a.home.startsWith('/home/')) continue;
    mkdirSync(a.home, { recursive: true, mode: 0o700 });
    try { chownSync(a.home, a.uid, a.uid); } catch { /* only root is mapped in the sim's user namespace */ }
  }
  writeFileSync('/etc/hostname', `${hostname}\n`);
  writeFileSync('/etc/hosts', `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`);
}

export async function hashPasswords(users: GuestUser[], defaultUser: string): Promise<void> {
  const plain = users.filter((u) => u.password !== undefined && !u.passwordHash);
  if (!plain.length) return;
  const shadow = new Map(users.filter((u) => u.passwordHash).map((u) => [u.name, shadowOf(u, u.passwordHash as string)]));
  for (const u of plain) {
    const h = await sha512crypt(u.password as string);
    if (h) shadow.set(u.name, shadowOf(u, h));
  }
  writeAccounts(accounts(users, defaultUser), shadow);
}
