// The parts of the KubeVirt API the sim's controllers read and write.

export interface VmiInterface {
  name: string;
  masquerade?: Record<string, never>;
  bridge?: Record<string, never>;
  sriov?: Record<string, never>;
  macAddress?: string;
  model?: string;
  ports?: { port: number; protocol?: string; name?: string }[];
  state?: 'absent' | 'up' | 'down';
}

export interface VmiNetwork {
  name: string;
  pod?: { vmNetworkCIDR?: string; vmIPv6NetworkCIDR?: string };
  multus?: { networkName: string; default?: boolean };
}

export interface VmiVolume {
  name: string;
  cloudInitNoCloud?: CloudInitSource;
  cloudInitConfigDrive?: CloudInitSource;
  containerDisk?: { image: string };
}

export interface CloudInitSource {
  userData?: string;
  userDataBase64?: string;
  secretRef?: { name: string };
  networkData?: string;
  networkDataBase64?: string;
  networkDataSecretRef?: { name: string };
}

export interface AccessCredential {
  sshPublicKey?: {
    source?: { secret?: { secretName: string } };
    propagationMethod?: { noCloud?: object; configDrive?: object; qemuGuestAgent?: { users: string[] } };
  };
  userPassword?: { source?: { secret?: { secretName: string } } };
}

export interface VmiSpec {
  domain: { devices?: { interfaces?: VmiInterface[]; autoattachPodInterface?: boolean }; [k: string]: unknown };
  networks?: VmiNetwork[];
  volumes?: VmiVolume[];
  accessCredentials?: AccessCredential[];
  nodeSelector?: Record<string, string>;
  affinity?: Record<string, unknown>;
  hostname?: string;
  subdomain?: string;
  [k: string]: unknown;
}

export interface VmiInterfaceStatus {
  name?: string;
  interfaceName?: string;
  mac?: string;
  ipAddress?: string;
  ipAddresses?: string[];
  infoSource?: string;
  queueCount?: number;
}

export interface VmiStatus {
  phase?: 'Pending' | 'Scheduling' | 'Scheduled' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  nodeName?: string;
  interfaces?: VmiInterfaceStatus[];
  conditions?: { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string; lastProbeTime?: string | null }[];
  activePods?: Record<string, string>;
  guestOSInfo?: Record<string, string>;
  migrationMethod?: string;
  launcherContainerImageVersion?: string;
  qosClass?: string;
  [k: string]: unknown;
}

export const VM_LABEL = 'kubevirt.io/vm';
export const LAUNCHER_LABELS = { app: 'kubevirt.io', name: 'virt-launcher' };
export const CREATED_BY_LABEL = 'kubevirt.io/created-by';
export const VMI_FINALIZER = 'kubevirt.io/virtualMachineControllerFinalize';

/** The pod network of a VMI: an explicit `pod: {}`, or the default one KubeVirt adds when none is listed. */
export function podNetwork(spec: VmiSpec): VmiNetwork | undefined {
  return spec.networks?.find((n) => n.pod);
}

export function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/**
 * Whether the guest runs the QEMU guest agent. The sim's guests do unless the VM says otherwise
 * with the label or annotation `kvnet.io/guest-agent: "false"` (a guest image without it).
 */
export function guestAgentEnabled(vmi: { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } }): boolean {
  return (vmi.metadata.labels?.['kvnet.io/guest-agent'] ?? vmi.metadata.annotations?.['kvnet.io/guest-agent']) !== 'false';
}
