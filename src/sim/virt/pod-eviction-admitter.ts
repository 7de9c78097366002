// virt-api's validating webhook on pods/eviction, "virt-launcher-eviction-interceptor.kubevirt.io"
// (kubevirt pkg/virt-api/webhooks/validating-webhook/admitters/pod-eviction-admitter.go): a drain's
// eviction of a virt-launcher pod whose VMI should move instead marks the VMI for evacuation
// (status.evacuationNodeName) and is refused with 429, so kubectl drain retries until the evacuation
// controller's migration has taken the pod away. Every refusal of this webhook is a 429.
import type { EvictionReview, EvictionWebhook } from '../api/eviction.ts';
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import { ApiError } from '../api/status.ts';
import type { KObject } from '../api/types.ts';
import type { VmiStatus } from '../controllers/kubevirt-types.ts';
import { KUBEVIRT_CR } from './migration-controller.ts';

const POD = kindOf('v1', 'Pod') as Kind;
const VMI = kindOf('kubevirt.io/v1', 'VirtualMachineInstance') as Kind;
const KUBEVIRT = kindOf('kubevirt.io/v1', 'KubeVirt') as Kind;
const WEBHOOK = 'virt-launcher-eviction-interceptor.kubevirt.io';
/** virtv1.DomainAnnotation: the launcher pod's VMI. */
const DOMAIN_ANNOTATION = 'kubevirt.io/domain';
/** virtv1.EvictionSourceAnnotation, set when the descheduler asked (the eviction's `requested-by`). */
export const EVICTION_SOURCE_ANNOTATION = 'kubevirt.io/eviction-source';

export type EvictionStrategy = 'None' | 'LiveMigrate' | 'LiveMigrateIfPossible' | 'External';

/** ToStatusErr: the webhook's message behind the apiserver's prefix, with the webhook's code and no reason. */
function denied(message: string): ApiError {
  return new ApiError(429, '', `admission webhook "${WEBHOOK}" denied the request: ${message}`);
}

/** migrations.VMIEvictionStrategy: the VMI's own, else the KubeVirt CR's spec.configuration.evictionStrategy. */
export function evictionStrategyOf(api: Registry, vmi: KObject): EvictionStrategy | undefined {
  const own = (vmi.spec as { evictionStrategy?: EvictionStrategy } | undefined)?.evictionStrategy;
  if (own) return own;
  const kv = api.store.get(KUBEVIRT, KUBEVIRT_CR.namespace, KUBEVIRT_CR.name);
  return (kv?.spec as { configuration?: { evictionStrategy?: EvictionStrategy } } | undefined)?.configuration?.evictionStrategy;
}

/** vmi.IsMigratable(): the LiveMigratable condition is True. */
export function isMigratable(vmi: KObject): boolean {
  return ((vmi.status as VmiStatus | undefined)?.conditions ?? []).some((c) => c.type === 'LiveMigratable' && c.status === 'True');
}

export function podEvictionAdmitter(api: Registry): EvictionWebhook {
  return (review: EvictionReview) => {
    // matchConditions "only-vms": the webhook sees launcher pods only.
    if (!review.name.startsWith('virt-launcher')) return;
    const pod = api.tryGet(POD, review.namespace, review.name);
    if (!pod || pod.metadata.labels?.['kubevirt.io'] !== 'virt-launcher') return;
    if (['Succeeded', 'Failed'].includes((pod.status as { phase?: string } | undefined)?.phase ?? '')) return;
    const vmiName = pod.metadata.annotations?.[DOMAIN_ANNOTATION];
    if (!vmiName) return;
    const vmi = api.tryGet(VMI, review.namespace, vmiName);
    if (!vmi) throw denied(`kubevirt failed getting the vmi: virtualmachineinstances.kubevirt.io "${vmiName}" not found`);
    const strategy = evictionStrategyOf(api, vmi);
    const migratable = isMigratable(vmi);
    if (strategy === 'LiveMigrate' && !migratable) throw denied(`VMI ${vmiName} is configured with an eviction strategy but is not live-migratable`);
    const mark = strategy === 'LiveMigrate' || strategy === 'External' || (strategy === 'LiveMigrateIfPossible' && migratable);
    if (!mark) return;
    const who = `VMI "${review.namespace}/${vmiName}"`;
    const status = (vmi.status ?? {}) as VmiStatus & { evacuationNodeName?: string };
    if (status.evacuationNodeName) throw denied(`Evacuation in progress: Eviction triggered evacuation of ${who}`);
    const podNode = (pod.spec as { nodeName?: string } | undefined)?.nodeName;
    if (status.nodeName !== podNode) throw denied('Eviction request for target Pod');
    const descheduler = review.eviction.metadata.annotations?.['requested-by'] === 'sigs.k8s.io/descheduler';
    if (descheduler && !review.dryRun) {
      vmi.metadata.annotations = { ...vmi.metadata.annotations, [EVICTION_SOURCE_ANNOTATION]: 'descheduler' };
      api.update(VMI, review.namespace, vmiName, vmi);
    }
    // The sim's VMI has a status subresource, so the mark goes there (upstream JSON-patches the VMI).
    api.patch(VMI, review.namespace, vmiName, 'json', [{ op: 'add', path: '/status/evacuationNodeName', value: podNode }], { subresource: 'status', dryRun: review.dryRun });
    throw denied(`Eviction triggered evacuation of ${who}`);
  };
}
