import { test, expect } from '@playwright/test';
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { Guest } from '../../src/guest/guest.ts';
import { generateKeyPair, writeKeyPair } from '../../src/guest/keys.ts';
import { openPortForward, PortForwardError } from '../../src/guest/portforward.ts';
import { startAgent, startFakeApi, ROOT, type AgentHandle, type FakeApi, scratchDir } from './helpers.ts';

const run = promisify(execFile);
const key = generateKeyPair();
let agent: AgentHandle;
let api: FakeApi;

test.beforeAll(async () => {
  agent = await startAgent({ authorizedKeys: [key.publicKey] });
  api = await startFakeApi(agent.port);
});
test.afterAll(async () => {
  await api?.close();
  await agent?.stop();
});

test('Guest.connect + exec over the port-forward websocket', async () => {
  const t0 = performance.now();
  const g = await Guest.connect({ kc: api.kubeconfig, namespace: 'ns1', vmi: 'vm1', user: 'fedora', privateKey: key.privateKey, timeoutMs: 10_000 });
  const t1 = performance.now();
  const r = await g.exec('echo hi; exit 3');
  const t2 = performance.now();
  console.log(`Guest.connect ${(t1 - t0).toFixed(0)}ms; exec round trip ${(t2 - t1).toFixed(1)}ms`);
  expect(r).toEqual({ stdout: 'hi\n', stderr: '', code: 3, signal: null });
  expect(await g.execOk('echo ok')).toBe('ok\n');
  await expect(g.execOk('echo bad >&2; exit 7')).rejects.toThrow("guest ns1/vm1: 'echo bad >&2; exit 7' exited with code 7: bad");
  expect(api.requests).toContain('/apis/subresources.kubevirt.io/v1/namespaces/ns1/virtualmachineinstances/vm1/portforward/22/tcp');
  // Warm round trips through ws + ssh.
  const n = 20;
  const w0 = performance.now();
  for (let i = 0; i < n; i++) await g.exec('true');
  console.log(`exec round trip (warm, mean of ${n}): ${((performance.now() - w0) / n).toFixed(1)}ms`);
  g.close();
});

test('exec timeout rejects with the documented message and kills the command', async () => {
  const g = await Guest.connect({ kc: api.kubeconfig, namespace: 'ns1', vmi: 'vm1', user: 'fedora', privateKey: key.privateKey, timeoutMs: 10_000 });
  const marker = `kvnet-sleep-${process.pid}-${Date.now()}`;
  await expect(g.exec(`sleep 30; echo ${marker}`, { timeoutMs: 300 })).rejects.toThrow(`guest ns1/vm1: 'sleep 30; echo ${marker}' timed out after 300ms`);
  // The connection stays usable and the remote sh is gone.
  await expect.poll(async () => (await g.exec(`pgrep -f '${marker}' || true`)).stdout.split('\n').filter(Boolean).length, { timeout: 3000 }).toBeLessThanOrEqual(1);
  expect((await g.exec('echo still')).stdout).toBe('still\n');
  g.close();
});

test('port-forward upgrade failures carry HTTP status and Status message', async () => {
  const e404 = await openPortForward(api.kubeconfig, 'ns1', 'missing', 22).catch((e: unknown) => e);
  expect(e404).toBeInstanceOf(PortForwardError);
  expect((e404 as PortForwardError).status).toBe(404);
  expect((e404 as Error).message).toBe('portforward ns1/missing:22/tcp: HTTP 404 Not Found: virtualmachineinstance.kubevirt.io "missing" not found');

  await expect(openPortForward(api.kubeconfig, 'ns1', 'stopped', 22)).rejects.toThrow(
    'portforward ns1/stopped:22/tcp: HTTP 409 Conflict: Unable to connect to VirtualMachineInstance because phase is Succeeded instead of Running');

  const bad = new KubeConfig();
  bad.loadFromOptions({
    clusters: [{ name: 'c', server: api.url, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'wrong' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  await expect(openPortForward(bad, 'ns1', 'vm1', 22)).rejects.toThrow('portforward ns1/vm1:22/tcp: HTTP 401 Unauthorized: Unauthorized');
});

test('Guest.connect gives up after its timeout with the last failure', async () => {
  const t0 = Date.now();
  const err = await Guest.connect({ kc: api.kubeconfig, namespace: 'ns1', vmi: 'stopped', user: 'fedora', privateKey: key.privateKey, timeoutMs: 1500 }).catch((e: unknown) => e as Error);
  expect(Date.now() - t0).toBeLessThan(8000); // generous: CI machines are slow
  expect((err as Error).message).toMatch(/^guest ns1\/stopped: SSH as fedora did not answer within \d+ms \(timeout 1500ms\); last failure: attempt \d+: portforward ns1\/stopped:22\/tcp: HTTP 409/);
  const wrongKey = generateKeyPair();
  await expect(Guest.connect({ kc: api.kubeconfig, namespace: 'ns1', vmi: 'vm1', user: 'fedora', privateKey: wrongKey.privateKey, timeoutMs: 5000 }))
    .rejects.toThrow(/last failure: attempt \d+: All configured authentication methods failed/);
});

test('OpenSSH through the ProxyCommand (kvnet ssh-proxy)', async () => {
  test.skip(spawnSync('ssh', ['-V']).error !== undefined, 'no ssh client installed');
  const dir = scratchDir('kvnet-key-');
  const { privateKeyPath } = writeKeyPair(dir, key);
  const proxy = `${process.execPath} --import tsx ${join(ROOT, 'src/guest/proxy-main.ts')} --kubeconfig ${api.kubeconfigPath} ns1 vm1 22`;
  const t0 = performance.now();
  const r = await run('ssh', ['-i', privateKeyPath, '-o', `ProxyCommand=${proxy}`, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-o', 'IdentitiesOnly=yes', 'fedora@vm1', 'echo via-proxy; ip -V'], { cwd: ROOT, timeout: 30_000 });
  console.log(`ssh via ProxyCommand (incl. tsx start): ${(performance.now() - t0).toFixed(0)}ms`);
  expect(r.stdout).toMatch(/^via-proxy\nip utility/);
  // A 404 makes the proxy fail like ssh expects: exit 255 with the reason on stderr.
  const bad = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'src/guest/proxy-main.ts'), '--kubeconfig', api.kubeconfigPath, 'ns1', 'missing'], { cwd: ROOT }).catch((e: unknown) => e as { code: number; stderr: string });
  expect((bad as { code: number }).code).toBe(255);
  expect((bad as { stderr: string }).stderr).toContain('HTTP 404');
});
