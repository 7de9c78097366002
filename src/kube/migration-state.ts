// VMI `status.migrationState` (kubevirt.io/api core/v1 VirtualMachineInstanceMigrationState): the
// fields the sim writes and the harness reads, one shape for both.
export interface MigrationState {
  migrationUid?: string;
  sourceNode?: string;
  sourcePod?: string;
  targetNode?: string;
  targetPod?: string;
  targetNodeAddress?: string;
  startTimestamp?: string;
  endTimestamp?: string;
  completed?: boolean;
  failed?: boolean;
  failureReason?: string;
  abortRequested?: boolean;
  abortStatus?: 'Succeeded' | 'Failed' | 'Aborting';
  mode?: 'PreCopy' | 'PostCopy' | 'Paused';
}
