// KubeVirt's VirtualMachine subresources (what `virtctl start|stop|restart|migrate` call): a PUT on
// /apis/subresources.kubevirt.io/v1/namespaces/NS/virtualmachines/NAME/VERB, answered 202.
import type { Kube } from './client.ts';
import { rawRequest, statusMessage } from './raw.ts';

export type VmAction = 'start' | 'stop' | 'restart' | 'migrate';

export async function vmAction(kube: Kube, namespace: string, name: string, verb: VmAction, body: Record<string, unknown> = {}): Promise<void> {
  const e = encodeURIComponent;
  const { status, text } = await rawRequest(kube, 'PUT', `/apis/subresources.kubevirt.io/v1/namespaces/${e(namespace)}/virtualmachines/${e(name)}/${verb}`, body);
  if (status < 200 || status >= 300) throw new Error(`${verb} VM ${namespace}/${name}: HTTP ${status}: ${statusMessage(text)}`);
}

/** POST a policy/v1 Eviction for a pod, as `kubectl drain` does for each one: the answer, refused or not. */
export async function evictPod(kube: Kube, namespace: string, pod: string): Promise<{ status: number; message: string }> {
  const e = encodeURIComponent;
  const { status, text } = await rawRequest(kube, 'POST', `/api/v1/namespaces/${e(namespace)}/pods/${e(pod)}/eviction`, {
    apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace },
  });
  return { status, message: statusMessage(text) };
}
