// The sim's host side of Service exposure: listens on each node ExternalIP:nodePort and LoadBalancer
// ingress IP:port (all on host loopback) that kube-proxy published, and relays every connection to
// the node gateway inside the sandbox, which opens it from the node. Clients need nothing sim-specific.
import { statSync } from 'node:fs';
import net from 'node:net';
import { gatewayHeader, ingressPath, readIngress, type IngressRoute } from './routes.ts';

const POLL_MS = 50;

export class HostForwarder {
  private readonly listeners = new Map<string, { server: net.Server; route: IngressRoute }>();
  private readonly sockets = new Set<net.Socket>();
  private timer?: NodeJS.Timeout;
  private stamp = '';

  constructor(private readonly stateDir: string) {}

  start(): this {
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
    this.poll();
    return this;
  }

  private poll(): void {
    let s: string;
    try {
      const st = statSync(ingressPath(this.stateDir));
      s = `${st.mtimeMs}/${st.ino}/${st.size}`;
    } catch {
      return;
    }
    if (s === this.stamp) return;
    const table = readIngress(this.stateDir);
    if (!table) return;
    this.stamp = s;
    const want = new Map(table.routes.map((r) => [`${r.listen.address}:${r.listen.port}`, r]));
    for (const [key, l] of this.listeners) {
      if (!want.has(key)) {
        l.server.close();
        this.listeners.delete(key);
      }
    }
    for (const [key, route] of want) {
      const cur = this.listeners.get(key);
      if (cur) cur.route = route;
      else this.listen(key, route);
    }
  }

  private listen(key: string, route: IngressRoute): void {
    const entry = { route, server: net.createServer({ allowHalfOpen: true }, (client) => this.relay(client, entry.route)) };
    entry.server.on('error', (e) => {
      console.error(`kvnet sim: cannot listen on ${key}: ${e.message}`);
      this.listeners.delete(key);
    });
    entry.server.listen(route.listen.port, route.listen.address);
    this.listeners.set(key, entry);
  }

  private relay(client: net.Socket, route: IngressRoute): void {
    client.setNoDelay(true);
    const upstream = net.connect({ path: route.gateway, allowHalfOpen: true });
    upstream.write(gatewayHeader(route.connect));
    client.pipe(upstream).pipe(client);
    this.sockets.add(client).add(upstream);
    const drop = () => { client.destroy(); upstream.destroy(); this.sockets.delete(client); this.sockets.delete(upstream); };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  }

  /** Where the forwarder listens now, e.g. for `kvnet sim up` to print. */
  addresses(): string[] {
    return [...this.listeners.keys()];
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const s of this.sockets) s.destroy();
    await Promise.all([...this.listeners.values()].map((l) => new Promise<void>((r) => l.server.close(() => r()))));
    this.listeners.clear();
  }
}
