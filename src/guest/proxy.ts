// OpenSSH ProxyCommand over the VMI port-forward, like
// `virtctl port-forward --stdio`:
//   ssh -o ProxyCommand='npx kvnet ssh-proxy --kubeconfig .kvnet/kubeconfig ns vmi 22' user@vmi
import type { Readable, Writable } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { openPortForward } from './portforward.ts';

export interface ProxyIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

export const PROXY_USAGE = 'usage: kvnet ssh-proxy [--kubeconfig FILE] [--context NAME] <namespace> <vmi> [port]\n';

/** Returns the process exit code: 0 on a clean close, 2 on bad usage, 255 on connection failure (ssh's convention). */
export async function runProxy(args: string[], io: ProxyIO = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let kubeconfig: string | undefined;
  let context: string | undefined;
  const pos: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--kubeconfig') kubeconfig = args[++i];
    else if (a.startsWith('--kubeconfig=')) kubeconfig = a.slice('--kubeconfig='.length);
    else if (a === '--context') context = args[++i];
    else if (a.startsWith('--context=')) context = a.slice('--context='.length);
    else if (a === '-h' || a === '--help') { io.stdout.write(PROXY_USAGE); return 0; }
    else pos.push(a);
  }
  const [ns, vmi, portArg = '22'] = pos;
  const port = Number(portArg);
  if (!ns || !vmi || pos.length > 3 || !Number.isInteger(port) || port < 1 || port > 65535) {
    io.stderr.write(PROXY_USAGE);
    return 2;
  }
  const kc = new KubeConfig();
  try {
    if (kubeconfig) kc.loadFromFile(kubeconfig);
    else kc.loadFromDefault();
    if (context) kc.setCurrentContext(context);
  } catch (e) {
    io.stderr.write(`kvnet ssh-proxy: kubeconfig: ${(e as Error).message}\n`);
    return 255;
  }

  let stream;
  try {
    stream = await openPortForward(kc, ns, vmi, port);
  } catch (e) {
    io.stderr.write(`kvnet ssh-proxy: ${(e as Error).message}\n`);
    return 255;
  }
  return new Promise<number>((resolve) => {
    let finished = false;
    const finish = (code: number): void => {
      if (finished) return;
      finished = true;
      io.stdin.unpipe(stream);
      resolve(code);
    };
    io.stdin.pipe(stream); // stdin EOF ends the writable side, which closes the websocket
    stream.pipe(io.stdout, { end: false });
    stream.on('end', () => finish(0));
    stream.on('close', () => finish(0));
    stream.on('error', (e) => {
      io.stderr.write(`kvnet ssh-proxy: ${e.message}\n`);
      finish(255);
    });
  });
}
