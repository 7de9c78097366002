// VirtualMachineInstanceMigration admission, as virt-api's webhooks do it:
// the mutator (pkg/virt-api/webhooks/mutating-webhook/mutators/migration-create-mutator.go) labels the
// VMIM with its VMI's name, and the create admitter
// (pkg/virt-api/webhooks/validating-webhook/admitters/migration-create-admitter.go) refuses a VMIM
// without vmiName, for a VMI that is missing, finalized or not live-migratable, or while another
// migration of the VMI is in flight. A webhook's refusal reaches the client as the apiserver words it.
import { ApiError } from '../status.ts';
import type { AdmissionRequest, Cause, KObject } from '../types.ts';
import type { MigrationState } from '../../../kube/migration-state.ts';

/** MigrationSelectorLabel: which VMI a migration moves. */
export const MIGRATION_VMI_LABEL = 'kubevirt.io/vmi-name';
const WEBHOOK = 'migration-create-validator.kubevirt.io';
const FINAL = ['Succeeded', 'Failed'];

const isVmim = (o: KObject) => o.apiVersion?.startsWith('kubevirt.io/') && o.kind === 'VirtualMachineInstanceMigration';
const vmiNameOf = (o: KObject) => (o.spec as { vmiName?: string } | undefined)?.vmiName;

/** A webhook's denial (ToAdmissionResponseError: code 422) as kube-apiserver forwards it, without a reason. */
function denied(message: string): ApiError {
  return new ApiError(422, '', `admission webhook "${WEBHOOK}" denied the request: ${message}`);
}

export function mutateMigration(req: AdmissionRequest): void {
  if (req.operation !== 'CREATE' || !isVmim(req.object)) return;
  const vmi = vmiNameOf(req.object);
  if (vmi) req.object.metadata.labels = { ...req.object.metadata.labels, [MIGRATION_VMI_LABEL]: vmi };
}

export function validateMigration(req: AdmissionRequest): Cause[] {
  if (req.operation !== 'CREATE') return [];
  const ns = req.object.metadata.namespace as string;
  const vmiName = vmiNameOf(req.object);
  if (!vmiName) return [{ reason: 'FieldValueRequired', field: 'spec.vmiName', message: 'vmiName is missing' }];
  const vmi = req.store.get('kubevirt.io/v1', 'VirtualMachineInstance', ns, vmiName);
  if (!vmi) throw denied(`the VMI "${ns}/${vmiName}" does not exist`);
  const status = (vmi.status ?? {}) as { phase?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[]; migrationState?: MigrationState };
  if (FINAL.includes(status.phase ?? '')) throw denied('Cannot migrate VMI in finalized state.');
  const c = status.conditions?.find((x) => x.type === 'LiveMigratable' && x.status === 'False');
  if (c) throw denied(`Cannot migrate VMI, Reason: ${c.reason ?? ''}, Message: ${c.message ?? ''}`);
  // In flight means handed off to virt-handler (the VMI's migrationState), as admitMigrationCreate checks:
  // a migration still Pending (queued, or backing off) does not stop a new one being created.
  const st = status.migrationState;
  if (st?.migrationUid && !st.completed && !st.failed) throw denied(`in-flight migration detected. Active migration job (${st.migrationUid}) is currently already in progress for VMI ${vmiName}.`);
  return [];
}
