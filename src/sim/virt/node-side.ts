// What virt-controller's migration stages ask of the node side (the virt-handlers on the source and
// target nodes). The data plane implements it; the stage golden tests use a packet-free fake.
import type { KObject } from '../api/types.ts';

export interface MigrationPlan {
  /** The VMIM's metadata.uid (status.migrationState.migrationUid). */
  migrationUid: string;
  namespace: string;
  vmiName: string;
  vmiUid: string;
  sourcePod: string;
  targetPod: string;
  sourceNode: string;
  targetNode: string;
  /** Bytes of guest memory to copy (the VM's memory scaled by the sim's `migrationMemoryScale`). */
  memoryBytes: number;
  /** KubeVirt migrations.bandwidthPerMigration in bytes/s; 0 = unlimited. */
  bandwidthBytesPerSec: number;
  /** KubeVirt migrations.progressTimeout (s): no progress for this long fails the migration. */
  progressTimeoutS: number;
  /** KubeVirt migrations.completionTimeoutPerGiB (s per GiB of memory): the whole copy's bound. */
  completionTimeoutPerGiB: number;
}

export interface MigrationProgress { dataTotalBytes: number; dataProcessedBytes: number; dataRemainingBytes: number }

export interface NodeSide {
  /**
   * Target virt-handler, once the target pod is bound to plan.targetNode: make the pod's sandbox (netns,
   * pod IP, every NIC binding prepared), mark the pod Running, and listen for the memory stream.
   * Resolves with the address the source sends memory to (status.migrationState.targetNodeAddress).
   */
  prepareTarget(plan: MigrationPlan): Promise<{ targetNodeAddress: string }>;
  /**
   * Source virt-handler: stream memoryBytes over TCP to targetNodeAddress (paced to the bandwidth), then
   * cut the guest over: disconnect its NICs from the source launcher, connect them to the target's, and
   * release the source. Resolves once the guest runs behind the target pod. Rejects with an Error whose
   * message is the failure reason (the guest keeps running on the source) on progressTimeoutS without
   * progress, on completionTimeoutPerGiB * GiB overall, or when `signal` aborts.
   */
  migrate(plan: MigrationPlan, targetNodeAddress: string, onProgress: (p: MigrationProgress) => void, signal: AbortSignal): Promise<void>;
  /** Undo a prepared target that will not be used (the migration failed or was cancelled). */
  abortTarget(plan: MigrationPlan): Promise<void>;
  /** Whether every NIC binding of this running VMI can migrate: true, or the reason it cannot (LiveMigratable). */
  migratable(namespace: string, vmiName: string): true | string;
}
