// Entry for OpenSSH ProxyCommand: node --import tsx src/guest/proxy-main.ts --kubeconfig FILE <ns> <vmi> [port]
import { runProxy } from './proxy.ts';

runProxy(process.argv.slice(2)).then(
  (code) => {
    // Exit explicitly: a paused stdin would otherwise keep the process alive.
    process.stdout.write('', () => process.exit(code));
  },
  (e: unknown) => {
    process.stderr.write(`kvnet ssh-proxy: ${(e as Error).message}\n`);
    process.exit(255);
  },
);
