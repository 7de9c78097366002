// Per-run SSH identity: put publicKey into the VM (cloud-init or
// accessCredentials), use privateKey with ssh2 or OpenSSH (-i file).
import { mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';

export interface SshKeyPair {
  /** OpenSSH private key ("-----BEGIN OPENSSH PRIVATE KEY-----"). */
  privateKey: string;
  /** authorized_keys line: "ssh-ed25519 AAAA... <comment>". */
  publicKey: string;
}

export function generateKeyPair(comment = 'kvnet'): SshKeyPair {
  // About 1 in 200 ed25519 keys from ssh2's generator fail its own parser ("Malformed OpenSSH
  // private key"); draw again rather than hand out a key that the client or sshd will refuse.
  for (;;) {
    const kp = ssh2.utils.generateKeyPairSync('ed25519', { comment });
    if (!(ssh2.utils.parseKey(kp.private) instanceof Error)) return { privateKey: kp.private, publicKey: kp.public.trim() };
  }
}

/** Write `<dir>/<name>` and `<dir>/<name>.pub` with mode 0600 (OpenSSH refuses looser private keys). */
export function writeKeyPair(dir: string, kp: SshKeyPair, name = 'id_ed25519'): { privateKeyPath: string; publicKeyPath: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const privateKeyPath = join(dir, name);
  const publicKeyPath = `${privateKeyPath}.pub`;
  writeFileSync(privateKeyPath, kp.privateKey.endsWith('\n') ? kp.privateKey : kp.privateKey + '\n', { mode: 0o600 });
  writeFileSync(publicKeyPath, kp.publicKey + '\n', { mode: 0o600 });
  // mode on writeFileSync applies only to new files; fix reused paths too.
  chmodSync(privateKeyPath, 0o600);
  chmodSync(publicKeyPath, 0o600);
  return { privateKeyPath, publicKeyPath };
}
