// pathMtu against a real 1400-byte MTU link: two network namespaces joined by a veth.
// Needs root and `ip netns`; skipped otherwise. Namespaces are removed afterwards.
import { execSync } from 'node:child_process';
import { test, expect } from '@playwright/test';
import { pathMtu } from '../../src/probes/path-mtu.ts';
import { shq, type Exec } from '../../src/probes/target.ts';
import { localExec } from './local-exec.ts';

const a = `kvnp-a-${process.pid}`;
const b = `kvnp-b-${process.pid}`;
const sh = (c: string): void => { execSync(c, { stdio: 'pipe' }); };
const inNs = (ns: string): Exec => ({ id: ns, exec: (cmd, o) => localExec.exec(`ip netns exec ${ns} sh -c ${shq(cmd)}`, o) });

let ready = false;
test.beforeAll(() => {
  try {
    sh(`ip netns add ${a} && ip netns add ${b}`);
    sh(`ip link add va${process.pid % 10000} netns ${a} type veth peer name vb${process.pid % 10000} netns ${b}`);
    const va = `va${process.pid % 10000}`;
    const vb = `vb${process.pid % 10000}`;
    sh(`ip -n ${a} addr add 10.99.7.1/24 dev ${va} && ip -n ${b} addr add 10.99.7.2/24 dev ${vb}`);
    sh(`ip -n ${a} -6 addr add fd99:7::1/64 dev ${va} nodad && ip -n ${b} -6 addr add fd99:7::2/64 dev ${vb} nodad`);
    sh(`ip -n ${a} link set ${va} mtu 1400 up && ip -n ${b} link set ${vb} mtu 1400 up`);
    ready = true;
  } catch { /* not root or no netns support: tests skip */ }
});
test.afterAll(() => {
  for (const ns of [a, b]) { try { sh(`ip netns del ${ns}`); } catch { /* never created */ } }
});

test('pathMtu converges on a 1400 MTU veth (v4 and v6)', async () => {
  test.skip(!ready, 'needs root and ip netns');
  const r4 = await pathMtu(inNs(a), '10.99.7.2', { family: 4, hi: 9000 });
  expect(r4).toMatchObject({ maxPayload: 1372, pathMtu: 1400, capped: false });
  const r6 = await pathMtu(inNs(a), 'fd99:7::2', { family: 6, hi: 9000 });
  expect(r6).toMatchObject({ maxPayload: 1352, pathMtu: 1400, capped: false });
});
