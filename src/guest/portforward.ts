// KubeVirt VMI port-forward: a websocket on the subresources API with
// subprotocol plain.kubevirt.io, raw TCP bytes in binary frames. This is what
// `virtctl port-forward` and `virtctl ssh` use; it works against any cluster.
import type { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import WebSocket, { createWebSocketStream } from 'ws';

export const PORTFORWARD_SUBPROTOCOL = 'plain.kubevirt.io';

/** A failed port-forward upgrade; `status` is the HTTP status (0 if none). */
export class PortForwardError extends Error {
  constructor(message: string, readonly status: number, readonly reason?: string) {
    super(message);
    this.name = 'PortForwardError';
  }
}

export interface PortForwardOptions {
  /** Give up on the upgrade after this long. Default 30 s. */
  timeoutMs?: number;
}

export function portForwardPath(ns: string, vmi: string, port: number, protocol: 'tcp' | 'udp' = 'tcp'): string {
  const e = encodeURIComponent;
  return `/apis/subresources.kubevirt.io/v1/namespaces/${e(ns)}/virtualmachineinstances/${e(vmi)}/portforward/${port}/${protocol}`;
}

function readBody(res: IncomingMessage, limit = 64 * 1024): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    res.on('data', (c: Buffer) => { if (n < limit) { chunks.push(c); n += c.length; } });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** Status.message from a Kubernetes Status body, else the trimmed body text. */
function statusMessage(body: string): { message: string; reason?: string } {
  try {
    const s = JSON.parse(body) as { message?: unknown; reason?: unknown };
    if (typeof s.message === 'string') return { message: s.message, reason: typeof s.reason === 'string' ? s.reason : undefined };
  } catch { /* not JSON */ }
  return { message: body.trim().slice(0, 500) };
}

export async function openPortForward(
  kc: KubeConfig,
  ns: string,
  vmi: string,
  port: number,
  protocol: 'tcp' | 'udp' = 'tcp',
  options: PortForwardOptions = {},
): Promise<Duplex> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('openPortForward: kubeconfig has no current cluster');
  // Keep any path prefix of the server URL (proxies such as Rancher put one there).
  const base = cluster.server.replace(/\/+$/, '').replace(/^http/, 'ws');
  const url = base + portForwardPath(ns, vmi, port, protocol);
  const what = `portforward ${ns}/${vmi}:${port}/${protocol}`;

  const opts: WebSocket.ClientOptions = { headers: {}, handshakeTimeout: options.timeoutMs ?? 30_000, perMessageDeflate: false };
  await kc.applyToHTTPSOptions(opts); // bearer token / client cert / CA / agent from the kubeconfig

  const ws = new WebSocket(url, [PORTFORWARD_SUBPROTOCOL], opts);
  return new Promise<Duplex>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      ws.removeAllListeners();
      ws.on('error', () => { /* after rejection */ });
      ws.terminate();
      reject(err);
    };
    ws.once('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      void readBody(res).then((body) => {
        const { message, reason } = statusMessage(body);
        fail(new PortForwardError(`${what}: HTTP ${status} ${res.statusMessage ?? ''}${message ? `: ${message}` : ''}`.replace(/ +:/, ':'), status, reason));
      });
    });
    ws.once('error', (err) => fail(new PortForwardError(`${what}: ${err.message}`, 0)));
    ws.once('open', () => {
      if (settled) return;
      if (ws.protocol !== PORTFORWARD_SUBPROTOCOL) {
        fail(new PortForwardError(`${what}: server chose subprotocol '${ws.protocol}', want ${PORTFORWARD_SUBPROTOCOL}`, 101));
        return;
      }
      settled = true;
      ws.removeAllListeners('error');
      // createWebSocketStream: ending the writable side closes the socket, a
      // normal close ends the readable side, an abnormal one errors the stream.
      const stream = createWebSocketStream(ws);
      resolve(stream);
    });
  });
}
