// A request the typed clients do not make: a subresource URL, with the kubeconfig's credentials,
// answered as status and text (the caller decides which codes are answers and which are errors).
import http from 'node:http';
import https from 'node:https';
import type { Kube } from './client.ts';

export async function rawRequest(kube: Kube, method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const cluster = kube.kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(`${cluster.server.replace(/\/+$/, '')}${path}`);
  const opts: https.RequestOptions = { method, headers: { 'Content-Type': 'application/json' } };
  await kube.kc.applyToHTTPSOptions(opts); // token / client cert / CA from the kubeconfig
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, opts, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('no answer in 30 s')));
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** The message of a Status body, else the text itself (shortened). */
export function statusMessage(text: string): string {
  try {
    return (JSON.parse(text) as { message?: string }).message ?? text.trim().slice(0, 500);
  } catch {
    return text.trim().slice(0, 500);
  }
}
