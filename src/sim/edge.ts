// The sim's edge on the host: a TCP listener on 127.0.0.1 that relays bytes to the API server's
// unix socket inside the sandbox. TLS runs end to end through it; it never parses a byte.
import net from 'node:net';

export class Edge {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly unixPath: string) {
    // No Nagle: SSH over port-forward is request/response, and Nagle with delayed ACKs stalled
    // every handshake step and exec reply by ~40 ms.
    this.server = net.createServer({ noDelay: true }, (client) => {
      const upstream = net.connect(this.unixPath);
      this.sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const drop = () => { client.destroy(); upstream.destroy(); this.sockets.delete(client); this.sockets.delete(upstream); };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, resolve);
    });
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
