// What installing the SR-IOV Network Operator brings to the sim: the PFs on every node, the
// operator, config daemon and device plugin, the `sriov` CNI plugin on Multus, its fault, and the
// scheduler filter that keeps VMs off netdevice VFs.
import type { Registry } from '../api/registry.ts';
import type { Multus } from '../cni/multus.ts';
import { SriovCni } from '../cni/sriov.ts';
import { SriovFabric, type NicMaker } from '../fabric/sriov.ts';
import type { Fabric } from '../fabric/topo.ts';
import type { Faults } from '../faults.ts';
import type { Controller } from './controller.ts';
import type { NodeFilter } from './kube-scheduler.ts';
import { SriovDevicePlugin } from './sriov-device-plugin.ts';
import { SriovNetworkConfigDaemon } from './sriov-network-config-daemon.ts';
import { SriovNetworkOperator } from './sriov-network-operator.ts';

export interface SriovInstall {
  controllers: Controller[];
  schedulerFilter: NodeFilter;
  fabric: SriovFabric;
}

/** PFs are cabled through the fabric's machine network (`nics` overrides, for tests). */
export async function installSriov(api: Registry, fabric: Fabric, multus: Multus, faults: Faults, nics?: NicMaker): Promise<SriovInstall> {
  const sriov = await SriovFabric.create(fabric, nics ?? fabric);
  const plugin = new SriovDevicePlugin(api);
  const cni = new SriovCni(sriov, plugin, faults);
  cni.registerFaults(faults);
  multus.register(cni);
  return {
    controllers: [new SriovNetworkOperator(api), new SriovNetworkConfigDaemon(api, sriov, plugin)],
    schedulerFilter: plugin.filter,
    fabric: sriov,
  };
}
