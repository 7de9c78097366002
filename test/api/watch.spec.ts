// Watches: ADDED → MODIFIED → DELETED for one object, replay from an old resourceVersion,
// bookmarks, and `kubectl get vm -w`.
import { test, expect } from '@playwright/test';
import * as k8s from '@kubernetes/client-node';
import { ApiServer } from '../../src/sim/api/server.ts';
import { DEFAULT_SETTINGS, SimCluster } from '../../src/sim/cluster.ts';
import { seedCluster } from '../../src/sim/modules/index.ts';
import { makeServingCert } from '../../src/sim/tls.ts';
import type { KObject } from '../../src/sim/api/types.ts';
import { NO_KUBECTL, type TestSim, VM_GVR, eventually, hasKubectl, kubectl, namespace, startTestSim, vm } from './helpers.ts';

let sim: TestSim;
test.beforeAll(async () => {
  sim = await startTestSim('watch');
  await sim.objects.create(namespace('w'));
});
test.afterAll(async () => { await sim?.stop(); });

const VMS = '/apis/kubevirt.io/v1/namespaces/w/virtualmachines';

interface Seen { type: string; name: string; rv: string; labels: Record<string, string> }

/** Starts a client-node watch and collects its events until stopped. */
async function collect(kc: k8s.KubeConfig, path: string, query: Record<string, string | boolean>): Promise<{ events: Seen[]; ended: () => boolean; stop: () => void }> {
  const events: Seen[] = [];
  let done = false;
  const ctl = await new k8s.Watch(kc).watch(path, query, (type: string, obj: KObject) => {
    events.push({ type, name: obj.metadata?.name ?? '', rv: String(obj.metadata?.resourceVersion ?? ''), labels: obj.metadata?.labels ?? {} });
  }, () => { done = true; });
  return { events, ended: () => done, stop: () => ctl.abort() };
}

async function currentRv(): Promise<string> {
  const list = (await sim.custom.listNamespacedCustomObject({ ...VM_GVR, namespace: 'w' })) as { metadata: { resourceVersion: string } };
  return list.metadata.resourceVersion;
}

/** Create, label, delete one VM: three writes, three events. */
async function lifecycle(name: string): Promise<void> {
  await sim.custom.createNamespacedCustomObject({ ...VM_GVR, namespace: 'w', body: vm(name, 'w') });
  await sim.custom.patchNamespacedCustomObject(
    { ...VM_GVR, namespace: 'w', name, body: { metadata: { labels: { step: 'modified' } } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
  await sim.custom.deleteNamespacedCustomObject({ ...VM_GVR, namespace: 'w', name });
}

test('client-node Watch sees ADDED, MODIFIED, DELETED in order', async () => {
  const w = await collect(sim.kc, VMS, { resourceVersion: await currentRv() });
  try {
    await lifecycle('vm-live');
    const mine = await eventually(() => {
      const e = w.events.filter((x) => x.name === 'vm-live');
      return e.length >= 3 && e;
    }, 5000, 'three watch events');
    expect(mine.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    expect(mine[1].labels).toEqual({ step: 'modified' });
    const rvs = mine.map((e) => Number(e.rv));
    expect([...rvs].sort((a, b) => a - b)).toEqual(rvs);
    expect(new Set(rvs).size).toBe(3);
  } finally {
    w.stop();
  }
});

test('a watch without resourceVersion starts with ADDED for what exists', async () => {
  await sim.custom.createNamespacedCustomObject({ ...VM_GVR, namespace: 'w', body: vm('vm-existing', 'w') });
  const w = await collect(sim.kc, VMS, {});
  try {
    const e = await eventually(() => w.events.find((x) => x.name === 'vm-existing'), 5000, 'initial ADDED');
    expect(e.type).toBe('ADDED');
  } finally {
    w.stop();
    await sim.custom.deleteNamespacedCustomObject({ ...VM_GVR, namespace: 'w', name: 'vm-existing' });
  }
});

test('a watch from an old resourceVersion replays the backlog', async () => {
  const from = await currentRv();
  await lifecycle('vm-past');
  const w = await collect(sim.kc, VMS, { resourceVersion: from });
  try {
    const mine = await eventually(() => {
      const e = w.events.filter((x) => x.name === 'vm-past');
      return e.length >= 3 && e;
    }, 5000, 'replayed events');
    expect(mine.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    for (const e of mine) expect(Number(e.rv)).toBeGreaterThan(Number(from));
  } finally {
    w.stop();
  }
});

test('a label-selected watch turns selector changes into ADDED / DELETED', async () => {
  const w = await collect(sim.kc, VMS, { resourceVersion: await currentRv(), labelSelector: 'step=modified' });
  try {
    await lifecycle('vm-selected');
    const mine = await eventually(() => {
      const e = w.events.filter((x) => x.name === 'vm-selected');
      return e.length >= 2 && e;
    }, 5000, 'selected events');
    expect(mine.map((e) => e.type)).toEqual(['ADDED', 'DELETED']);
  } finally {
    w.stop();
  }
});

test.describe('bookmarks', () => {
  // startSim does not expose the bookmark interval; ApiServer does (bookmarkSeconds), so this
  // one check runs against a bare control plane with a 1 s interval instead of the default 10 s.
  let server: ApiServer;
  let cluster: SimCluster;
  let kc: k8s.KubeConfig;
  test.beforeAll(async () => {
    const tls = makeServingCert();
    cluster = new SimCluster(DEFAULT_SETTINGS);
    seedCluster(cluster.registry, cluster.settings);
    cluster.start();
    server = new ApiServer({ registry: cluster.registry, token: 'bookmark-token', tls, bookmarkSeconds: 1 });
    await server.listen(0);
    kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `https://${server.address}`, caData: Buffer.from(tls.caPem).toString('base64') }],
      users: [{ name: 'u', token: 'bookmark-token' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
  });
  test.afterAll(async () => {
    cluster?.stop();
    await server?.close();
  });

  test('allowWatchBookmarks=true gets BOOKMARK events carrying the current resourceVersion', async () => {
    const w = await collect(kc, '/api/v1/namespaces/default/configmaps', { allowWatchBookmarks: true, resourceVersion: '1' });
    try {
      const bm = await eventually(() => w.events.find((e) => e.type === 'BOOKMARK'), 5000, 'a bookmark');
      expect(Number(bm.rv)).toBe(cluster.registry.store.resourceVersion);
    } finally {
      w.stop();
    }
  });

  test('without allowWatchBookmarks no BOOKMARK is sent', async () => {
    const w = await collect(kc, '/api/v1/namespaces/default/configmaps', { resourceVersion: '1' });
    await new Promise((r) => setTimeout(r, 2500));
    w.stop();
    expect(w.events.filter((e) => e.type === 'BOOKMARK')).toEqual([]);
  });
});

test('timeoutSeconds ends the watch from the server side', async () => {
  const w = await collect(sim.kc, VMS, { timeoutSeconds: '1' });
  await eventually(() => w.ended(), 5000, 'the watch to end');
});

test('kubectl get vm -w prints the listed and then the added object', async () => {
  test.skip(!hasKubectl, NO_KUBECTL);
  await sim.custom.createNamespacedCustomObject({ ...VM_GVR, namespace: 'w', body: vm('vm-before', 'w') });
  const run = kubectl(sim, ['get', 'vm', '-n', 'w', '-w', '--no-headers'], { timeoutMs: 5000 });
  // Give kubectl time to list and open its watch; the create must arrive as a watch event.
  await new Promise((r) => setTimeout(r, 2000));
  await sim.custom.createNamespacedCustomObject({ ...VM_GVR, namespace: 'w', body: vm('vm-watched', 'w') });
  const r = await run;
  const names = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/)[0]);
  expect(names, r.stderr).toContain('vm-before');
  expect(names).toContain('vm-watched');
  expect(names.indexOf('vm-before')).toBeLessThan(names.indexOf('vm-watched'));
});
