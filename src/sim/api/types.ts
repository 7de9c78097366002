// Shapes shared by the sim API server, admission and controllers.

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  managedFields?: unknown[];
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Any stored object. Fields beyond metadata are kind-specific JSON. */
export interface KObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  // Kind-specific payload (spec, status, data, ...) is free-form JSON.
  [key: string]: unknown;
}

/** One field-level reason for a 422, as in metav1.StatusCause. */
export interface Cause {
  reason: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueNotSupported' | 'FieldValueDuplicate' | 'FieldValueForbidden' | 'FieldValueTooLong';
  message: string;
  /** JSON path of the field, e.g. `spec.template.spec.domain.devices.interfaces[0].ports[0].port`; '' for the whole object. */
  field: string;
}

/** Read access to the store that admission needs (for cross-object checks). */
export interface StoreReader {
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KObject | undefined;
  list(apiVersion: string, kind: string, namespace?: string): KObject[];
}

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE';

export interface AdmissionRequest {
  operation: Operation;
  object: KObject;
  oldObject?: KObject;
  store: StoreReader;
  /** Sim cluster settings admission may depend on. */
  cluster: { dualStack: boolean };
  /** Who asked, for a client's request; absent for the sim's own components (their service accounts). */
  userInfo?: { username: string };
  /** A dry run: webhooks with side effects (KubeMacPool's pool) must not record anything. */
  dryRun?: boolean;
}
