// The HTTP face of the sim: the Kubernetes REST API over Registry, with bearer-token auth,
// Table output for kubectl, chunked watches, and KubeVirt's subresource verbs.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeObjectBody, mediaType, mustClose, parseJson, parseYaml, readBody } from './body.ts';
import { apiGroupDoc, apiGroupList, apiVersions, resourceList, KUBEVIRT_SUBRESOURCES } from './discovery.ts';
import { type EvictionWebhook, evictPod } from './eviction.ts';
import { type Kind, apiVersionOf, kindByPlural } from './kinds.ts';
import { openapiGroupVersion, openapiRoot } from './openapi.ts';
import type { PatchType, Registry, WatchEvent } from './registry.ts';
import { type ListParams, deleteOptions, encodeContinue, listParams, queryDryRun } from './request-options.ts';
import { ApiError, errors } from './status.ts';
import { toTable } from './table.ts';
import type { KObject } from './types.ts';

/** Who the bearer token authenticates: a cluster admin, no KubeVirt service account (admission tells them apart). */
export const CLIENT_USER = 'kube:admin';

export const KUBERNETES_VERSION = { major: '1', minor: '31', gitVersion: 'v1.31.0-kvnet-sim', platform: 'linux/amd64', goVersion: 'n/a', compiler: 'n/a', gitCommit: 'kvnet', gitTreeState: 'clean', buildDate: '2026-01-01T00:00:00Z' };

/** virt-api's verbs; the sim's controllers provide them. */
export interface KubevirtSubresources {
  vmAction(action: 'start' | 'stop' | 'restart' | 'migrate', namespace: string, name: string, body: unknown): Promise<void>;
  /** A byte stream to `port` inside the guest. Throws ApiError 404/409 when the VMI is missing or not running. */
  portForward(namespace: string, vmi: string, port: number, protocol: 'tcp' | 'udp'): Promise<Duplex>;
}

export interface ApiServerOptions {
  registry: Registry;
  token: string;
  subresources?: KubevirtSubresources;
  /** Validating webhooks on pods/eviction (virt-api's launcher interceptor), in order. */
  evictionWebhooks?: EvictionWebhook[];
  /** Seconds between watch bookmarks. */
  bookmarkSeconds?: number;
  /** Serving certificate; kubectl sends credentials only over TLS. */
  tls: { certPem: string; keyPem: string };
}

interface Route {
  kind: Kind;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const COMMA = Buffer.from(',');
const CLOSE_LIST = Buffer.from(']}');

const PATCH_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};
/** The patch types a custom resource's 415 lists (apiextensions' crdHandler): no strategic merge. */
const CRD_PATCH_TYPES = Object.keys(PATCH_TYPES).filter((t) => PATCH_TYPES[t] !== 'strategic');

/** Go's net/http answer to a request line it cannot parse (url.ParseRequestURI failed). */
class MalformedRequest extends Error {}

export class ApiServer {
  readonly http: https.Server;
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has('plain.kubevirt.io') ? 'plain.kubevirt.io' : false) });
  private readonly open = new Set<Duplex | http.ServerResponse>();
  address = '';

  constructor(private readonly opts: ApiServerOptions) {
    this.http = https.createServer({ cert: opts.tls.certPem, key: opts.tls.keyPem }, (req, res) => {
      this.handle(req, res).catch((err) => this.fail(res, err));
    });
    this.http.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.http.keepAliveTimeout = 30_000;
  }

  /** Listens on a TCP port of 127.0.0.1 (0 = any free one) or on a unix socket path. */
  async listen(target: number | string = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      if (typeof target === 'string') this.http.listen(target, resolve);
      else this.http.listen(target, '127.0.0.1', resolve);
    });
    const a = this.http.address();
    this.address = typeof a === 'string' ? a : `127.0.0.1:${(a as AddressInfo).port}`;
    return this.address;
  }

  async close(): Promise<void> {
    for (const s of this.open) (s as Duplex).destroy?.();
    for (const c of this.wss.clients) c.terminate();
    this.http.closeAllConnections();
    await new Promise<void>((r) => this.http.close(() => r()));
  }

  private get registry(): Registry {
    return this.opts.registry;
  }

  private authorized(req: http.IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.opts.token}`;
  }

  private send(res: http.ServerResponse, code: number, body: unknown): void {
    this.sendBytes(res, code, Buffer.from(JSON.stringify(body)));
  }

  /** Bytes, not a string: Node's TLS writev re-encodes a large string on every write. */
  private sendBytes(res: http.ServerResponse, code: number, bytes: Buffer): void {
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': bytes.length });
    res.end(bytes);
  }

  private fail(res: http.ServerResponse, err: unknown): void {
    if (res.headersSent) { res.destroy(); return; }
    if (err instanceof MalformedRequest) {
      res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
      res.end('400 Bad Request');
      return;
    }
    const e = err instanceof ApiError ? err : new ApiError(500, 'InternalError', `Internal error occurred: ${(err as Error)?.message ?? String(err)}`);
    if (!(err instanceof ApiError)) console.error(err);
    if (mustClose(res.req)) {
      // An unread body: answer, half-close, and drop the connection after Go's lingering delay.
      res.setHeader('Connection', 'close');
      res.on('finish', () => setTimeout(() => res.req.socket?.destroy(), 500).unref());
    }
    this.send(res, e.code, e.toStatus());
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = requestUrl(req);
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (['/healthz', '/livez', '/readyz'].includes(path)) { res.writeHead(200, { 'Content-Type': 'text/plain' }); res.end('ok'); return; }
    if (!this.authorized(req)) throw errors.unauthorized();
    if (path === '/version') return this.send(res, 200, KUBERNETES_VERSION);
    if (path === '/api') return this.send(res, 200, apiVersions(this.address));
    if (path === '/apis') return this.send(res, 200, apiGroupList());
    if (path === '/openapi/v3') return this.send(res, 200, openapiRoot());
    if (path.startsWith('/openapi/v3/')) {
      const doc = openapiGroupVersion(path.slice('/openapi/v3/'.length));
      if (!doc) throw errors.pathNotFound();
      return this.send(res, 200, doc);
    }
    const parts = path.split('/').filter(Boolean).map(decodePathSegment);
    let group: string, version: string, rest: string[];
    if (parts[0] === 'api') [group, version, rest] = ['', parts[1], parts.slice(2)];
    else if (parts[0] === 'apis') [group, version, rest] = [parts[1], parts[2], parts.slice(3)];
    else throw errors.pathNotFound();
    if (parts[0] === 'apis' && parts.length === 2) {
      const g = apiGroupDoc(group);
      if (!g) throw errors.pathNotFound();
      return this.send(res, 200, g);
    }
    if (!rest.length) {
      const list = resourceList(group, version);
      if (!list) throw errors.pathNotFound();
      return this.send(res, 200, list);
    }
    if (group === KUBEVIRT_SUBRESOURCES.group) return this.kubevirtVerb(req, res, rest);
    const route = this.route(group, version, rest);
    // go-restful answers a method no route has before any handler reads the body.
    if (req.method === 'DELETE' && !route.name && route.kind.kind === 'Namespace' && !route.kind.group) throw errors.methodNotAllowed();
    const body = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(req.method ?? '') ? await readBody(req) : undefined;
    await this.dispatch(req, res, url, route, body);
  }

  private route(group: string, version: string, rest: string[]): Route {
    let namespace: string | undefined;
    let segs = rest;
    const nsKind = kindByPlural('', 'v1', 'namespaces') as Kind;
    if (segs[0] === 'namespaces' && segs.length >= 3 && !(group === '' && ['status', 'finalize'].includes(segs[2]))) {
      namespace = segs[1];
      segs = segs.slice(2);
    }
    const [plural, name, subresource, ...extra] = segs;
    const kind = plural === 'namespaces' && !group ? nsKind : kindByPlural(group, version, plural);
    if (!kind || extra.length) throw errors.pathNotFound();
    if (namespace && !kind.namespaced) throw errors.pathNotFound();
    const eviction = subresource === 'eviction' && kind.kind === 'Pod' && !kind.group;
    if (subresource && !(subresource === 'status' && kind.status) && !(subresource === 'finalize' && kind === nsKind) && !eviction) throw errors.pathNotFound();
    return { kind, namespace, name, subresource };
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse, url: URL, r: Route, raw: Buffer | undefined): Promise<void> {
    const q = url.searchParams;
    const { kind, namespace, name } = r;
    const method = req.method ?? 'GET';
    const fieldManager = q.get('fieldManager') ?? undefined;
    const subresource = r.subresource === 'status' || r.subresource === 'finalize' ? ('status' as const) : undefined;
    const reg = this.registry;
    const accept = String(req.headers.accept ?? '');
    const wantsTable = /as=Table/.test(accept);

    if (r.subresource === 'eviction') {
      // The eviction subresource has a create route only (policy/v1 Eviction, kubectl drain's request).
      if (method !== 'POST' || !name) throw errors.methodNotAllowed();
      const body = decodeObjectBody(req, raw, true);
      return this.send(res, 201, evictPod(reg, kind, namespace as string, name, body, queryDryRun(q, 'CreateOptions'), this.opts.evictionWebhooks ?? []));
    }

    if (method === 'GET' && !name) {
      const lp = listParams(q);
      if (q.get('watch') === 'true' || q.get('watch') === '1') return this.watch(req, res, kind, namespace, q, wantsTable, lp);
      // Shared (uncloned) objects: they are only serialized below, never mutated.
      const all = reg.listShared(kind, namespace, { labelSelector: q.get('labelSelector'), fieldSelector: q.get('fieldSelector') });
      const { items, resourceVersion, listMeta } = paginate(all.items, all.resourceVersion, namespace, lp);
      // The Table carries the page's continue token too: kubectl get follows it.
      if (wantsTable) return this.send(res, 200, { ...toTable(kind, items, resourceVersion, q.get('includeObject')), metadata: listMeta });
      if (/as=PartialObjectMetadataList/.test(accept)) {
        return this.send(res, 200, { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata: listMeta, items: items.map((o) => ({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata })) });
      }
      const head = JSON.stringify({ kind: `${kind.kind}List`, apiVersion: apiVersionOf(kind), metadata: listMeta }).slice(0, -1);
      const parts: Buffer[] = [Buffer.from(`${head},"items":[`)];
      items.forEach((o, i) => { if (i) parts.push(COMMA); parts.push(reg.store.json(o)); });
      parts.push(CLOSE_LIST);
      return this.sendBytes(res, 200, Buffer.concat(parts));
    }
    if (method === 'GET' && name) {
      const o = reg.getShared(kind, namespace, name);
      if (wantsTable) return this.send(res, 200, toTable(kind, [o], o.metadata.resourceVersion as string, q.get('includeObject')));
      return this.sendBytes(res, 200, reg.store.json(o));
    }
    if (method === 'POST' && !name) {
      const body = decodeObjectBody(req, raw, !!kind.builtin) as KObject;
      const dryRun = queryDryRun(q, 'CreateOptions');
      return this.send(res, 201, reg.create(kind, namespace, body, { dryRun, fieldManager, user: CLIENT_USER }));
    }
    if (method === 'PUT' && name) {
      const body = decodeObjectBody(req, raw, !!kind.builtin) as KObject;
      const dryRun = queryDryRun(q, 'UpdateOptions');
      return this.send(res, 200, reg.update(kind, namespace, name, body, { subresource, dryRun, fieldManager, user: CLIENT_USER }));
    }
    if (method === 'PATCH' && name) {
      const type = PATCH_TYPES[mediaType(req)];
      if (!type || (type === 'strategic' && !kind.builtin)) {
        // Built-in PATCH routes declare Consumes, so go-restful refuses first, with its own message;
        // custom resources reach the patch handler, which lists its types.
        throw kind.builtin ? new ApiError(415, 'UnsupportedMediaType', '415: Unsupported Media Type', {}) : errors.unsupportedMediaType(CRD_PATCH_TYPES);
      }
      // patch.go: an apply body that is not YAML is the client's error (400).
      const body = type === 'apply' ? parseYaml(raw) : parseJson(raw);
      const dryRun = queryDryRun(q, 'PatchOptions');
      const existed = !!reg.tryGet(kind, namespace, name);
      const out = reg.patch(kind, namespace, name, type, body, { subresource, dryRun, fieldManager, force: q.get('force') === 'true', user: CLIENT_USER });
      return this.send(res, type === 'apply' && !existed ? 201 : 200, out);
    }
    if (method === 'DELETE') {
      const opts = deleteOptions(req, raw, q);
      if (!name) {
        listParams(q);
        const items = reg.deleteCollection(kind, namespace, { labelSelector: q.get('labelSelector'), fieldSelector: q.get('fieldSelector'), propagationPolicy: opts.propagationPolicy, dryRun: opts.dryRun });
        return this.send(res, 200, { kind: `${kind.kind}List`, apiVersion: apiVersionOf(kind), metadata: {}, items });
      }
      return this.send(res, 200, reg.delete(kind, namespace, name, opts));
    }
    throw errors.methodNotAllowed();
  }

  private watch(req: http.IncomingMessage, res: http.ServerResponse, kind: Kind, namespace: string | undefined, q: URLSearchParams, table: boolean, lp: ListParams): void {
    const bookmarks = q.get('allowWatchBookmarks') === 'true';
    const timeout = lp.timeoutSeconds ?? 0;
    let columnsSent = false;
    const write = (e: WatchEvent) => {
      let object = e.object as KObject;
      if (table && e.type !== 'BOOKMARK' && e.type !== 'ERROR') {
        const t = toTable(kind, [object], String(object.metadata.resourceVersion), q.get('includeObject'));
        if (columnsSent) delete t.columnDefinitions;
        columnsSent = true;
        object = t as unknown as KObject;
      }
      res.write(`${JSON.stringify({ type: e.type, object })}\n`);
    };
    let stop: () => void;
    try {
      // Fails before any bytes are written when the resourceVersion is too old.
      const buffered: WatchEvent[] = [];
      let live = false;
      stop = this.registry.watch(kind, namespace, { labelSelector: q.get('labelSelector'), fieldSelector: q.get('fieldSelector'), resourceVersion: q.get('resourceVersion') }, (e) => (live ? write(e) : buffered.push(e)));
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
      res.flushHeaders();
      live = true;
      buffered.forEach(write);
    } catch (err) {
      if (err instanceof ApiError && err.code === 410) {
        // Real servers report an expired resourceVersion inside the stream.
        res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
        res.end(`${JSON.stringify({ type: 'ERROR', object: err.toStatus() })}\n`);
        return;
      }
      throw err;
    }
    this.open.add(res);
    const timers: NodeJS.Timeout[] = [];
    if (bookmarks) {
      timers.push(setInterval(() => write({ type: 'BOOKMARK', object: { kind: kind.kind, apiVersion: apiVersionOf(kind), metadata: { resourceVersion: String(this.registry.store.resourceVersion) } } }), (this.opts.bookmarkSeconds ?? 10) * 1000));
    }
    if (timeout > 0) timers.push(setTimeout(() => res.end(), timeout * 1000));
    const done = () => { stop(); timers.forEach(clearTimeout); this.open.delete(res); };
    res.on('close', done);
    req.on('close', done);
  }

  private async kubevirtVerb(req: http.IncomingMessage, res: http.ServerResponse, rest: string[]): Promise<void> {
    const sub = this.opts.subresources;
    const [nsWord, namespace, plural, name, verb] = rest;
    if (nsWord !== 'namespaces' || !sub) throw errors.pathNotFound();
    if (plural === 'virtualmachines' && ['start', 'stop', 'restart', 'migrate'].includes(verb) && rest.length === 5) {
      // virtctl sends PUT; kubectl --subresource and some clients use PATCH/POST.
      if (!['PUT', 'POST', 'PATCH'].includes(req.method ?? '')) throw errors.methodNotAllowed();
      const raw = await readBody(req);
      await sub.vmAction(verb as 'start', namespace, name, raw.length ? parseJson(raw) : {});
      res.writeHead(202, { 'Content-Type': 'text/plain' });
      res.end();
      return;
    }
    throw errors.pathNotFound();
  }

  /** VMI port-forward: a websocket (subprotocol plain.kubevirt.io) whose binary frames are the TCP bytes. */
  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const reject = (e: ApiError) => {
      const body = JSON.stringify(e.toStatus());
      socket.end(`HTTP/1.1 ${e.code} ${http.STATUS_CODES[e.code]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    };
    const url = new URL(req.url ?? '/', 'http://sim');
    const m = /^\/apis\/subresources\.kubevirt\.io\/v1\/namespaces\/([^/]+)\/virtualmachineinstances\/([^/]+)\/portforward\/(\d+)(?:\/(tcp|udp))?\/?$/.exec(url.pathname);
    if (!this.authorized(req)) return reject(errors.unauthorized());
    if (!m || !this.opts.subresources) return reject(errors.pathNotFound());
    const [, ns, vmi, portText, proto] = m;
    const port = Number(portText);
    if (!(port >= 1 && port <= 65535)) return reject(errors.badRequest(`invalid port ${portText}`));
    this.opts.subresources.portForward(ns, vmi, port, (proto ?? 'tcp') as 'tcp').then(
      (stream) => {
        this.wss.handleUpgrade(req, socket, head, (ws) => this.pipe(ws, stream));
      },
      (err) => reject(err instanceof ApiError ? err : new ApiError(500, 'InternalError', String((err as Error)?.message ?? err))),
    );
  }

  private pipe(ws: WebSocket, stream: Duplex): void {
    this.open.add(stream);
    stream.on('data', (chunk: Buffer) => ws.readyState === ws.OPEN && ws.send(chunk, { binary: true }));
    stream.on('end', () => ws.close(1000));
    stream.on('error', () => ws.close(1011));
    stream.on('close', () => { this.open.delete(stream); if (ws.readyState === ws.OPEN) ws.close(1000); });
    ws.on('message', (data: Buffer) => stream.write(data));
    ws.on('close', () => stream.end());
    ws.on('error', () => stream.destroy());
  }
}

function requestUrl(req: http.IncomingMessage): URL {
  const raw = req.url ?? '/';
  if (!raw.startsWith('/')) throw new MalformedRequest();
  try {
    return new URL(`http://sim${raw}`);
  } catch {
    throw new MalformedRequest();
  }
}

/** A path segment, unescaped; a bad %-escape fails the request line as Go's url parser does. */
function decodePathSegment(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    throw new MalformedRequest();
  }
}

/**
 * limit/continue over the key-ordered list, as etcd3's GetList: the token carries the list's
 * resourceVersion and the next key. Later pages read the current store (the sim keeps no snapshots).
 */
function paginate(items: KObject[], resourceVersion: string, namespace: string | undefined, lp: ListParams): { items: KObject[]; resourceVersion: string; listMeta: Record<string, unknown> } {
  const key = (o: KObject) => (namespace || !o.metadata.namespace ? (o.metadata.name as string) : `${o.metadata.namespace}/${o.metadata.name}`);
  const rv = lp.continueToken ? String(lp.continueToken.rv) : resourceVersion;
  let page = items;
  if (lp.continueToken) {
    const start = lp.continueToken.start;
    page = page.filter((o) => key(o) >= start);
  }
  if (!lp.limit || lp.limit <= 0 || page.length <= lp.limit) return { items: page, resourceVersion: rv, listMeta: { resourceVersion: rv } };
  const shown = page.slice(0, lp.limit);
  const token = encodeContinue({ rv: Number(rv), start: `${key(shown[shown.length - 1])}\0` });
  return { items: shown, resourceVersion: rv, listMeta: { resourceVersion: rv, continue: token, remainingItemCount: page.length - shown.length } };
}
