// Property-based fuzzing of the API server with fast-check: random verbs, paths, bodies, content
// types and query parameters (dryRun, resourceVersion, continue, limit, timeoutSeconds...). Whatever
// is sent, the server answers no 5xx, and the store stays sound: one uid per object, resourceVersions
// that only grow, and a watch whose history replays to exactly what a final list shows.
import { test, expect } from '@playwright/test';
import fc from 'fast-check';
import https from 'node:https';
import type { KObject } from '../../src/sim/api/types.ts';
import { type TestSim, eventually, namespace, rawRequest, startTestSim } from './helpers.ts';

let sim: TestSim;
const NAMESPACES = ['fz-a', 'fz-b'];
test.beforeAll(async () => {
  sim = await startTestSim('fuzz');
  for (const n of NAMESPACES) await sim.objects.create(namespace(n));
});
test.afterAll(async () => { await sim?.stop(); });

interface WatchEvent { type: string; object: KObject }

/** A raw cluster-wide watch that records every event, from `rv` on. */
function recordWatch(path: string, rv: string): { events: WatchEvent[]; stop(): void } {
  const events: WatchEvent[] = [];
  const server = new URL(sim.handle.server);
  let buf = '';
  const req = https.request({ host: server.hostname, port: server.port, path: `${path}?watch=1&resourceVersion=${rv}`, ca: sim.handle.caPem, headers: { Authorization: `Bearer ${sim.handle.token}` } }, (res) => {
    res.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) events.push(JSON.parse(line) as WatchEvent);
      }
    });
    res.on('error', () => undefined);
  });
  req.on('error', () => undefined);
  req.end();
  return { events, stop: () => req.destroy() };
}

// ---- generators --------------------------------------------------------------------------------

const NAMES = ['a', 'b', 'c', 'Bad_Name', 'x'.repeat(260), ''];
const name = fc.constantFrom(...NAMES.slice(0, 3), ...NAMES);
const ns = fc.constantFrom(...NAMESPACES, 'missing', 'a.b', '%zz', '');
const labelKey = fc.oneof(fc.constantFrom('app', 'kvnet.io/x', 'bad key', '/x', 'a/b/c', `k${'y'.repeat(70)}`), fc.string({ maxLength: 12 }));
const labelValue = fc.oneof(fc.constantFrom('v', '', '-bad', 'v'.repeat(64)), fc.string({ maxLength: 12 }));
const labels = fc.option(fc.dictionary(labelKey, labelValue, { maxKeys: 3 }), { nil: undefined });
const jsonValue = fc.jsonValue({ maxDepth: 3 });

const configMap = fc.record({
  apiVersion: fc.constantFrom('v1', 'v1', 'v2'),
  kind: fc.constantFrom('ConfigMap', 'ConfigMap', 'Secret'),
  metadata: fc.record({
    name: fc.option(name, { nil: undefined }),
    generateName: fc.option(fc.constantFrom('gen-', 'Gen'), { nil: undefined }),
    namespace: fc.option(ns, { nil: undefined }),
    labels,
    uid: fc.option(fc.constantFrom('u-1', ''), { nil: undefined }),
    resourceVersion: fc.option(fc.oneof(fc.nat({ max: 500 }).map(String), fc.constantFrom('abc', '-1')), { nil: undefined }),
  }, { requiredKeys: [] }),
  data: fc.option(fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }), { nil: undefined }),
}, { requiredKeys: ['metadata'] });

const jsonPatch = fc.array(fc.record({
  op: fc.constantFrom('add', 'replace', 'remove', 'move', 'copy', 'test', 'bogus'),
  path: fc.oneof(fc.constantFrom('/metadata/name', '/metadata/namespace', '/metadata/uid', '/metadata/labels', '/metadata/labels/app', '/data', '/data/a', '/metadata', '', '/kind'), fc.string({ maxLength: 8 })),
  value: jsonValue,
  from: fc.constantFrom('/data', '/metadata/name', '/nope'),
}, { requiredKeys: ['op'] }), { maxLength: 3 });

const mergePatch = fc.oneof(
  fc.record({ metadata: fc.record({ name: name, namespace: ns, uid: fc.constantFrom('u-2', ''), labels, resourceVersion: fc.constantFrom('1', 'abc') }, { requiredKeys: [] }), data: fc.option(fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(fc.string({ maxLength: 8 }), fc.constant(null))), { nil: undefined }) }, { requiredKeys: [] }),
  jsonValue,
);

const CONTENT_TYPES = ['application/json', 'application/yaml', 'text/plain', 'application/merge-patch+json', 'application/json-patch+json',
  'application/strategic-merge-patch+json', 'application/apply-patch+yaml', 'application/json; charset=utf-8', '*/*', ''];

const query = fc.record({
  dryRun: fc.constantFrom('All', 'all', 'x'),
  resourceVersion: fc.oneof(fc.constantFrom('0', 'abc', '-1', '99999999999999999999999'), fc.nat({ max: 1000 }).map(String)),
  continue: fc.oneof(fc.constantFrom('garbage', 'eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiJhXHUwMDAwIn0', ''), fc.base64String({ maxLength: 16 })),
  limit: fc.constantFrom('1', '2', '0', '-1', 'x'),
  timeoutSeconds: fc.constantFrom('1', 'x', '1.5'),
  labelSelector: fc.constantFrom('app', 'app=v', '!app', 'app in (v)', 'bad==', '=x'),
  fieldSelector: fc.constantFrom('metadata.name=a', 'metadata.namespace!=fz-a', 'spec.x=1', 'nonsense'),
  propagationPolicy: fc.constantFrom('Background', 'Orphan', 'Sideways'),
  fieldManager: fc.constantFrom('fuzz', ''),
  force: fc.constantFrom('true', 'false'),
}, { requiredKeys: [] });

interface FuzzRequest { method: string; path: string; body?: string; contentType?: string; query: Record<string, string>; replace?: boolean }

const resource = fc.constantFrom('configmaps', 'configmaps', 'secrets');
const path = fc.oneof(
  fc.tuple(ns, resource).map(([n, r]) => `/api/v1/namespaces/${n}/${r}`),
  fc.tuple(ns, resource, name).map(([n, r, x]) => `/api/v1/namespaces/${n}/${r}/${x}`),
  fc.constantFrom('/api/v1/configmaps', '/api/v1/namespaces', '/api/v1/namespaces/fz-a', '/api/v1/namespaces/fz-a/configmaps/a/status', '/api/v1/namespaces/fz-a/configmaps/%E0%A4%A', '/apis/nope/v1/things'),
);
const body = fc.oneof(
  configMap.map((o) => JSON.stringify(o)),
  jsonPatch.map((o) => JSON.stringify(o)),
  mergePatch.map((o) => JSON.stringify(o)),
  fc.constantFrom('', '{', 'null', '[]', '"x"', 'kind: ConfigMap\nmetadata: {name: y}', 'a: [', '{"kind":"DeleteOptions","dryRun":["All"]}', '{"dryRun":"All"}'),
  fc.string({ maxLength: 30 }),
);

// Well-formed requests on real objects, so the fuzz reaches the store and not only the error paths.
const realNs = fc.constantFrom(...NAMESPACES);
const realName = fc.constantFrom('a', 'b', 'c');
const goodLabels = fc.option(fc.dictionary(fc.constantFrom('app', 'kvnet.io/x', 'tier'), fc.constantFrom('v', 'w', '')), { nil: undefined });
const someQuery = fc.record({ dryRun: fc.constantFrom('All'), fieldManager: fc.constantFrom('fuzz'), propagationPolicy: fc.constantFrom('Background', 'Orphan') }, { requiredKeys: [] })
  .map((q) => q as Record<string, string>);
const wellFormed: fc.Arbitrary<FuzzRequest> = fc.oneof(
  fc.tuple(realNs, realName, goodLabels, fc.dictionary(fc.constantFrom('a', 'b'), fc.string({ maxLength: 5 })), someQuery).map(([n, x, l, data, q]) => ({
    method: 'POST', path: `/api/v1/namespaces/${n}/configmaps`, contentType: 'application/json', query: q,
    body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: x, labels: l }, data }),
  })),
  fc.tuple(realNs, realName, fc.oneof(
    mergePatch.map((p) => ['application/merge-patch+json', p] as const),
    mergePatch.map((p) => ['application/strategic-merge-patch+json', p] as const),
    jsonPatch.map((p) => ['application/json-patch+json', p] as const),
    fc.record({ data: fc.dictionary(fc.constantFrom('a', 'b'), fc.string({ maxLength: 5 })), metadata: fc.record({ labels: goodLabels }) })
      .map((p) => ['application/apply-patch+yaml', { apiVersion: 'v1', kind: 'ConfigMap', ...p }] as const),
  ), someQuery).map(([n, x, [type, p], q]) => ({
    method: 'PATCH', path: `/api/v1/namespaces/${n}/configmaps/${x}`, contentType: type, body: JSON.stringify(p),
    query: type === 'application/apply-patch+yaml' ? { ...q, fieldManager: 'fuzz' } : q,
  })),
  fc.tuple(realNs, realName, mergePatch, someQuery).map(([n, x, p, q]) => ({
    method: 'PUT', path: `/api/v1/namespaces/${n}/configmaps/${x}`, contentType: 'application/json', body: JSON.stringify(p), query: q, replace: true,
  })),
  fc.tuple(realNs, fc.option(realName, { nil: undefined }), fc.option(fc.constantFrom('{"dryRun":["All"]}', '{"propagationPolicy":"Orphan"}', '{}'), { nil: undefined }), someQuery)
    .map(([n, x, b, q]) => ({ method: 'DELETE', path: `/api/v1/namespaces/${n}/configmaps${x ? `/${x}` : ''}`, contentType: 'application/json', body: b, query: q })),
);

const anything: fc.Arbitrary<FuzzRequest> = fc.record({
  method: fc.constantFrom('GET', 'POST', 'POST', 'PUT', 'PATCH', 'PATCH', 'DELETE', 'OPTIONS'),
  path, body: fc.option(body, { nil: undefined }), contentType: fc.constantFrom(...CONTENT_TYPES), query,
  replace: fc.boolean(),
}, { requiredKeys: ['method', 'path', 'query'] }).map((r) => ({ ...r, query: r.query as Record<string, string> }));

const request = fc.oneof({ arbitrary: wellFormed, weight: 3 }, { arbitrary: anything, weight: 2 });

async function send(r: FuzzRequest): Promise<{ status: number; body: string }> {
  let { body: payload } = r;
  // Half the PUTs start from the object as it is, so updates get past the name and version checks.
  if (r.method === 'PUT' && r.replace && payload) {
    const cur = await rawRequest(sim, 'GET', r.path);
    if (cur.status === 200) {
      const o = JSON.parse(cur.body) as KObject;
      let patch: unknown;
      try { patch = JSON.parse(payload); } catch { patch = {}; }
      const meta = patch && typeof patch === 'object' && !Array.isArray(patch) ? (patch as { metadata?: object }).metadata : undefined;
      payload = JSON.stringify({ ...o, metadata: { ...o.metadata, ...(meta && typeof meta === 'object' ? meta : {}) } });
    }
  }
  const qs = new URLSearchParams(Object.entries(r.query)).toString();
  const res = await rawRequest(sim, r.method, `${r.path}${qs ? `?${qs}` : ''}`, payload === undefined ? {} : { body: payload, contentType: r.contentType || null });
  return { status: res.status, body: res.body };
}

// ---- the property --------------------------------------------------------------------------------

test('random requests: no 5xx, one uid per object, growing resourceVersions, watch history = final list', async () => {
  test.setTimeout(90_000);
  const start = (await rawRequest(sim, 'GET', '/api/v1/configmaps')).json().metadata as { resourceVersion: string };
  const watch = recordWatch('/api/v1/configmaps', start.resourceVersion);
  const failures: string[] = [];
  const tally = new Map<string, number>();
  try {
    await fc.assert(fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 20 }), async (reqs) => {
      for (const r of reqs) {
        const res = await send(r);
        const k = `${r.method} ${res.status}`;
        tally.set(k, (tally.get(k) ?? 0) + 1);
        if (res.status >= 500) {
          failures.push(`${r.method} ${r.path} ${JSON.stringify(r.query)} ${r.contentType} ${r.body ?? ''} → ${res.status} ${res.body}`);
          return false;
        }
      }
      return true;
    }), { numRuns: 400, interruptAfterTimeLimit: 20_000, markInterruptAsFailure: false });
  } finally {
    expect(failures, failures.join('\n')).toEqual([]);
  }

  console.log([...tally].sort().map(([k, n]) => `${k}: ${n}`).join(', '));
  // The fuzz must reach the store, not only its error paths.
  for (const verb of ['POST 201', 'PATCH 200', 'DELETE 200']) expect(tally.get(verb) ?? 0, verb).toBeGreaterThan(0);

  // Store invariants, from a final list of each kind.
  for (const kind of ['configmaps', 'secrets']) {
    const list = (await rawRequest(sim, 'GET', `/api/v1/${kind}`)).json() as { metadata: { resourceVersion: string }; items: KObject[] };
    const uids = list.items.map((o) => o.metadata.uid);
    expect(new Set(uids).size, `${kind}: one uid per object`).toBe(uids.length);
    for (const o of list.items) expect(Number(o.metadata.resourceVersion)).toBeLessThanOrEqual(Number(list.metadata.resourceVersion));
  }

  // The watch's history replays to the final list; its resourceVersions only grow; a uid never moves.
  const final = (await rawRequest(sim, 'GET', '/api/v1/configmaps')).json() as { items: KObject[] };
  // Objects untouched since the watch began are not in its history.
  const want = new Map(final.items.filter((o) => Number(o.metadata.resourceVersion) > Number(start.resourceVersion)).map((o) => [`${o.metadata.namespace}/${o.metadata.name}`, `${o.metadata.uid}@${o.metadata.resourceVersion}`]));
  const replay = () => {
    const state = new Map<string, string>();
    const home = new Map<string, string>();
    let last = Number(start.resourceVersion);
    for (const e of watch.events) {
      const key = `${e.object.metadata.namespace}/${e.object.metadata.name}`;
      const rv = Number(e.object.metadata.resourceVersion);
      if (!(rv > last)) throw new Error(`resourceVersion went from ${last} to ${rv} (${e.type} ${key})`);
      last = rv;
      const uid = e.object.metadata.uid as string;
      if (home.has(uid) && home.get(uid) !== key) throw new Error(`uid ${uid} moved from ${home.get(uid)} to ${key}`);
      home.set(uid, key);
      if (e.type === 'DELETED') state.delete(key);
      else state.set(key, `${uid}@${e.object.metadata.resourceVersion}`);
    }
    return state;
  };
  try {
    await eventually(() => {
      const got = replay();
      return got.size === want.size && [...want].every(([k, v]) => got.get(k) === v);
    }, 10_000, 'the watch history to replay to the final list');
  } finally {
    watch.stop();
  }
  expect([...replay()].sort()).toEqual([...want].sort());
});
