// Golden stage tests: each test/sim/stages/*.yaml is input objects, a script of steps and the expected
// phase sequences and final status, run against a control-plane-only sim (no packets) whose node side
// is a fake: a stand-in virt-handler marks Scheduled VMIs Running, and a fake NodeSide resolves at once,
// holds until released, or fails on request.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { parse } from 'yaml';
import { ApiError } from '../../../src/sim/api/status.ts';
import type { KObject } from '../../../src/sim/api/types.ts';
import { DEFAULT_SETTINGS } from '../../../src/sim/cluster.ts';
import { VirtApi } from '../../../src/sim/controllers/virt-api.ts';
import { Sim } from '../../../src/sim/sim.ts';
import { makeServingCert } from '../../../src/sim/tls.ts';
import type { MigrationPlan, MigrationProgress, NodeSide } from '../../../src/sim/virt/node-side.ts';
import { until, EVENT, HCO, KUBEVIRT, NAMESPACE, NODE, POD, VM, VMI, VMIM } from '../registry.ts';

const here = dirname(fileURLToPath(import.meta.url));
const NS = 'stages';

interface VmInput { name: string; memory?: string; runStrategy?: string; node?: string }
interface Step {
  start?: string;
  migrate?: string;
  create?: KObject;
  wait?: { migration: number; phase: string };
  settle?: { migration: number; phase: string; targetPods: number; reason: string };
  release?: boolean;
}
interface MigrationExpect { generateName?: string; phases: string[]; events?: string[]; messages?: string[] }
interface VmiExpect { movedNode?: boolean; sameUid?: boolean; launcherPods?: number; migrationState?: Record<string, unknown>; conditions?: Record<string, string> }
interface Case {
  name: string;
  hco?: Record<string, unknown>;
  nodeSide?: { hold?: boolean; fail?: string; notMigratable?: Record<string, string> };
  objects: { vm: VmInput }[];
  steps: Step[];
  expect: {
    migrations?: MigrationExpect[];
    errors?: { code: number; message: string }[];
    order?: string[];
    kubevirtMigrations?: Record<string, unknown>;
    nodeSide?: { prepared?: number; migrated?: number; aborted?: number; memoryBytes?: number };
    vmi?: Record<string, VmiExpect>;
  };
}

/** A packet-free NodeSide: counts its calls and settles as the case asks. */
class FakeNodeSide implements NodeSide {
  prepared = 0;
  migrated = 0;
  aborted = 0;
  plans: MigrationPlan[] = [];
  private held: (() => void)[] = [];
  private released = false;
  constructor(private readonly o: NonNullable<Case['nodeSide']> = {}, private readonly addressOf: (node: string) => string) {}

  async prepareTarget(plan: MigrationPlan): Promise<{ targetNodeAddress: string }> {
    this.prepared++;
    this.plans.push(plan);
    return { targetNodeAddress: this.addressOf(plan.targetNode) };
  }

  async migrate(plan: MigrationPlan, _addr: string, onProgress: (p: MigrationProgress) => void, signal: AbortSignal): Promise<void> {
    this.migrated++;
    if (this.o.hold && !this.released) await new Promise<void>((res) => this.held.push(res));
    if (signal.aborted) throw new Error('aborted');
    if (this.o.fail) throw new Error(this.o.fail);
    onProgress({ dataTotalBytes: plan.memoryBytes, dataProcessedBytes: plan.memoryBytes, dataRemainingBytes: 0 });
  }

  async abortTarget(): Promise<void> {
    this.aborted++;
  }

  migratable(_ns: string, vmi: string): true | string {
    return this.o.notMigratable?.[vmi] ?? true;
  }

  release(): void {
    this.released = true;
    this.held.splice(0).forEach((r) => r());
  }
}

function vmManifest(v: VmInput): KObject {
  return {
    apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: v.name, namespace: NS },
    spec: {
      runStrategy: v.runStrategy ?? 'Always',
      template: {
        metadata: { labels: { 'kubevirt.io/domain': v.name } },
        spec: {
          ...(v.node ? { nodeSelector: { 'kubernetes.io/hostname': v.node } } : {}),
          domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }] }, resources: { requests: { memory: v.memory ?? '512Mi' } } },
          networks: [{ name: 'default', pod: {} }],
        },
      },
    },
  };
}


/** Timestamps, uids and generated names out, so a case reads the same on every run. */
function normalize(v: unknown, names: Record<string, string>): unknown {
  if (typeof v === 'string') {
    if (names[v]) return names[v];
    if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(v)) return '<time>';
    return v;
  }
  if (Array.isArray(v)) return v.map((x) => normalize(x, names));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([key, x]) => [key, normalize(x, names)]));
  return v;
}

const cases = readdirSync(here).filter((f) => f.endsWith('.yaml')).sort();

for (const file of cases) {
  const c = parse(readFileSync(join(here, file), 'utf8')) as Case;
  test(`${file}: ${c.name}`, async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'kvnet-stages-'));
    const sim = await Sim.start({ settings: { ...DEFAULT_SETTINGS }, token: 'stages', tls: makeServingCert(), listen: 0, stateDir, dataPlane: false });
    const api = sim.cluster.registry;
    const phases = new Map<string, string[]>();
    const order: string[] = [];
    const migrationNames: string[] = [];
    const unsubscribe = api.store.subscribe((e) => {
      if (e.kind === VMIM && e.object.metadata.namespace === NS) {
        const name = e.object.metadata.name as string;
        if (!migrationNames.includes(name)) migrationNames.push(name);
        const phase = (e.object.status as { phase?: string } | undefined)?.phase;
        const seen = phases.get(name) ?? [];
        if (phase && seen.at(-1) !== phase) { seen.push(phase); order.push(`${migrationNames.indexOf(name)} ${phase}`); }
        phases.set(name, seen);
      }
      // The stand-in virt-handler: a Scheduled VMI runs.
      if (e.kind === VMI && e.type !== 'DELETED' && (e.object.status as { phase?: string } | undefined)?.phase === 'Scheduled') {
        const vmi = e.object;
        setImmediate(() => {
          const cur = api.tryGet(VMI, vmi.metadata.namespace, vmi.metadata.name as string);
          if (!cur || (cur.status as { phase?: string }).phase !== 'Scheduled') return;
          cur.status = { ...(cur.status as object), phase: 'Running', conditions: [...((cur.status as { conditions?: object[] }).conditions ?? []), { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: new Date().toISOString() }] };
          api.update(VMI, NS, cur.metadata.name as string, cur, { subresource: 'status' });
        });
      }
    });
    const internalIP = (node: string) => ((api.get(NODE, undefined, node).status as { addresses: { type: string; address: string }[] }).addresses.find((a) => a.type === 'InternalIP') as { address: string }).address;
    const fake = new FakeNodeSide(c.nodeSide, internalIP);
    sim.migrations.setNodeSide(fake);
    const virtApi = new VirtApi(api);
    const errors: { code: number; message: string }[] = [];
    const startNode: Record<string, { node: string; uid: string }> = {};
    try {
      api.create(NAMESPACE, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
      if (c.hco) {
        const hco = api.get(HCO, 'openshift-cnv', 'kubevirt-hyperconverged');
        const spec = hco.spec as { liveMigrationConfig: Record<string, unknown> };
        spec.liveMigrationConfig = { ...spec.liveMigrationConfig, ...(c.hco.liveMigrationConfig as object) };
        api.update(HCO, 'openshift-cnv', 'kubevirt-hyperconverged', hco);
      }
      for (const o of c.objects) api.create(VM, NS, vmManifest(o.vm));
      const migration = (i: number) => until(`migration #${i}`, () => migrationNames[i]);
      for (const s of c.steps) {
        if (s.start) {
          const vmi = await until(`VMI ${s.start} Running`, () => { const v = api.tryGet(VMI, NS, s.start as string); return (v?.status as { phase?: string } | undefined)?.phase === 'Running' && v; });
          startNode[s.start] = { node: (vmi.status as { nodeName: string }).nodeName, uid: vmi.metadata.uid as string };
          // LiveMigratable is the node side's verdict, written once the VMI runs.
          await until(`VMI ${s.start} LiveMigratable`, () => ((api.get(VMI, NS, s.start as string).status as { conditions?: { type: string }[] }).conditions ?? []).some((x) => x.type === 'LiveMigratable'));
        }
        const attempt = async (f: () => Promise<unknown> | unknown) => {
          try { await f(); } catch (e) { if (!(e instanceof ApiError)) throw e; errors.push({ code: e.code, message: e.message }); }
        };
        if (s.migrate) await attempt(() => virtApi.vmAction('migrate', NS, s.migrate as string, {}));
        if (s.create) await attempt(() => api.create(VMIM, NS, { ...s.create, metadata: { ...s.create?.metadata, namespace: NS } } as KObject));
        if (s.wait) {
          const name = await migration(s.wait.migration);
          await until(`migration #${s.wait.migration} ${s.wait.phase} (seen ${JSON.stringify(phases.get(name))}; waiting on ${JSON.stringify(sim.migrations.waiting(NS, name))})`, () => phases.get(name)?.includes(s.wait?.phase as string));
        }
        if (s.settle) {
          const { migration: i, phase, targetPods, reason } = s.settle;
          const name = await migration(i);
          // The controller has looked at it and says why it waits: proof it holds, not a timed guess.
          await until(`migration #${i} waiting with "${reason}"`, () => sim.migrations.waiting(NS, name)?.some((r) => r.includes(reason)));
          expect((api.get(VMIM, NS, name).status as { phase: string }).phase).toBe(phase);
          const uid = api.get(VMIM, NS, name).metadata.uid;
          expect(api.store.list(POD, NS).filter((p) => p.metadata.labels?.['kubevirt.io/migrationJobUID'] === uid)).toHaveLength(targetPods);
        }
        if (s.release) fake.release();
      }

      const x = c.expect;
      expect(errors).toEqual(x.errors ?? []);
      for (const [i, m] of (x.migrations ?? []).entries()) {
        const name = migrationNames[i];
        expect(name, `migration #${i}`).toBeDefined();
        const vmim = api.get(VMIM, NS, name);
        if (m.generateName) expect(vmim.metadata.generateName).toBe(m.generateName);
        expect(phases.get(name), `phases of ${name}`).toEqual(m.phases);
        // phaseTransitionTimestamps say the same, in the same order.
        expect(((vmim.status as { phaseTransitionTimestamps: { phase: string }[] }).phaseTransitionTimestamps).map((t) => t.phase)).toEqual(m.phases);
        const events = api.store.list(EVENT, NS).filter((e) => (e.involvedObject as { uid?: string }).uid === vmim.metadata.uid);
        if (m.events) expect(events.map((e) => e.reason)).toEqual(m.events);
        if (m.messages) expect(events.map((e) => String(e.message).replace(`${NS}/`, '<ns>/'))).toEqual(m.messages);
      }
      if (x.order) {
        const at = x.order.map((o) => order.indexOf(o));
        expect(at.every((n) => n >= 0), `${JSON.stringify(x.order)} all in ${JSON.stringify(order)}`).toBe(true);
        expect([...at].sort((a, b) => a - b)).toEqual(at);
      }
      if (x.kubevirtMigrations) {
        expect((api.get(KUBEVIRT, 'openshift-cnv', 'kubevirt-kubevirt-hyperconverged').spec as { configuration: { migrations: object } }).configuration.migrations).toMatchObject(x.kubevirtMigrations);
      }
      if (x.nodeSide) {
        const { memoryBytes, ...counts } = x.nodeSide;
        expect({ prepared: fake.prepared, migrated: fake.migrated, aborted: fake.aborted }).toMatchObject(counts);
        if (memoryBytes !== undefined) expect(fake.plans[0]?.memoryBytes).toBe(memoryBytes);
      }
      for (const [vm, want] of Object.entries(x.vmi ?? {})) {
        const vmi = api.get(VMI, NS, vm);
        const st = vmi.status as { nodeName: string; migrationState?: Record<string, unknown>; conditions?: { type: string; status: string }[] };
        const before = startNode[vm];
        if (want.movedNode !== undefined) expect(st.nodeName !== before.node, `${vm} moved from ${before.node} (now ${st.nodeName})`).toBe(want.movedNode);
        if (want.sameUid) expect(vmi.metadata.uid).toBe(before.uid);
        if (want.launcherPods !== undefined) {
          await until(`${vm} has ${want.launcherPods} launcher pod(s)`, () => api.store.list(POD, NS).filter((p) => p.metadata.labels?.['kubevirt.io/created-by'] === vmi.metadata.uid && !p.metadata.deletionTimestamp).length === want.launcherPods);
        }
        if (want.migrationState) {
          const target = st.nodeName === before.node ? '' : st.nodeName;
          const names: Record<string, string> = { [before.node]: '<source>', ...(target ? { [target]: '<target>', [internalIP(target)]: '<target-address>' } : {}) };
          migrationNames.forEach((n, i) => { names[api.get(VMIM, NS, n).metadata.uid as string] = `<migration-${i}>`; });
          expect(normalize(st.migrationState, names)).toMatchObject(want.migrationState);
        }
        for (const [type, status] of Object.entries(want.conditions ?? {})) {
          expect(st.conditions?.find((cd) => cd.type === type)?.status, `${vm} ${type}`).toBe(status);
        }
      }
    } finally {
      unsubscribe();
      fake.release();
      await sim.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
}
