// OpenShift Virtualization's core: the KubeVirt CR and HCO, VM/VMI admission, virt-controller,
// kube-scheduler, virt-api, and on the nodes virt-handler with its guest-agent-down and
// hotplug-not-attached faults.
import { validateHyperConverged } from '../api/admission/hyperconverged.ts';
import { validateVirtualMachine, validateVirtualMachineInstance } from '../api/admission/virtual-machine.ts';
import { DNS_SERVICE_IP } from '../api/service-allocator.ts';
import { CLUSTER_DOMAIN, seedKubeVirt } from '../cluster.ts';
import { HyperConvergedController } from '../controllers/hyperconverged.ts';
import { KubeScheduler } from '../controllers/kube-scheduler.ts';
import { VirtApi } from '../controllers/virt-api.ts';
import { VirtController } from '../controllers/virt-controller.ts';
import { VirtHandler } from '../controllers/virt-handler.ts';
import type { SimModule } from './module.ts';

export const kubevirt: SimModule = {
  name: 'kubevirt',
  summary: 'KubeVirt and HCO: VMs, VMIs, launcher pods, scheduling, virt-api verbs, guests (seed 8.2.1, 8.9)',
  seed: ({ registry }) => seedKubeVirt(registry),
  validators: {
    'kubevirt.io/VirtualMachine': validateVirtualMachine,
    'kubevirt.io/VirtualMachineInstance': validateVirtualMachineInstance,
    'hco.kubevirt.io/HyperConverged': validateHyperConverged,
  },
  control(ctx) {
    const { registry } = ctx;
    ctx.scheduler = new KubeScheduler(registry);
    return {
      workload: [ctx.scheduler, new VirtController(registry), new HyperConvergedController(registry)],
      subresources: new VirtApi(registry),
    };
  },
  dataPlane(ctx) {
    const { registry, fabric, stateDir, faults, multus, masquerade } = ctx;
    if (!masquerade) throw new Error('the kubevirt module needs the pod-network module before it (the masquerade binding)');
    const handler = new VirtHandler(registry, fabric, stateDir, { dnsIP: DNS_SERVICE_IP, clusterDomain: CLUSTER_DOMAIN }, faults, multus, masquerade);
    ctx.handler = handler;
    return {
      controllers: [handler],
      subresources: new VirtApi(registry, handler, (netns, host, port) => fabric.dial(netns, host, port)),
      faults: {
        'guest-agent-down': {
          description: 'the QEMU guest agent of the selected VMs stops answering: status.interfaces keeps only what the domain knows (no guest-reported addresses) (selector: namespace, vm, node)',
          scopes: ['namespace', 'vm', 'node'],
          set: async (spec) => handler.setAgentDown(spec.selector ?? {}),
          clear: async () => handler.setAgentDown(undefined),
        },
        'hotplug-not-attached': {
          description: 'a migration does not attach the NICs added to the selected VMs\' specs (§8.9.2): the target pod has them, the guest does not (selector: namespace, vm, node)',
          scopes: ['namespace', 'vm', 'node'],
          set: async (spec) => handler.setHotplugNotAttached(spec.selector ?? {}),
          clear: async () => handler.setHotplugNotAttached(undefined),
        },
      },
      stop: () => handler.stopAll(),
    };
  },
  // The sim honours the VM label kvnet.io/guest-agent=false, so any image stands for one without the agent.
  profile: () => ({ secondary: { noGuestAgentImage: 'quay.io/containerdisks/fedora:41' } }),
};
