// removeNncp never swallows a failed cleanup: it still deletes the policy, then names what may be left.
import { expect, test } from '@playwright/test';
import { removeNncp } from '../../src/fixtures/secondary.ts';
import type { Kube, KObject } from '../../src/kube/client.ts';

const policy: KObject = {
  apiVersion: 'nmstate.io/v1', kind: 'NodeNetworkConfigurationPolicy', metadata: { name: 'p', generation: 1 },
  spec: { desiredState: { interfaces: [{ name: 'br1', type: 'linux-bridge' }], ovn: { 'bridge-mappings': [{ localnet: 'ln1', bridge: 'br-ex' }] } } },
};
const enactment = (cond: 'Available' | 'Failing', gen = 2): KObject => ({ metadata: { name: `node-1.p` }, status: { policyGeneration: gen, conditions: [{ type: cond, status: 'True', message: cond === 'Failing' ? 'br1 is busy' : '' }] } });

function fakeKube(o: { apply?: () => Promise<unknown>; enactments?: KObject[]; deleteFails?: boolean }): { kube: Kube; calls: string[] } {
  const calls: string[] = [];
  const kube = {
    get: async () => structuredClone(policy),
    apply: async (x: KObject) => { calls.push(`apply ${JSON.stringify((x.spec as { desiredState: unknown }).desiredState)}`); return o.apply ? o.apply() : x; },
    list: async () => o.enactments ?? [],
    waitFor: async <T>(check: () => Promise<T | undefined | false>, w: { what?: string }) => {
      const v = await check();
      if (v === undefined || v === false) throw new Error(`timed out waiting for ${w.what}`);
      return v;
    },
    delete: async () => { calls.push('delete'); if (o.deleteFails) throw new Error('403 forbidden'); },
  } as unknown as Kube;
  return { kube, calls };
}

test('the healthy path sets everything absent, waits for the enactments, deletes the policy', async () => {
  const f = fakeKube({ enactments: [enactment('Available')] });
  await removeNncp(f.kube, 'p');
  expect(f.calls).toEqual(['apply {"interfaces":[{"name":"br1","type":"linux-bridge","state":"absent"}],"ovn":{"bridge-mappings":[{"localnet":"ln1","state":"absent"}]}}', 'delete']);
});

test('a refused apply still deletes the policy, then throws naming what may be left', async () => {
  const f = fakeKube({ apply: () => Promise.reject(new Error('422 invalid')) });
  await expect(removeNncp(f.kube, 'p')).rejects.toThrow('removeNncp p: setting interface br1, bridge-mapping ln1 absent failed, so the nodes may still have them: 422 invalid');
  expect(f.calls.at(-1)).toBe('delete');
});

test('a failing enactment and a failed delete are both reported', async () => {
  const f = fakeKube({ enactments: [enactment('Failing')], deleteFails: true });
  await expect(removeNncp(f.kube, 'p')).rejects.toThrow(/enactments failing: node-1\.p: br1 is busy; deleting the policy failed: 403 forbidden$/);
});

test('enactments that never report the new generation time out, and the error says so', async () => {
  const f = fakeKube({ enactments: [enactment('Available', 1)] });
  await expect(removeNncp(f.kube, 'p')).rejects.toThrow(/timed out waiting for NNCP p to apply state: absent/);
  expect(f.calls.at(-1)).toBe('delete');
});
