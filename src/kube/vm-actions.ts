// KubeVirt's VirtualMachine subresources (what `virtctl start|stop|restart` call): a PUT on
// /apis/subresources.kubevirt.io/v1/namespaces/NS/virtualmachines/NAME/VERB, answered 202.
import http from 'node:http';
import https from 'node:https';
import type { Kube } from './client.ts';

export type VmAction = 'start' | 'stop' | 'restart' | 'migrate';

export async function vmAction(kube: Kube, namespace: string, name: string, verb: VmAction, body: Record<string, unknown> = {}): Promise<void> {
  const cluster = kube.kc.getCurrentCluster();
  if (!cluster) throw new Error('vmAction: kubeconfig has no current cluster');
  const e = encodeURIComponent;
  const url = new URL(`${cluster.server.replace(/\/+$/, '')}/apis/subresources.kubevirt.io/v1/namespaces/${e(namespace)}/virtualmachines/${e(name)}/${verb}`);
  const opts: https.RequestOptions = { method: 'PUT', headers: { 'Content-Type': 'application/json' } };
  await kube.kc.applyToHTTPSOptions(opts); // token / client cert / CA from the kubeconfig
  const payload = JSON.stringify(body);
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, opts, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('no answer in 30 s')));
    req.on('error', reject);
    req.end(payload);
  });
  if (status < 200 || status >= 300) {
    let msg = text.trim().slice(0, 500);
    try { msg = (JSON.parse(text) as { message?: string }).message ?? msg; } catch { /* not a Status */ }
    throw new Error(`${verb} VM ${namespace}/${name}: HTTP ${status}: ${msg}`);
  }
}
