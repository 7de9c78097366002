// Every seed manifest is admitted: first against a store holding all seed
// objects, then applied in file order as `kubectl apply -f dir/` would.
import { test, expect } from '@playwright/test';
import { join } from 'node:path';
import { validate } from '../../src/sim/modules/index.ts';
import { FakeStore, SEED_DIR, loadObjects, request, yamlFiles } from './helpers.ts';

const files = yamlFiles(SEED_DIR);
const all = files.flatMap((f) => loadObjects(join(SEED_DIR, f)).map((o) => ({ file: f, o })));
const fullStore = new FakeStore();
all.forEach(({ o }) => fullStore.put(o));

test('the seed folder covers every example named in the brief', () => {
  for (const f of [
    '8.2.1-masquerade-vm.yaml', '8.2.2-dual-stack-vm.yaml', '8.3.3-vm-service-label.yaml', '8.3.3-service.yaml',
    '8.4.1-headless-service.yaml', '8.4.2-vm-hostname-subdomain.yaml', '8.5.1-nncp.yaml', '8.5.2-bridge-nad.yaml',
    '8.5.3-vm-bridge.yaml', '8.6.1-sriov-policy.yaml', '8.6.2-sriov-network.yaml', '8.6.3-vm-sriov.yaml',
    '8.7.1-machineconfigpool.yaml', '8.7.1-performanceprofile.yaml', '8.7.1-sriov-policy-dpdk.yaml',
    '8.7.2-sriov-network-dpdk.yaml', '8.7.3-vm-dpdk.yaml', '8.8.1-l2-nad.yaml', '8.8.1-localnet-nad.yaml',
    '8.8.2-vm-ovn.yaml', '8.9.2-vm-hotplug.yaml', '8.9.3-vm-hotunplug.yaml', '8.10-vm-istio.yaml',
    '8.10-service-istio.yaml', '8.11-1-migration-nad.yaml', '8.11-2-hyperconverged.yaml', '8.12-vm-dhcp.yaml',
    '8.12-vm-static-ip.yaml', '8.13-hyperconverged-dns.yaml', '8.13-vm-secondary.yaml', '00-namespaces.yaml',
  ]) expect(files).toContain(f);
});

for (const { file, o } of all) {
  test(`${file}: ${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name} is admitted`, () => {
    expect(validate(request(o, { store: fullStore }))).toEqual([]);
  });
}

for (const dualStack of [true, false]) {
  test(`applying the seed folder in file order is admitted (dualStack=${dualStack})`, () => {
    const store = new FakeStore();
    for (const { file, o } of all) {
      const old = store.get(o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name ?? '');
      const causes = validate(request(o, { store, operation: old ? 'UPDATE' : 'CREATE', oldObject: old, dualStack }));
      expect(causes, `${file} ${o.kind}/${o.metadata.name}`).toEqual([]);
      store.put(o);
    }
  });
}

test('seed objects keep placeholders out: no "<...>" left', () => {
  for (const { file, o } of all) expect(JSON.stringify(o), file).not.toMatch(/<[a-z_]+>/);
});
