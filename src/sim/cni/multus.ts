// Multus: resolves a VM network's NetworkAttachmentDefinition and delegates to the CNI plugin
// its config names. An unknown type or a missing NAD is a clear error on the VMI.
import { type Kind, kindOf } from '../api/kinds.ts';
import { parseNadConfig } from '../api/admission/index.ts';
import type { Registry } from '../api/registry.ts';
import type { KObject } from '../api/types.ts';
import type { AttachContext, AttachResult, CniPlugin } from './plugin.ts';

const NAD = kindOf('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition') as Kind;
/** Multus `globalNamespaces` on OpenShift: NADs there are usable from every namespace. */
export const GLOBAL_NAMESPACES = ['default', 'openshift-multus', 'openshift-sriov-network-operator'];

export class Multus {
  private readonly plugins = new Map<string, CniPlugin>();

  constructor(private readonly api: Registry) {}

  register(p: CniPlugin): void {
    this.plugins.set(p.type, p);
  }

  /** `networkName` is `name` (the VM's namespace) or `namespace/name`, as in KubeVirt. */
  resolve(vmNamespace: string, networkName: string): { nad: KObject; plugin: CniPlugin; config: NonNullable<ReturnType<typeof parseNadConfig>> } {
    const [ns, name] = networkName.includes('/') ? networkName.split('/', 2) : [vmNamespace, networkName];
    // OpenShift runs Multus with namespaceIsolation: a NAD must be in the VM's namespace (§8.5.2:
    // "The NAD and the VM must be in the same namespace") or one of the global namespaces.
    if (ns !== vmNamespace && !GLOBAL_NAMESPACES.includes(ns)) {
      throw new Error(`namespace isolation violation: the VM is in namespace ${vmNamespace} but refers to network-attachment-definition ${ns}/${name}; a NAD must be in the VM's namespace (or one of ${GLOBAL_NAMESPACES.join(', ')})`);
    }
    const nad = this.api.tryGet(NAD, ns, name);
    if (!nad) throw new Error(`network-attachment-definition ${ns}/${name} not found`);
    const config = parseNadConfig(nad);
    if (!config) throw new Error(`network-attachment-definition ${ns}/${name}: spec.config is not valid CNI JSON`);
    const plugin = this.plugins.get(config.type ?? '');
    if (!plugin) throw new Error(`network-attachment-definition ${ns}/${name}: CNI type "${config.type}" is not available on this cluster (known: ${[...this.plugins.keys()].join(', ') || 'none'})`);
    return { nad, plugin, config };
  }

  attach(ctx: AttachContext, plugin: CniPlugin): Promise<AttachResult> {
    return plugin.attach(ctx);
  }

  async detach(ctx: AttachContext): Promise<void> {
    await this.plugins.get(ctx.config.type ?? '')?.detach(ctx);
  }
}
