// The live-migration suite under its node-side faults: every check that migrates fails with the
// reason virt-launcher's migration monitor gives; LiveMigratable (a status check) stays green. A
// memory stream on the tenants' link despite the dedicated network fails only the tenant check:
// targetNodeAddress still lies in the network's range.
import { faultMatrix } from './matrix.ts';

const MIG = {
  phases: 'virtctl migrate creates a VMIM that goes',
  survive: 'the VMI keeps its uid and moves node',
  bridge: 'a bridge-binding secondary NIC keeps its MAC and IP',
  masquerade: 'masquerade: the VMI gets the target pod',
  measured: 'migration duration, and the guest downtime',
  drain: 'a node drain moves it',
  limit: 'three migrations run one at a time',
  dedicated: 'with the NAD named in the HyperConverged',
  tenantPod: 'tenant impact of a migration over the pod network',
  tenantDedicated: 'with the dedicated network, tenant traffic',
};
const MIGRATING = [MIG.phases, MIG.survive, MIG.bridge, MIG.masquerade, MIG.measured, MIG.tenantPod, MIG.limit, MIG.dedicated, MIG.tenantDedicated];
/** What a stalled copy fails with (kubevirt pkg/virt-launcher/virtwrap/live-migration-source.go, migrationMonitor). */
const stuck = /ended Failed .*Live migration stuck for \d+ seconds and has been aborted/s;

faultMatrix({
  suites: ['suites/live-migration.spec.ts'],
  // As the suites' own sim (global setup): node NICs at 1 Gbit/s, so a memory stream on the tenants' link shows.
  sim: { nicRateGbps: 1 },
  // A stalled migration fails after progressTimeout (HCO default 150 s): 3 s here, set as a user would.
  setup: async (kube) => {
    await kube.mergePatch({
      apiVersion: 'hco.kubevirt.io/v1beta1', kind: 'HyperConverged', metadata: { name: 'kubevirt-hyperconverged', namespace: 'openshift-cnv' },
      spec: { liveMigrationConfig: { progressTimeout: 3 } },
    });
  },
  // A drain whose migration fails leaves the VM marked for evacuation, retried (with KubeVirt's
  // backoff) into the next case: only the last case drains.
  cases: [
    { fault: 'migration-network-down', fail: MIGRATING, grepInvert: MIG.drain, messages: { [MIG.phases]: stuck, [MIG.bridge]: stuck, [MIG.tenantDedicated]: stuck } },
    { fault: 'migration-network-shared', fail: [MIG.tenantDedicated], messages: { [MIG.tenantDedicated]: /\[threshold\].*tenant p90 RTT ratio, dedicated network/s } },
    { fault: 'migration-stalled', fail: [...MIGRATING, MIG.drain], messages: { [MIG.phases]: stuck, [MIG.survive]: stuck, [MIG.drain]: /kubevirt-evacuation-.*Failed/s } },
  ],
});
