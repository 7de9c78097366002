// Names shared by the spec-side helpers and the reporters; dependency-free so
// reporters (main process) can import them without pulling in the test runtime.

/** Attachment name the matrix reporter collects. */
export const METRIC_ATTACHMENT = 'kvnet-metric';
/** Annotation type carrying the documented seed section (e.g. "8.2.1"). */
export const SEED_ANNOTATION = 'seed';
/** Marker suites put in threshold failures; the Allure category and the matrix key on it. */
export const THRESHOLD_MARKER = '[threshold]';

export interface Threshold {
  /** Pass when value <= max. */
  max?: number;
  /** Pass when value >= min. */
  min?: number;
}

export interface MetricRecord {
  capability: string;
  metric: string;
  value: number;
  unit: string;
  threshold?: Threshold;
  /** Undefined when no threshold was given. */
  pass?: boolean;
}

/** Where a run writes its reports; `KVNET_REPORT_DIR` moves them (self-tests run suites nested). */
export function reportsDir(): string {
  return process.env.KVNET_REPORT_DIR ?? 'reports';
}
