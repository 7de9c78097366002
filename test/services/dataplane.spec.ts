// Service networking on the sim's data plane, the way a user meets it: the seed's §8.3.3 and §8.4
// manifests applied with kubectl, `kubectl get service`, and from inside a guest the cluster DNS
// (UDP and TCP, NXDOMAIN with SOA) and `ping myvm.mysubdomain.<ns>.svc.cluster.local`.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from '@playwright/test';
import { SEED_DIR } from '../api/helpers.ts';
import { DataPlaneSim, type TestVm } from '../sim/helpers.ts';

test.describe.configure({ mode: 'serial' });

const run = promisify(execFile);
let sim: DataPlaneSim;
let probe: TestVm;
const SEED = ['00-namespaces.yaml', '8.3.3-vm-service-label.yaml', '8.3.3-service.yaml', '8.4.1-headless-service.yaml', '8.4.2-vm-hostname-subdomain.yaml'];
const FQDN = 'myvm.mysubdomain.kvnet-seed.svc.cluster.local';

async function kubectl(...args: string[]): Promise<string> {
  const r = await run('kubectl', ['--kubeconfig', sim.sim.kubeconfig, ...args], { timeout: 30_000 });
  return r.stdout;
}

test.beforeAll(async () => {
  sim = await DataPlaneSim.start('services');
  probe = await sim.vm({ name: 'probe', node: 'node-1' });
});
test.afterAll(async () => {
  await sim?.stop();
});

test("kubectl apply of the seed's §8.3.3 and §8.4 manifests, then kubectl get service shows types and ports", async () => {
  for (const f of SEED) await kubectl('apply', '-f', join(SEED_DIR, f));
  const example = await kubectl('get', 'service', '-n', 'example-namespace');
  expect(example).toMatch(/example-service\s+NodePort\s+172\.30\.\d+\.\d+\s+<none>\s+80:30000\/TCP/);
  const seed = await kubectl('get', 'service', '-n', 'kvnet-seed', 'mysubdomain');
  expect(seed).toMatch(/mysubdomain\s+ClusterIP\s+None\s+<none>\s+1234\/TCP/);
});

test('from inside a guest, ping myvm.mysubdomain.<ns>.svc.cluster.local resolves to the VM and answers', async () => {
  const vmi = await sim.kube.waitFor(async () => {
    const v = await sim.kube.get('kubevirt.io/v1', 'VirtualMachineInstance', 'kvnet-seed', 'vm-fedora');
    return (v?.status as { phase?: string } | undefined)?.phase === 'Running' ? v : undefined;
  }, { what: 'vm-fedora Running', timeoutMs: 60_000 });
  const podIP = (vmi.status as { interfaces: { ipAddress: string }[] }).interfaces[0].ipAddress;
  const out = await sim.kube.waitFor(async () => {
    const r = await probe.guest.exec(`ping -n -c 2 -i 0.2 -W 2 ${FQDN}`);
    return r.code === 0 ? r.stdout : undefined;
  }, { what: `ping ${FQDN}`, timeoutMs: 15_000, intervalMs: 300 });
  expect(out).toContain(`PING ${FQDN} (${podIP})`);
  expect(out).toMatch(/2 received/);
});

test('cluster DNS answers over UDP and TCP at 172.30.0.10, and NXDOMAIN with the SOA for unknown names', async () => {
  const udp = await probe.guest.execOk(`dig +short +time=2 +tries=1 @172.30.0.10 ${FQDN} A`);
  const tcp = await probe.guest.execOk(`dig +short +tcp +time=2 +tries=1 @172.30.0.10 ${FQDN} A`);
  expect(udp.trim()).toMatch(/^10\.128\.\d+\.\d+$/);
  expect(tcp.trim()).toBe(udp.trim());
  const aaaa = await probe.guest.execOk(`dig +short +time=2 +tries=1 @172.30.0.10 ${FQDN} AAAA`);
  expect(aaaa.trim(), 'the seed\'s headless service is SingleStack IPv4: no AAAA').toBe('');
  const svc = await probe.guest.execOk('dig +short +time=2 +tries=1 @172.30.0.10 example-service.example-namespace.svc.cluster.local');
  expect(svc.trim()).toMatch(/^172\.30\.\d+\.\d+$/);
  const nx = await probe.guest.exec('dig +time=2 +tries=1 @172.30.0.10 nosuch.kvnet-seed.svc.cluster.local');
  expect(nx.stdout).toContain('status: NXDOMAIN');
  expect(nx.stdout).toMatch(/AUTHORITY SECTION:\s*\ncluster\.local\.\s+\d+\s+IN\s+SOA/);
});

test('the headless record follows the VM: stopping vm-fedora removes myvm.mysubdomain within seconds', async () => {
  await kubectl('patch', 'vm', 'vm-fedora', '-n', 'kvnet-seed', '--type=merge', '-p', '{"spec":{"runStrategy":"Halted"}}');
  await sim.kube.waitFor(async () => {
    const r = await probe.guest.exec(`dig +short +time=1 +tries=1 @172.30.0.10 ${FQDN}`);
    return r.code === 0 && r.stdout.trim() === '';
  }, { what: `${FQDN} to stop resolving`, timeoutMs: 15_000, intervalMs: 200 });
});
