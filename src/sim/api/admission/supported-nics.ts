// The SR-IOV Network Operator's `supported-nic-ids` ConfigMap as data: each entry
// is "<model>: <vendor> <PF deviceID> <VF deviceID>". Extend the table, not the code.

export interface SupportedNic {
  /** Key in the operator's ConfigMap. */
  model: string;
  /** PCI vendor id, lower-case hex. */
  vendor: string;
  /** PF device id, lower-case hex. */
  deviceID: string;
  /** VF device id, lower-case hex. */
  vfDeviceID: string;
  /**
   * Upper bound for numVfs when it is a property of the device family.
   * Intel's sriov_totalvfs depends on port count, so it is left to the node
   * (the sim's sriov-operator checks the PF's totalvfs); Mellanox caps at 127 (§8.6.1).
   */
  maxVfs?: number;
}

export const VENDOR_INTEL = '8086';
export const VENDOR_MELLANOX = '15b3';
/** §8.6.1: "The only allowed values are either 8086 or 15b3." */
export const SUPPORTED_VENDORS = [VENDOR_INTEL, VENDOR_MELLANOX] as const;
/** §8.6.1: "For a Mellanox NIC, the number of VFs cannot be larger than 127." */
export const MELLANOX_MAX_VFS = 127;

export const SUPPORTED_NICS: readonly SupportedNic[] = [
  { model: 'Intel_i40e_10G_X710_SFP', vendor: '8086', deviceID: '1572', vfDeviceID: '154c' },
  { model: 'Intel_i40e_XXV710', vendor: '8086', deviceID: '158a', vfDeviceID: '154c' },
  { model: 'Intel_i40e_25G_SFP28', vendor: '8086', deviceID: '158b', vfDeviceID: '154c' },
  { model: 'Intel_i40e_40G_XL710_QSFP', vendor: '8086', deviceID: '1583', vfDeviceID: '154c' },
  { model: 'Intel_ixgbe_10G_X550', vendor: '8086', deviceID: '1563', vfDeviceID: '1565' },
  { model: 'Intel_ice_Columbiaville_E810-CQDA2_2CQDA2', vendor: '8086', deviceID: '1592', vfDeviceID: '1889' },
  { model: 'Intel_ice_Columbiaville_E810-XXVDA4', vendor: '8086', deviceID: '1593', vfDeviceID: '1889' },
  { model: 'Intel_ice_Columbiaville_E810-XXVDA2', vendor: '8086', deviceID: '159b', vfDeviceID: '1889' },
  { model: 'Nvidia_mlx5_ConnectX-4', vendor: '15b3', deviceID: '1013', vfDeviceID: '1014', maxVfs: MELLANOX_MAX_VFS },
  { model: 'Nvidia_mlx5_ConnectX-4LX', vendor: '15b3', deviceID: '1015', vfDeviceID: '1016', maxVfs: MELLANOX_MAX_VFS },
  { model: 'Nvidia_mlx5_ConnectX-5', vendor: '15b3', deviceID: '1017', vfDeviceID: '1018', maxVfs: MELLANOX_MAX_VFS },
  { model: 'Nvidia_mlx5_ConnectX-5_Ex', vendor: '15b3', deviceID: '1019', vfDeviceID: '101a', maxVfs: MELLANOX_MAX_VFS },
  { model: 'Nvidia_mlx5_ConnectX-6', vendor: '15b3', deviceID: '101b', vfDeviceID: '101c', maxVfs: MELLANOX_MAX_VFS },
  { model: 'Nvidia_mlx5_ConnectX-6_Dx', vendor: '15b3', deviceID: '101d', vfDeviceID: '101e', maxVfs: MELLANOX_MAX_VFS },
];

/** Look up by device id, optionally constrained to a vendor. Ids compare case-insensitively. */
export function findNic(deviceID: string, vendor?: string): SupportedNic | undefined {
  const d = deviceID.toLowerCase();
  const v = vendor?.toLowerCase();
  return SUPPORTED_NICS.find((n) => n.deviceID === d && (v === undefined || n.vendor === v));
}
