// The kubelet's view of a pod whose sandbox cannot be created because the CNI ADD (Multus) failed:
// the pod stays Pending with its container waiting in ContainerCreating, a FailedCreatePodSandBox
// event says why, and the pod worker retries after its error backoff: 10 s with up to 50 % jitter
// (kubernetes pkg/kubelet/kubelet.go backOffPeriod, pkg/kubelet/pod_workers.go completeWork).
import { randomBytes, randomUUID } from 'node:crypto';
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { KObject } from '../api/types.ts';
import { recordEvent } from '../controllers/events.ts';
import { type CniAddError, noNetworkFound } from './multus.ts';

const POD = kindOf('v1', 'Pod') as Kind;
const EVENT = kindOf('v1', 'Event') as Kind;
const SANDBOX_BACKOFF_MS = 10_000;

export function sandboxRetryDelayMs(): number {
  return SANDBOX_BACKOFF_MS * (1 + Math.random() * 0.5);
}

/** The event message CRI-O + multus-shim give on OpenShift, around Multus's own error. */
export function sandboxFailureMessage(pod: KObject, err: CniAddError): string {
  const ns = pod.metadata.namespace as string;
  const name = pod.metadata.name as string;
  const uid = pod.metadata.uid as string;
  const id = randomBytes(32).toString('hex');
  const where = `[${ns}/${name}/${uid}${err.stage === 'add' && err.network ? `:${err.network}` : ''}]`;
  const multus = err.stage === 'delegates'
    ? `${where}: error loading k8s delegates k8s args: TryLoadPodDelegates: error in getting k8s network for pod: ${err.message}`
    : `${where}: ${err.message}`;
  return `Failed to create pod sandbox: rpc error: code = Unknown desc = failed to create pod network sandbox k8s_${name}_${ns}_${uid}_0(${id}): `
    + `error adding pod ${ns}_${name} to CNI network "multus-cni-network": plugin type="multus-shim" name="multus-cni-network" failed (add): `
    + `CmdAdd (shim): CNI request failed with status 400: 'ContainerID:"${id}" Netns:"/var/run/netns/${randomUUID()}" IfName:"eth0" `
    + `Args:"IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${id};K8S_POD_UID=${uid}" Path:"" `
    + `ERRORED: error configuring pod [${ns}/${name}] networking: Multus: ${multus}\n'`;
}

/** Records the failed sandbox on the pod (events, and a Pending / ContainerCreating status). */
export function reportSandboxFailure(api: Registry, podObj: KObject, err: CniAddError, hostIP: string | undefined): void {
  const pod = api.tryGet(POD, podObj.metadata.namespace, podObj.metadata.name as string);
  if (!pod || pod.metadata.uid !== podObj.metadata.uid || pod.metadata.deletionTimestamp) return;
  if (err.missingNad) repeatEvent(api, pod, 'NoNetworkFound', noNetworkFound(err.missingNad.namespace, err.missingNad.name), 'multus');
  recordEvent(api, pod, 'Warning', 'FailedCreatePodSandBox', sandboxFailureMessage(pod, err), 'kubelet');
  const cur = (pod.status ?? {}) as { phase?: string; startTime?: string; containerStatuses?: unknown[] };
  if (cur.phase === 'Pending' && cur.containerStatuses?.length) return; // already reported
  const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const unready = { status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [compute]', lastProbeTime: null, lastTransitionTime: t };
  pod.status = {
    phase: 'Pending', hostIP, ...(hostIP ? { hostIPs: [{ ip: hostIP }] } : {}), startTime: cur.startTime ?? t, qosClass: 'Burstable',
    conditions: [
      { type: 'PodReadyToStartContainers', status: 'False', lastProbeTime: null, lastTransitionTime: t },
      { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: t },
      { type: 'Ready', ...unready },
      { type: 'ContainersReady', ...unready },
      { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: t },
    ],
    containerStatuses: [{
      name: 'compute', ready: false, started: false, restartCount: 0, image: 'registry.redhat.io/container-native-virtualization/virt-launcher-rhel9:v4.17', imageID: '',
      state: { waiting: { reason: 'ContainerCreating' } },
    }],
  };
  api.update(POD, pod.metadata.namespace, pod.metadata.name as string, pod, { subresource: 'status' });
}

/** A Warning event; the same one again bumps its count, as client-go's EventCorrelator does. */
function repeatEvent(api: Registry, pod: KObject, reason: string, message: string, component: string): void {
  const seen = api.store.list(EVENT, pod.metadata.namespace).find((e) =>
    (e.involvedObject as { uid?: string } | undefined)?.uid === pod.metadata.uid && e.reason === reason && e.message === message);
  if (!seen) { recordEvent(api, pod, 'Warning', reason, message, component); return; }
  const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  api.update(EVENT, seen.metadata.namespace, seen.metadata.name as string, { ...seen, count: Number(seen.count ?? 1) + 1, lastTimestamp: t });
}
