// OpenShift's cluster DNS (CoreDNS, run by the DNS operator): a `dns-default` pod in openshift-dns on
// the pod network, a real DNS server process in its netns, and the `dns-default` Service at
// 172.30.0.10 in front of it — so guests reach it through kube-proxy like any other Service. This
// controller feeds the server its records (Services and EndpointSlices → a JSON table it reloads).
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { type Kind, kindOf } from '../api/kinds.ts';
import type { Registry } from '../api/registry.ts';
import type { ServiceSpec } from '../api/service-allocator.ts';
import type { StoreEvent } from '../api/store.ts';
import type { KObject } from '../api/types.ts';
import { bundleEntry } from '../bundle.ts';
import { spawnIn } from '../fabric/exec.ts';
import type { Fabric, PodInfo } from '../fabric/topo.ts';
import { CLUSTER_DOMAIN, type DnsRecords, type RecordSet } from '../dns/answer.ts';
import { Controller } from './controller.ts';
import { SERVICE_NAME_LABEL, type Endpoint } from './endpoints.ts';

const SERVICE = kindOf('v1', 'Service') as Kind;
const SLICE = kindOf('discovery.k8s.io/v1', 'EndpointSlice') as Kind;
const POD = kindOf('v1', 'Pod') as Kind;
const SYNC = 'sync';
const NS = 'openshift-dns';
const NAME = 'dns-default';
const DNS_LABEL = { 'dns.operator.openshift.io/daemonset-dns': 'default' };
/** CoreDNS on OpenShift listens on 5353; the Service maps 53 to it by port name. */
const DNS_PORT = 5353;
const SERVER = join(dirname(fileURLToPath(import.meta.url)), '..', 'dns', 'server.ts');

export interface ClusterDnsOptions {
  serviceIP: string;
  node: string;
}

export class ClusterDns extends Controller {
  private pod?: PodInfo;
  private podName = `${NAME}-${Math.random().toString(36).slice(2, 7)}`;
  private proc?: ChildProcess;
  private down = false;
  private closed = false;
  private readonly recordsFile: string;
  private readonly script: string;

  constructor(api: Registry, private readonly fabric: Fabric, stateDir: string, private readonly o: ClusterDnsOptions) {
    super(api, 'cluster-dns');
    const dir = join(stateDir, 'dns');
    mkdirSync(dir, { recursive: true });
    this.recordsFile = join(dir, 'records.json');
    this.script = bundleEntry(SERVER, join(dir, 'dns-server.cjs'));
  }

  /** The DNS operator's part: the pod (netns + server) and the Service, before the controller runs. */
  async deploy(): Promise<void> {
    this.writeRecords();
    this.pod = await this.fabric.addPod(this.o.node, `${NS}.${this.podName}`);
    await this.startServer();
    const ports = [{ name: 'dns', containerPort: DNS_PORT, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: DNS_PORT, protocol: 'TCP' }];
    this.api.create(POD, NS, {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: this.podName, namespace: NS, labels: { ...DNS_LABEL } },
      spec: { nodeName: this.o.node, containers: [{ name: 'dns', image: 'quay.io/openshift/origin-coredns:4.17', ports }] },
    });
    this.setReady(true);
    this.api.create(SERVICE, NS, {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: NAME, namespace: NS, labels: { 'dns.operator.openshift.io/owning-dns': 'default' } },
      spec: {
        clusterIP: this.o.serviceIP, selector: { ...DNS_LABEL }, type: 'ClusterIP',
        ports: [{ name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' }, { name: 'dns-tcp', port: 53, targetPort: 'dns-tcp', protocol: 'TCP' }],
      },
    });
  }

  /** The dns-down fault: the server process dies and stays down; its pod turns NotReady. */
  async setDown(on: boolean): Promise<void> {
    this.down = on;
    if (on) {
      this.proc?.kill('SIGKILL');
      this.setReady(false);
    } else {
      await this.startServer();
      this.setReady(true);
    }
  }

  private async startServer(): Promise<void> {
    // Still running: neither an exit code nor a signal (a SIGKILLed process keeps exitCode null).
    if (!this.pod || this.closed || (this.proc && this.proc.exitCode === null && this.proc.signalCode === null)) return;
    const proc = spawnIn(this.pod.netns, [process.execPath, this.script, this.recordsFile, String(DNS_PORT)], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).once('line', () => resolve());
      proc.once('exit', (code) => reject(new Error(`cluster DNS server exited (${code}) before it was ready`)));
    });
    // A crash is restarted, as the kubelet restarts a container; the fault's kill is not.
    proc.once('exit', () => {
      if (!this.down && !this.closed) setTimeout(() => void this.startServer().catch((e: Error) => console.error(`cluster-dns: ${e.message}`)), 200);
    });
  }

  private setReady(ready: boolean): void {
    const pod = this.api.tryGet(POD, NS, this.podName);
    if (!pod || !this.pod) return;
    const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    pod.status = {
      phase: 'Running', podIP: this.pod.ipv4, podIPs: [{ ip: this.pod.ipv4 }, ...(this.pod.ipv6 ? [{ ip: this.pod.ipv6 }] : [])],
      conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: ready || type === 'PodScheduled' || type === 'Initialized' ? 'True' : 'False', lastTransitionTime: t })),
      containerStatuses: [{ name: 'dns', ready, started: ready, restartCount: 0, image: 'coredns', imageID: 'coredns', state: ready ? { running: { startedAt: t } } : { terminated: { exitCode: 137, reason: 'Error' } } }],
    };
    this.api.update(POD, NS, this.podName, pod, { subresource: 'status' });
  }

  protected keysFor(e: StoreEvent): string[] {
    return e.kind === SERVICE || e.kind === SLICE ? [SYNC] : [];
  }

  protected override resync(): void {
    this.enqueue(SYNC);
  }

  protected async reconcile(): Promise<void> {
    this.writeRecords();
  }

  private writeRecords(): void {
    const records: Record<string, RecordSet> = {};
    const add = (name: string, ip: string) => {
      const set = (records[name.toLowerCase()] ??= {});
      const list = (set[ip.includes(':') ? 'AAAA' : 'A'] ??= []);
      if (!list.includes(ip)) list.push(ip);
    };
    for (const svc of this.api.store.list(SERVICE)) {
      const spec = svc.spec as ServiceSpec;
      if (!spec || spec.type === 'ExternalName') continue;
      const ns = svc.metadata.namespace as string;
      const fqdn = `${svc.metadata.name}.${ns}.svc.${CLUSTER_DOMAIN}`;
      if (spec.clusterIP !== 'None') {
        records[fqdn] = {};
        for (const ip of spec.clusterIPs ?? []) add(fqdn, ip);
        continue;
      }
      // Headless: the ready endpoints themselves, plus <hostname>.<service> for pods that name it as their subdomain.
      records[fqdn] = {};
      const slices = this.api.store.list(SLICE, ns).filter((s) => s.metadata.labels?.[SERVICE_NAME_LABEL] === svc.metadata.name);
      for (const ep of slices.flatMap((s) => (s.endpoints ?? []) as Endpoint[])) {
        if (!ep.conditions.ready) continue;
        for (const ip of ep.addresses) {
          add(fqdn, ip);
          if (ep.hostname) add(`${ep.hostname}.${fqdn}`, ip);
        }
      }
    }
    const db: DnsRecords = { zone: CLUSTER_DOMAIN, records };
    writeFileSync(`${this.recordsFile}.tmp`, JSON.stringify(db));
    renameSync(`${this.recordsFile}.tmp`, this.recordsFile);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stop();
    this.proc?.kill('SIGKILL');
    if (this.pod) await this.fabric.removePod(this.pod.name).catch(() => undefined);
  }
}
