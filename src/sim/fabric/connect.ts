// A TCP stream opened from inside a netns, as a Node Duplex (socat bridges stdio to the socket).
import { Duplex } from 'node:stream';
import { spawnIn } from './exec.ts';

export function connectFrom(netns: string, host: string, port: number): Duplex {
  const addr = host.includes(":") ? `TCP6:[${host}]:${port},nodelay` : `TCP4:${host}:${port},nodelay`;
  const child = spawnIn(netns, ['socat', '-', addr], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const stdin = child.stdin!;
  const stdout = child.stdout!;
  stdin.on('error', () => undefined); // surfaces through the exit code instead
  const stream = new Duplex({
    write(chunk: Buffer, _enc, cb) {
      stdin.write(chunk, cb);
    },
    final(cb) {
      stdin.end(cb);
    },
    read() {
      stdout.resume();
    },
    destroy(err, cb) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      cb(err);
    },
  });
  stdout.on('data', (d: Buffer) => {
    if (!stream.push(d)) stdout.pause();
  });
  child.on('error', (e) => stream.destroy(e));
  // 'close' comes after stdout has drained, so every byte was pushed before EOF or the error.
  child.on('close', (code) => {
    if (code !== 0 && code !== null) {
      stream.destroy(new Error(`connect ${host}:${port} from netns ${netns} failed: ${stderr.trim() || `socat exit ${code}`}`));
    } else stream.push(null);
  });
  return stream;
}
