// Multus: resolves a VM network's NetworkAttachmentDefinition and delegates to the CNI plugin its
// config names. Every failure here is a failed CNI ADD (`CniAddError`): on a real node the pod
// sandbox is not created, kubelet reports FailedCreatePodSandBox and retries, and the pod waits in
// ContainerCreating until the NAD (or what the plugin needs) is there (see pod-sandbox.ts).
// Messages are Multus's own (k8snetworkplumbingwg/multus-cni pkg/k8sclient/k8sclient.go
// GetNetworkDelegates / getKubernetesDelegate, pkg/multus/multus.go CmdAdd).
import { type Kind, kindOf } from '../api/kinds.ts';
import { parseNadConfig } from '../api/admission/index.ts';
import type { Registry } from '../api/registry.ts';
import type { KObject } from '../api/types.ts';
import { nadRef } from '../controllers/network-resources.ts';
import type { AttachContext, AttachResult, CniPlugin } from './plugin.ts';

const NAD = kindOf('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition') as Kind;
/** Multus `globalNamespaces` on OpenShift: NADs there are usable from every namespace. */
export const GLOBAL_NAMESPACES = ['default', 'openshift-multus', 'openshift-sriov-network-operator'];
/** Where OpenShift's Multus looks for delegate plugins. */
const CNI_PATH = '[/var/lib/cni/bin /usr/libexec/cni]';

/** A CNI ADD that failed; kubelet retries the sandbox. */
export class CniAddError extends Error {
  constructor(
    /** `delegates`: Multus could not load the pod's networks; `add`: a delegate plugin failed. */
    readonly stage: 'delegates' | 'add',
    detail: string,
    /** The delegate's CNI config name, for `add`. */
    readonly network?: string,
    /** A NAD Multus looked for and did not find (it records a NoNetworkFound event). */
    readonly missingNad?: { namespace: string; name: string },
  ) {
    super(detail);
    this.name = 'CniAddError';
  }
}

export interface ResolvedNetwork {
  nad: KObject;
  plugin: CniPlugin;
  config: NonNullable<ReturnType<typeof parseNadConfig>>;
}

export class Multus {
  private readonly plugins = new Map<string, CniPlugin>();

  constructor(private readonly api: Registry) {}

  register(p: CniPlugin): void {
    this.plugins.set(p.type, p);
  }

  /** `networkName` is `name` (the VM's namespace) or `namespace/name`, as in KubeVirt. */
  resolve(vmNamespace: string, networkName: string): ResolvedNetwork {
    const { namespace: ns, name } = nadRef(vmNamespace, networkName);
    // OpenShift runs Multus with namespaceIsolation: a NAD must be in the VM's namespace (§8.5.2:
    // "The NAD and the VM must be in the same namespace") or one of the global namespaces.
    if (ns !== vmNamespace && !GLOBAL_NAMESPACES.includes(ns)) {
      throw new CniAddError('delegates', `GetNetworkDelegates: namespace isolation enabled, annotation violates permission, pod is in namespace ${vmNamespace} but refers to target namespace ${ns}`);
    }
    const nad = this.api.tryGet(NAD, ns, name);
    if (!nad) {
      throw new CniAddError('delegates', `GetNetworkDelegates: failed getting the delegate: getKubernetesDelegate: ${noNetworkFound(ns, name)}`, undefined, { namespace: ns, name });
    }
    const config = parseNadConfig(nad);
    if (!config) throw new CniAddError('delegates', `GetNetworkDelegates: failed getting the delegate: GetCNIConfig: err in GetCNIConfigFromSpec: network-attachment-definition ${ns}/${name}: spec.config is not valid CNI JSON`);
    const plugin = this.plugins.get(config.type ?? '');
    if (!plugin) throw new CniAddError('add', `error adding container to network "${config.name ?? name}": failed to find plugin "${config.type}" in path ${CNI_PATH}`, config.name ?? name);
    return { nad, plugin, config };
  }

  /** The delegate's ADD; its failure is Multus's (`error adding container to network`). */
  async attach(ctx: AttachContext, plugin: CniPlugin): Promise<AttachResult> {
    try {
      return await plugin.attach(ctx);
    } catch (e) {
      const net = ctx.config.name ?? (ctx.nad.metadata.name as string);
      throw new CniAddError('add', `error adding container to network "${net}": ${(e as Error).message}`, net);
    }
  }

  async detach(ctx: AttachContext): Promise<void> {
    await this.plugins.get(ctx.config.type ?? '')?.detach(ctx);
  }
}

/** Multus's message (and NoNetworkFound event) for a NAD it cannot find. */
export function noNetworkFound(ns: string, name: string): string {
  return `cannot find a network-attachment-definition (${name}) in namespace (${ns}): network-attachment-definitions.k8s.cni.cncf.io "${name}" not found`;
}
