// Discovery, nodes, /version and authentication, through kubectl and client-node.
import { test, expect } from '@playwright/test';
import * as k8s from '@kubernetes/client-node';
import { KINDS, apiVersionOf } from '../../src/sim/api/kinds.ts';
import { NO_KUBECTL, type TestSim, hasKubectl, kubectl, rawRequest, startTestSim } from './helpers.ts';

let sim: TestSim;
test.beforeAll(async () => { sim = await startTestSim('discovery'); });
test.afterAll(async () => { await sim?.stop(); });

const SHORT_NAMES: Record<string, string> = {
  VirtualMachine: 'vm', VirtualMachineInstance: 'vmi', VirtualMachineInstanceMigration: 'vmim',
  NetworkAttachmentDefinition: 'net-attach-def', NodeNetworkConfigurationPolicy: 'nncp', HyperConverged: 'hco',
};

test.describe('kubectl', () => {
  test.skip(!hasKubectl, NO_KUBECTL);

  test('api-resources lists every kind under its group, with the short names', async () => {
    const r = await kubectl(sim, ['api-resources', '--no-headers']);
    expect(r.code, r.stderr).toBe(0);
    // NAME [SHORTNAMES] APIVERSION NAMESPACED KIND: short names are the only optional column.
    const rows = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/)).map((c) => ({
      name: c[0], short: c.length === 5 ? c[1].split(',') : [], apiVersion: c[c.length - 3], namespaced: c[c.length - 2], kind: c[c.length - 1],
    }));
    for (const k of KINDS) {
      const row = rows.find((x) => x.kind === k.kind && x.apiVersion === apiVersionOf(k));
      expect(row, `${k.kind} in ${apiVersionOf(k)}`).toBeTruthy();
      expect(row?.name).toBe(k.plural);
      expect(row?.namespaced).toBe(String(k.namespaced));
      expect(row?.short).toEqual(k.shortNames ?? []);
    }
    for (const [kind, short] of Object.entries(SHORT_NAMES)) {
      expect(rows.find((x) => x.kind === kind)?.short, kind).toContain(short);
    }
  });

  test('short names resolve: get vm, vmi, vmim, net-attach-def, nncp, hco', async () => {
    for (const short of Object.values(SHORT_NAMES)) {
      const r = await kubectl(sim, ['get', short, '-A']);
      expect(r.code, `${short}: ${r.stderr}`).toBe(0);
    }
    const hco = await kubectl(sim, ['get', 'hco', '-n', 'openshift-cnv', '-o', 'name']);
    expect(hco.stdout.trim()).toBe('hyperconverged.hco.kubevirt.io/kubevirt-hyperconverged');
  });

  test('get nodes shows node-1 and node-2 Ready', async () => {
    const r = await kubectl(sim, ['get', 'nodes', '--no-headers']);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
    expect(rows.map((c) => c[0]).sort()).toEqual(['node-1', 'node-2']);
    for (const c of rows) expect(c[1]).toBe('Ready');
  });

  test('version reports the server', async () => {
    const r = await kubectl(sim, ['version', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const v = JSON.parse(r.stdout) as { serverVersion?: { major: string; minor: string; gitVersion: string } };
    expect(v.serverVersion?.major).toBe('1');
    expect(v.serverVersion?.gitVersion).toMatch(/^v1\.\d+\.\d+/);
  });

  test('a wrong token is refused with Unauthorized', async () => {
    const r = await kubectl(sim, ['get', 'nodes', '--token', 'not-the-token']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Unauthorized|must be logged in/);
  });
});

test.describe('client-node', () => {
  test('/version', async () => {
    const v = await sim.kc.makeApiClient(k8s.VersionApi).getCode();
    expect(v.major).toBe('1');
    expect(v.gitVersion).toMatch(/^v1\.\d+\.\d+/);
  });

  test('API groups and resources cover every kind, with short names', async () => {
    const groups = await sim.kc.makeApiClient(k8s.ApisApi).getAPIVersions();
    const names = groups.groups.map((g) => g.name);
    for (const k of KINDS) if (k.group) expect(names, k.group).toContain(k.group);
    for (const k of KINDS) {
      const path = k.group ? `/apis/${k.group}/${k.version}` : '/api/v1';
      const res = await rawRequest(sim, 'GET', path);
      expect(res.status).toBe(200);
      const list = res.json() as { resources: { name: string; kind: string; namespaced: boolean; shortNames?: string[] }[] };
      const entry = list.resources.find((r) => r.name === k.plural);
      expect(entry?.kind, k.kind).toBe(k.kind);
      expect(entry?.namespaced).toBe(k.namespaced);
      expect(entry?.shortNames ?? []).toEqual(k.shortNames ?? []);
      if (k.status) expect(list.resources.map((r) => r.name)).toContain(`${k.plural}/status`);
    }
    const core = await sim.core.getAPIResources();
    expect(core.resources.map((r) => r.name)).toEqual(expect.arrayContaining(['namespaces', 'nodes', 'pods', 'services', 'configmaps']));
  });

  test('nodes node-1 and node-2 are Ready', async () => {
    const nodes = await sim.core.listNode();
    expect(nodes.items.map((n) => n.metadata?.name).sort()).toEqual(['node-1', 'node-2']);
    for (const n of nodes.items) expect(n.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });
});

test.describe('authentication', () => {
  test('no Authorization header → Status 401', async () => {
    const res = await rawRequest(sim, 'GET', '/api/v1/namespaces', { token: null });
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ kind: 'Status', code: 401, reason: 'Unauthorized', status: 'Failure' });
  });

  test('a wrong bearer token → Status 401, through client-node too', async () => {
    const res = await rawRequest(sim, 'GET', '/version', { token: 'wrong' });
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ kind: 'Status', code: 401 });
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: sim.handle.server, caData: Buffer.from(sim.handle.caPem).toString('base64') }],
      users: [{ name: 'u', token: 'wrong' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const err = await kc.makeApiClient(k8s.CoreV1Api).listNode().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(k8s.ApiException);
    expect((err as k8s.ApiException<unknown>).code).toBe(401);
  });

  test('the right token with the CA works on the raw path', async () => {
    const res = await rawRequest(sim, 'GET', '/version');
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ major: '1' });
  });
});
