// The cluster DNS server process (CoreDNS's stand-in), run in its pod's netns: UDP and TCP on one
// port, answers from a JSON record table that the cluster-dns controller rewrites on every change.
// Usage: node dns-server.cjs <records.json> <port>
import dgram from 'node:dgram';
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import packet from 'dns-packet';
import { answer, CLUSTER_DOMAIN, type DnsRecords } from './answer.ts';

const [file, portArg] = process.argv.slice(2);
const port = Number(portArg ?? 5353);
let db: DnsRecords = { zone: CLUSTER_DOMAIN, records: {} };
let seen = '';

function reload(): void {
  try {
    const st = statSync(file);
    const stamp = `${st.mtimeMs}/${st.size}/${st.ino}`;
    if (stamp === seen) return;
    db = JSON.parse(readFileSync(file, 'utf8')) as DnsRecords;
    seen = stamp;
  } catch { /* not written yet, or mid-rename: keep the last table */ }
}
reload();
setInterval(reload, 50).unref();

const udp = dgram.createSocket({ type: 'udp6', ipv6Only: false });
udp.on('message', (msg, rinfo) => {
  let q;
  try {
    q = packet.decode(msg);
  } catch {
    return;
  }
  reload();
  udp.send(packet.encode(answer(q, db)), rinfo.port, rinfo.address);
});

const tcp = net.createServer((sock) => {
  let buf = Buffer.alloc(0);
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    // RFC 7766 framing: a 2-byte length before each message; several may share a connection.
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      const len = buf.readUInt16BE(0);
      const msg = buf.subarray(2, 2 + len);
      buf = buf.subarray(2 + len);
      try {
        reload();
        sock.write(packet.streamEncode(answer(packet.decode(msg), db)));
      } catch {
        sock.destroy();
        return;
      }
    }
  });
  sock.on('error', () => sock.destroy());
});

let up = 0;
const ready = () => { if (++up === 2) process.stdout.write('ready\n'); };
udp.bind({ port, address: '::' }, ready);
tcp.listen({ port, host: '::', ipv6Only: false }, ready);
process.on('SIGTERM', () => process.exit(0));
