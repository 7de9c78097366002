// One registration shape per capability: a module says what it adds to the sim at each stage of
// its start (seed objects, admission, control loops, node-side parts, faults, profile keys). The
// sim starts `MODULES` (index.ts) in order; a module only wires, its parts live where they are.
import type { EvictionWebhook } from '../api/eviction.ts';
import type { Mutator, Registry, Validator } from '../api/registry.ts';
import type { KubevirtSubresources } from '../api/server.ts';
import type { SimSettings } from '../cluster.ts';
import type { CniPlugin } from '../cni/plugin.ts';
import type { Multus } from '../cni/multus.ts';
import type { AdminRoutes } from '../admin.ts';
import type { Controller } from '../controllers/controller.ts';
import type { EndpointsController } from '../controllers/endpoints.ts';
import type { KubeScheduler, NodeFilter } from '../controllers/kube-scheduler.ts';
import type { MetalLB } from '../controllers/metallb.ts';
import type { VirtHandler } from '../controllers/virt-handler.ts';
import type { Fabric } from '../fabric/topo.ts';
import type { MasqueradeBinding } from '../virt/bindings/masquerade.ts';
import type { FaultHandler, FaultName, Faults } from '../faults.ts';
import type { Topology } from '../topology.ts';
import type { KubeMacPool } from '../kubemacpool/index.ts';
import type { MigrationController } from '../virt/migration-controller.ts';
import type { NodeSide } from '../virt/node-side.ts';
import type { ProfileKeys } from '../../fixtures/profile.ts';

/** Field-level causes for a 422 (empty when admitted), keyed `<group>/<kind>` (the core group is ""), so every served version is covered. */
export type Validators = Readonly<Record<string, Validator>>;

export interface SeedContext {
  readonly registry: Registry;
  readonly settings: SimSettings;
}

/**
 * The control plane as modules build it, in MODULES order. A part one module makes and another
 * uses is a field here, named with the module that fills it.
 */
export interface ControlContext extends SeedContext {
  /** kubevirt: kube-scheduler (the sriov module adds its capacity filter in the data plane). */
  scheduler?: KubeScheduler;
  /** services: the EndpointSlice controller. */
  endpoints?: EndpointsController;
  /** services: MetalLB, when the sim has an external network. */
  metallb?: MetalLB;
  /** live-migration: the migration controller (the data plane hands it the node side). */
  migrations?: MigrationController;
  /** kubemacpool: the MAC pool its fault reaches. */
  kubemacpool?: KubeMacPool;
}

export interface ControlParts {
  /** Loops that run with or without packets. */
  controllers?: Controller[];
  /**
   * KubeVirt's and the scheduler's loops: the API fidelity self-tests turn these off
   * (`workloadControllers: false`), as they write VM status by hand.
   */
  workload?: Controller[];
  /** virt-api's subresources without a data plane (the data plane's replace them). */
  subresources?: KubevirtSubresources;
  /** Webhooks on `pods/eviction`. */
  evictionWebhooks?: EvictionWebhook[];
  /** Mutating webhooks served by a control loop's state (run after the modules' `mutators`). */
  mutators?: Mutator[];
}

/** The node side as modules build it, in MODULES order, over the control plane's context. */
export interface DataPlaneContext extends Readonly<ControlContext> {
  readonly fabric: Fabric;
  readonly stateDir: string;
  /** The CNI meta-plugin; modules' `cni` plugins are registered on it. */
  readonly multus: Multus;
  /** The fault registry, to read (active faults, plumbed guests); modules register through `faults`. */
  readonly faults: Faults;
  /** pod-network: KubeVirt's masquerade binding (virt-handler plumbs through it). */
  masquerade?: MasqueradeBinding;
  /** kubevirt: virt-handler. */
  handler?: VirtHandler;
}

export interface DataPlaneParts {
  controllers?: Controller[];
  /** Registered on Multus. */
  cni?: CniPlugin[];
  /** Added to kube-scheduler's filters. */
  schedulerFilters?: NodeFilter[];
  faults?: Partial<Record<FaultName, FaultHandler>>;
  /** virt-api's subresources with a data plane. */
  subresources?: KubevirtSubresources;
  /** The virt-handlers' side of live migration. */
  nodeSide?: NodeSide;
  /** Extra admin-socket routes (self-tests). */
  admin?: AdminRoutes;
  /** Called in reverse MODULES order, before the fabric goes. */
  stop?(): Promise<void>;
}

export interface SimModule {
  name: string;
  /** One line: what it stands in for, and the seed section(s) it serves. */
  summary: string;
  /** Objects a fresh install has. */
  seed?(ctx: SeedContext): void;
  mutators?(settings: SimSettings): Mutator[];
  validators?: Validators;
  /** Control-plane loops; may fill its fields of `ctx` for later modules. */
  control?(ctx: ControlContext): ControlParts;
  /** Node-side parts; runs inside the sandbox, after every module's `control`. */
  dataPlane?(ctx: DataPlaneContext): Promise<DataPlaneParts> | DataPlaneParts;
  /** The profile keys this module's capability offers on the sim (src/fixtures/profile.ts). */
  profile?(topology: Topology): ProfileKeys;
}
