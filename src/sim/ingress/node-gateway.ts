// A node's front door, run inside the node netns: it accepts on a unix socket (path-bound, so the host
// reaches it), reads one JSON header line {host, port, localAddress?}, and connects from the node.
// The connection is then locally originated on the node, where kube-proxy's output rules apply.
// Usage: node node-gateway.cjs <socket-path>
import { rmSync } from 'node:fs';
import net from 'node:net';

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: node-gateway <socket-path>\n');
  process.exit(2);
}
rmSync(path, { force: true });
const server = net.createServer({ allowHalfOpen: true }, (down) => {
  let head = Buffer.alloc(0);
  const onData = (d: Buffer) => {
    head = Buffer.concat([head, d]);
    const nl = head.indexOf(10);
    if (nl < 0) {
      if (head.length > 4096) down.destroy();
      return;
    }
    down.off('data', onData);
    down.pause();
    let target: { host: string; port: number; localAddress?: string };
    try {
      target = JSON.parse(head.subarray(0, nl).toString('utf8')) as typeof target;
    } catch {
      down.destroy();
      return;
    }
    const rest = head.subarray(nl + 1);
    const up = net.connect({ host: target.host, port: target.port, localAddress: target.localAddress, noDelay: true, allowHalfOpen: true });
    up.setNoDelay(true);
    if (rest.length) up.write(rest);
    down.pipe(up).pipe(down);
    down.resume();
    const end = () => { down.destroy(); up.destroy(); };
    up.on('error', end).on('close', end);
    down.on('error', end).on('close', end);
  };
  down.on('data', onData);
});
server.listen(path, () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
