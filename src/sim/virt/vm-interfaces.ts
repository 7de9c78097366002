// The VM controller's network synchronizer (pkg/network/controllers/vm.go, applyDynamicIfaceRequestOnVMI):
// a running VMI follows its VM template's interfaces without a restart. A template interface the VMI
// lacks, not `state: absent` and with the bridge or SR-IOV binding, is appended with its network; an
// interface the template marks absent is marked absent in the VMI. Users change the VM: virt-api
// refuses their updates of a VMI spec, so this is how a running VMI's spec changes.
import type { VmiSpec } from '../controllers/kubevirt-types.ts';

/** The VMI spec with the template's dynamic interface requests applied, or undefined when there are none. */
export function dynamicInterfaceRequests(template: VmiSpec, vmi: VmiSpec): VmiSpec | undefined {
  const ifaces = [...(vmi.domain.devices?.interfaces ?? [])];
  const networks = [...(vmi.networks ?? [])];
  let changed = false;
  for (const want of template.domain?.devices?.interfaces ?? []) {
    const i = ifaces.findIndex((x) => x.name === want.name);
    if (i >= 0) {
      if (want.state === 'absent' && ifaces[i].state !== 'absent') { ifaces[i] = { ...ifaces[i], state: 'absent' }; changed = true; }
      continue;
    }
    const net = template.networks?.find((n) => n.name === want.name);
    if (want.state === 'absent' || !(want.bridge || want.sriov) || !net?.multus || networks.some((n) => n.name === want.name)) continue;
    ifaces.push(structuredClone(want));
    networks.push(structuredClone(net));
    changed = true;
  }
  if (!changed) return undefined;
  return { ...vmi, domain: { ...vmi.domain, devices: { ...vmi.domain.devices, interfaces: ifaces } }, networks };
}
