// The SR-IOV Network Operator as installed: policy and network admission, the operator; on the
// nodes the PFs, config daemon and device plugin, the `sriov` CNI plugin, its fault, and the
// scheduler filter that keeps VMs off netdevice VFs.
import { validateSriovNetwork } from '../api/admission/sriov-network.ts';
import { validateSriovNetworkNodePolicy } from '../api/admission/sriov-network-node-policy.ts';
import { SriovCni } from '../cni/sriov.ts';
import { SriovDevicePlugin } from '../controllers/sriov-device-plugin.ts';
import { SriovNetworkConfigDaemon } from '../controllers/sriov-network-config-daemon.ts';
import { SriovNetworkOperator } from '../controllers/sriov-network-operator.ts';
import { SriovFabric } from '../fabric/sriov.ts';
import type { SimModule } from './module.ts';

export const sriov: SimModule = {
  name: 'sriov',
  summary: 'SR-IOV Network Operator: policies, VFs, device plugin, sriov CNI (seed 8.6, 8.7)',
  validators: {
    'sriovnetwork.openshift.io/SriovNetworkNodePolicy': validateSriovNetworkNodePolicy,
    'sriovnetwork.openshift.io/SriovNetwork': validateSriovNetwork,
  },
  async dataPlane({ registry, fabric, faults }) {
    // PFs are cabled through the fabric's machine network.
    const pfs = await SriovFabric.create(fabric, fabric);
    const plugin = new SriovDevicePlugin(registry);
    const cni = new SriovCni(pfs, plugin, faults);
    return {
      cni: [cni],
      controllers: [new SriovNetworkOperator(registry), new SriovNetworkConfigDaemon(registry, pfs, plugin)],
      schedulerFilters: [plugin.filter],
      faults: cni.faultHandlers(),
    };
  },
};
