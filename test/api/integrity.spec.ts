// The API never loses or corrupts data on bad input, and answers client errors as kube-apiserver
// does (status, reason, field): dry run on every verb, no namespace deletecollection, no rename or
// uid change by PATCH/PUT, size limits, media types, malformed parameters, ObjectMeta validation.
import { test, expect } from '@playwright/test';
import https from 'node:https';
import type { KObject } from '../../src/sim/api/types.ts';
import { type RawResponse, type StatusBody, type TestSim, namespace, rawRequest, startTestSim, vm } from './helpers.ts';

let sim: TestSim;
const NS = 'integrity';
const CM = `/api/v1/namespaces/${NS}/configmaps`;
test.beforeAll(async () => {
  sim = await startTestSim('integrity');
  await sim.objects.create(namespace(NS));
  await sim.objects.create(namespace('integrity-other'));
});
test.afterAll(async () => { await sim?.stop(); });

const cm = (name: string, data: Record<string, string> = { a: '1' }, ns = NS) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data });
const req = (method: string, path: string, body?: unknown, contentType?: string | null) =>
  rawRequest(sim, method, path, body === undefined ? {} : { body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body), contentType });
const status = (r: RawResponse) => r.json() as StatusBody & { details?: { kind?: string; group?: string; causes?: { field: string; message: string; reason: string }[] } };
async function create(name: string, data?: Record<string, string>): Promise<KObject> {
  const r = await req('POST', CM, cm(name, data));
  expect(r.status, r.body).toBe(201);
  return r.json() as unknown as KObject;
}
const get = async (name: string, base = CM) => req('GET', `${base}/${name}`);
const names = async (path = CM) => ((await req('GET', path)).json().items as KObject[]).map((o) => o.metadata.name).sort();

test.describe('dryRun', () => {
  test('DELETE with DeleteOptions{dryRun:[All]} in the body, as kubectl sends it, deletes nothing', async () => {
    const o = await create('dry-body');
    const r = await req('DELETE', `${CM}/dry-body`, { kind: 'DeleteOptions', apiVersion: 'v1', dryRun: ['All'] });
    expect(r.status).toBe(200);
    const after = await get('dry-body');
    expect(after.status).toBe(200);
    expect((after.json() as unknown as KObject).metadata.resourceVersion).toBe(o.metadata.resourceVersion);
  });

  test('DELETE ?dryRun=All deletes nothing', async () => {
    await create('dry-query');
    expect((await req('DELETE', `${CM}/dry-query?dryRun=All`)).status).toBe(200);
    expect((await get('dry-query')).status).toBe(200);
  });

  test('deletecollection honours dryRun from the query and from the body', async () => {
    await create('dc-1');
    await create('dc-2');
    const before = await names();
    const q = await req('DELETE', `${CM}?dryRun=All`);
    expect(q.status).toBe(200);
    expect((q.json().items as KObject[]).length).toBe(before.length);
    const b = await req('DELETE', CM, { kind: 'DeleteOptions', apiVersion: 'v1', dryRun: ['All'] });
    expect(b.status).toBe(200);
    expect(await names()).toEqual(before);
  });

  test('POST, PUT and PATCH with ?dryRun=All store nothing', async () => {
    expect((await req('POST', `${CM}?dryRun=All`, cm('dry-new'))).status).toBe(201);
    expect((await get('dry-new')).status).toBe(404);
    const o = await create('dry-write');
    const put = await req('PUT', `${CM}/dry-write?dryRun=All`, { ...o, data: { a: 'put' } });
    expect(put.status).toBe(200);
    expect((put.json() as unknown as KObject).data).toEqual({ a: 'put' });
    const patch = await req('PATCH', `${CM}/dry-write?dryRun=All`, { data: { a: 'patch' } }, 'application/merge-patch+json');
    expect(patch.status).toBe(200);
    const after = (await get('dry-write')).json() as unknown as KObject;
    expect(after.data).toEqual({ a: '1' });
    expect(after.metadata.resourceVersion).toBe(o.metadata.resourceVersion);
  });

  test('a dryRun value other than All is a 422 naming the options kind and field dryRun', async () => {
    const c = status(await req('POST', `${CM}?dryRun=Yes`, cm('dry-bad')));
    expect(c).toMatchObject({ code: 422, reason: 'Invalid', details: { kind: 'CreateOptions', group: 'meta.k8s.io' } });
    expect(c.message).toBe('CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Yes"}: supported values: "All"');
    expect((await get('dry-bad')).status).toBe(404);
    await create('dry-bad-delete');
    const d = status(await req('DELETE', `${CM}/dry-bad-delete`, { dryRun: ['yes'] }));
    expect(d).toMatchObject({ code: 422, details: { kind: 'DeleteOptions', causes: [{ field: 'dryRun' }] } });
    expect((await get('dry-bad-delete')).status).toBe(200);
  });
});

test('namespaces have no deletecollection: 405 MethodNotAllowed, dry run or not, and nothing is deleted', async () => {
  const before = await names('/api/v1/namespaces');
  for (const path of ['/api/v1/namespaces?dryRun=All', '/api/v1/namespaces']) {
    const r = await req('DELETE', path);
    expect(r.status).toBe(405);
    expect(r.json()).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the server does not allow this method on the requested resource', reason: 'MethodNotAllowed', details: {}, code: 405 });
  }
  expect(await names('/api/v1/namespaces')).toEqual(before);
});

test.describe('PATCH and PUT cannot rename, move or re-uid an object', () => {
  test('a JSON patch replacing /metadata/name is a 400 and creates nothing', async () => {
    const o = await create('ren-src');
    const r = await req('PATCH', `${CM}/ren-src`, [{ op: 'replace', path: '/metadata/name', value: 'ren-dst' }], 'application/json-patch+json');
    expect(r.status).toBe(400);
    expect(status(r)).toMatchObject({ reason: 'BadRequest', message: 'the name of the object (ren-dst) does not match the name on the URL (ren-src)' });
    expect((await get('ren-dst')).status).toBe(404);
    expect(((await get('ren-src')).json() as unknown as KObject).metadata.resourceVersion).toBe(o.metadata.resourceVersion);
  });

  test('renaming onto an existing object leaves that object as it was', async () => {
    await create('ren-a', { who: 'a' });
    const b = await create('ren-b', { who: 'b' });
    for (const [type, body] of [
      ['application/json-patch+json', [{ op: 'replace', path: '/metadata/name', value: 'ren-b' }]],
      ['application/merge-patch+json', { metadata: { name: 'ren-b' } }],
      ['application/strategic-merge-patch+json', { metadata: { name: 'ren-b' } }],
    ] as const) {
      const r = await req('PATCH', `${CM}/ren-a`, body, type);
      expect(r.status, type).toBe(400);
    }
    const after = (await get('ren-b')).json() as unknown as KObject;
    expect(after.data).toEqual({ who: 'b' });
    expect(after.metadata.uid).toBe(b.metadata.uid);
    expect(after.metadata.resourceVersion).toBe(b.metadata.resourceVersion);
  });

  test('a patch moving the object to another namespace is a 400', async () => {
    await create('mv');
    const r = await req('PATCH', `${CM}/mv`, { metadata: { namespace: 'integrity-other' } }, 'application/merge-patch+json');
    expect(status(r)).toMatchObject({ code: 400, message: `the namespace of the object (integrity-other) does not match the namespace on the request (${NS})` });
    expect((await get('mv', '/api/v1/namespaces/integrity-other/configmaps')).status).toBe(404);
  });

  test('a patch changing metadata.uid is a 422: field is immutable', async () => {
    const o = await create('uid-patch');
    const r = await req('PATCH', `${CM}/uid-patch`, { metadata: { uid: 'not-the-uid' } }, 'application/merge-patch+json');
    expect(status(r)).toMatchObject({ code: 422, reason: 'Invalid', details: { causes: [{ field: 'metadata.uid', message: 'Invalid value: "not-the-uid": field is immutable' }] } });
    expect(((await get('uid-patch')).json() as unknown as KObject).metadata.uid).toBe(o.metadata.uid);
  });

  test('PUT: another uid is a failed precondition (409), another name or namespace a 400', async () => {
    const o = await create('put-me');
    const uid = status(await req('PUT', `${CM}/put-me`, { ...o, metadata: { ...o.metadata, uid: 'other' } }));
    expect(uid).toMatchObject({ code: 409, reason: 'Conflict' });
    expect(uid.message).toBe(`Operation cannot be fulfilled on configmaps "put-me": StorageError: invalid object, Code: 4, Key: /registry/configmaps/${NS}/put-me, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: other, UID in object meta: ${o.metadata.uid}`);
    const name = status(await req('PUT', `${CM}/put-me`, { ...o, metadata: { ...o.metadata, name: 'put-other' } }));
    expect(name).toMatchObject({ code: 400, message: 'the name of the object (put-other) does not match the name on the URL (put-me)' });
    const ns = status(await req('PUT', `${CM}/put-me`, { ...o, metadata: { ...o.metadata, namespace: 'integrity-other' } }));
    expect(ns).toMatchObject({ code: 400, message: `the namespace of the object (integrity-other) does not match the namespace on the request (${NS})` });
    expect((await get('put-other')).status).toBe(404);
  });
});

test.describe('size limits', () => {
  test('a body over 3 MiB is a 413 and nothing is stored', async () => {
    const r = await req('POST', CM, cm('huge-body', { a: 'x'.repeat(3 * 1024 * 1024 + 10) }));
    expect(status(r)).toMatchObject({ code: 413, reason: 'RequestEntityTooLarge', message: 'Request entity too large: limit is 3145728' });
    expect((await get('huge-body')).status).toBe(404);
  });

  test('ConfigMap data over 1 MiB is a 422 on field "[]"; Secret data on field data', async () => {
    const c = status(await req('POST', CM, cm('big-cm', { a: 'x'.repeat(1024 * 1024 + 1) })));
    expect(c).toMatchObject({ code: 422, details: { causes: [{ reason: 'FieldValueTooLong', field: '[]', message: 'Too long: must have at most 1048576 bytes' }] } });
    expect(c.message).toBe('ConfigMap "big-cm" is invalid: []: Too long: must have at most 1048576 bytes');
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'big-secret' }, data: { a: Buffer.alloc(1024 * 1024 + 1).toString('base64') } };
    const s = status(await req('POST', `/api/v1/namespaces/${NS}/secrets`, secret));
    expect(s).toMatchObject({ code: 422, details: { causes: [{ field: 'data', message: 'Too long: must have at most 1048576 bytes' }] } });
  });

  test('an object over etcd\'s 1.5 MiB request limit is refused as etcd refuses it, and not stored', async () => {
    const big = vm('too-big', NS);
    (big.spec as Record<string, unknown>).padding = 'x'.repeat(1.6 * 1024 * 1024);
    const r = await req('POST', `/apis/kubevirt.io/v1/namespaces/${NS}/virtualmachines`, big);
    expect(r.status).toBe(500);
    expect(r.json()).toMatchObject({ kind: 'Status', status: 'Failure', message: 'etcdserver: request is too large', code: 500 });
    expect((await get('too-big', `/apis/kubevirt.io/v1/namespaces/${NS}/virtualmachines`)).status).toBe(404);
  });

  test('a 50 MB upload is answered 413 at once, and the server does not keep it in memory', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const started = Date.now();
    const server = new URL(sim.handle.server);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      let sent = 0;
      const r = https.request({ host: server.hostname, port: server.port, path: CM, method: 'POST', ca: sim.handle.caPem,
        headers: { Authorization: `Bearer ${sim.handle.token}`, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      // The server hangs up once it has answered: that ends the upload, not the test.
      r.on('error', (e) => (sent >= 3 * 1024 * 1024 ? undefined : reject(e)));
      const pump = () => {
        while (sent < 50 * 1024 * 1024) {
          sent += chunk.length;
          if (!r.write(chunk)) { r.once('drain', pump); return; }
        }
        r.end();
      };
      pump();
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ reason: 'RequestEntityTooLarge' });
    expect(Date.now() - started).toBeLessThan(15_000);
    const grown = process.memoryUsage().rss - rssBefore;
    expect(grown, `RSS grew by ${Math.round(grown / 1e6)} MB`).toBeLessThan(30 * 1024 * 1024);
  });
});

test.describe('client errors are 4xx', () => {
  test('text/plain on POST and PUT is a 415 listing the accepted media types', async () => {
    const p = status(await req('POST', CM, JSON.stringify(cm('plain')), 'text/plain'));
    expect(p).toMatchObject({ code: 415, reason: 'UnsupportedMediaType', message: 'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf' });
    expect((await get('plain')).status).toBe(404);
    const o = await create('plain-put');
    expect((await req('PUT', `${CM}/plain-put`, JSON.stringify(o), 'text/plain')).status).toBe(415);
    // Custom resources take no protobuf; a PATCH's type is checked by go-restful for built-in kinds.
    const vmPath = `/apis/kubevirt.io/v1/namespaces/${NS}/virtualmachines`;
    expect(status(await req('POST', vmPath, JSON.stringify(vm('plain-vm', NS)), 'text/plain')).message).toBe('the body of the request was in an unknown format - accepted media types include: application/json, application/yaml');
    expect(status(await req('PATCH', `${CM}/plain-put`, '{}', 'text/plain'))).toMatchObject({ code: 415, reason: 'UnsupportedMediaType', message: '415: Unsupported Media Type' });
    expect(status(await req('PATCH', `${vmPath}/x`, '{}', 'application/strategic-merge-patch+json')).message).toBe('the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml');
  });

  test('YAML bodies are taken; a missing Content-Type is JSON', async () => {
    expect((await req('POST', CM, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: as-yaml\n', 'application/yaml')).status).toBe(201);
    expect((await req('POST', CM, JSON.stringify(cm('no-type')), null)).status).toBe(201);
  });

  test('an apply patch that is not YAML is a 400, and so is a bad JSON body', async () => {
    const r = await req('PATCH', `${CM}/bad-yaml?fieldManager=t`, 'metadata: [unclosed\n  : {', 'application/apply-patch+yaml');
    expect(status(r)).toMatchObject({ code: 400, reason: 'BadRequest' });
    expect((await req('POST', CM, '{"kind":', 'application/json')).status).toBe(400);
  });

  test('a malformed %-escape in the path is a 400, as Go\'s request parser answers', async () => {
    const r = await req('GET', `/api/v1/namespaces/${NS}/configmaps/%zz`);
    expect(r.status).toBe(400);
    expect(r.body).toBe('400 Bad Request');
  });

  test('a malformed resourceVersion on watch and list is a 400', async () => {
    for (const q of ['watch=1&resourceVersion=abc', 'resourceVersion=abc', 'resourceVersion=-1&limit=5']) {
      const r = await req('GET', `${CM}?${q}`);
      expect(status(r), q).toMatchObject({ code: 400, reason: 'BadRequest' });
      expect(status(r).message).toContain('invalid resource version');
    }
  });

  test('limit pages with a continue token; a garbage token is a 400', async () => {
    for (const n of ['page-1', 'page-2', 'page-3']) await create(n);
    const all = await names();
    const seen: string[] = [];
    let token = '';
    do {
      const r = (await req('GET', `${CM}?limit=2${token ? `&continue=${encodeURIComponent(token)}` : ''}`)).json() as { items: KObject[]; metadata: { continue?: string } };
      seen.push(...r.items.map((o) => o.metadata.name as string));
      token = r.metadata.continue ?? '';
    } while (token);
    expect(seen.sort()).toEqual(all);
    for (const bad of ['garbage!', 'Zm9v', Buffer.from('{"v":"meta.k8s.io/v1","rv":0,"start":"a"}').toString('base64url')]) {
      const r = status(await req('GET', `${CM}?continue=${bad}`));
      expect(r, bad).toMatchObject({ code: 400, reason: 'BadRequest' });
      expect(r.message).toContain('invalid continue token');
    }
  });

  test('non-integer timeoutSeconds and limit are 400s', async () => {
    for (const q of ['watch=1&timeoutSeconds=soon', 'timeoutSeconds=1.5', 'limit=ten']) {
      expect(status(await req('GET', `${CM}?${q}`)), q).toMatchObject({ code: 400, reason: 'BadRequest' });
    }
  });

  test('metadata of the wrong JSON type is a 400, also through a patch', async () => {
    expect((await req('POST', CM, { ...cm('shape'), metadata: { name: 'shape', labels: ['a'] } })).status).toBe(400);
    await create('shape-patch');
    expect((await req('PATCH', `${CM}/shape-patch`, { metadata: 'x' }, 'application/merge-patch+json')).status).toBe(400);
    expect((await req('PATCH', `${CM}/shape-patch`, [{ op: 'add' }], 'application/json-patch+json')).status).toBe(422);
  });
});

test.describe('ObjectMeta validation', () => {
  test('label keys and values are validated with the apiserver\'s messages on metadata.labels', async () => {
    const bad = async (labels: Record<string, string>) => status(await req('POST', CM, { ...cm('labels'), metadata: { name: 'labels', labels } }));
    const key = await bad({ 'bad key!': 'v' });
    expect(key).toMatchObject({ code: 422, reason: 'Invalid', details: { causes: [{ reason: 'FieldValueInvalid', field: 'metadata.labels' }] } });
    expect(key.details?.causes?.[0].message).toBe("Invalid value: \"bad key!\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
    const long = await bad({ ok: 'v'.repeat(64) });
    expect(long.details?.causes?.[0].message).toBe(`Invalid value: "${'v'.repeat(64)}": must be no more than 63 characters`);
    const prefix = await bad({ 'Example.com/x': 'v' });
    expect(prefix.details?.causes?.[0].message).toContain('prefix part a lowercase RFC 1123 subdomain');
    expect((await get('labels')).status).toBe(404);
    // A patch may not bring them in either.
    await create('labels-patch');
    expect((await req('PATCH', `${CM}/labels-patch`, { metadata: { labels: { k: '-bad-' } } }, 'application/merge-patch+json')).status).toBe(422);
  });

  test('namespace names are DNS labels: 63 characters, no dots, field metadata.name', async () => {
    const long = status(await req('POST', '/api/v1/namespaces', namespace('n'.repeat(64))));
    expect(long).toMatchObject({ code: 422, details: { kind: 'Namespace', causes: [{ field: 'metadata.name', message: `Invalid value: "${'n'.repeat(64)}": must be no more than 63 characters` }] } });
    const dotted = status(await req('POST', '/api/v1/namespaces', namespace('a.b')));
    expect(dotted).toMatchObject({ code: 422, details: { causes: [{ field: 'metadata.name', message: 'Invalid value: "a.b": must not contain dots' }] } });
    expect(dotted.message).toBe('Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": must not contain dots');
    expect((await req('POST', '/api/v1/namespaces', namespace('n'.repeat(63)))).status).toBe(201);
  });
});
