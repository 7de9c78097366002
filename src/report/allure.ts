// Helpers for conformance specs: label a test for Allure, attach measurements
// (raw JSON + SVG chart) and record key metrics for the conformance matrix.
// Everything goes through test.info().attach / allure-js-commons, so it works
// with any reporter set; allure-playwright turns the attachments into Allure
// attachments and the matrix reporter reads the `kvnet-metric` ones.
import { test } from '@playwright/test';
import * as allure from 'allure-js-commons';
import { barsSvg, histogramSvg, lineSvg, type BarEntry } from './svg.ts';
import { METRIC_ATTACHMENT, SEED_ANNOTATION, THRESHOLD_MARKER, type MetricRecord, type Threshold } from './constants.ts';

export { METRIC_ATTACHMENT, SEED_ANNOTATION, THRESHOLD_MARKER, type MetricRecord, type Threshold } from './constants.ts';

export interface Capability {
  /** Area, e.g. "Pod network". */
  epic: string;
  /** Documented capability, e.g. "Masquerade binding"; the matrix row. */
  feature: string;
  /** Seed section documenting the behaviour, e.g. "8.2.1". */
  section: string;
  /** The check; defaults to the test title. */
  story?: string;
  /** Shown as Allure parameters (target, placement, network…); excluded from history ids. */
  parameters?: Record<string, string>;
}

export type StatKey = 'count' | 'min' | 'p50' | 'p90' | 'p99' | 'max' | 'mean' | 'stddev' | 'lossPct';
/** Structural subset of the probe stats; extra fields are kept as-is. */
export type MeasurementStats = Partial<Record<StatKey, number | null>>;

export interface Measurement {
  samples: number[];
  stats: MeasurementStats;
  unit: string;
  [raw: string]: unknown;
}

export type ChartKind = 'histogram' | 'line';

/** Label the running test: Allure epic/feature/story/labels + a Playwright `seed` annotation. */
export async function describeCapability(c: Capability): Promise<void> {
  const info = test.info();
  if (!info.annotations.some((a) => a.type === SEED_ANNOTATION && a.description === c.section)) {
    info.annotations.push({ type: SEED_ANNOTATION, description: c.section });
  }
  await allure.epic(c.epic);
  await allure.feature(c.feature);
  await allure.story(c.story ?? info.title);
  await allure.label('seed', c.section);
  // Tags are visible in the Allure tree and filterable; the custom label is not shown.
  await allure.tag(`seed ${c.section}`);
  for (const [k, v] of Object.entries(c.parameters ?? {})) {
    await allure.parameter(k, v, { excluded: true });
  }
}

function statsLine(m: Measurement): string {
  const s = m.stats;
  const parts = (['p50', 'p90', 'p99', 'max'] as const)
    .filter((k) => typeof s[k] === 'number')
    .map((k) => `${k} ${Number((s[k] as number).toPrecision(3))}`);
  if (typeof s.lossPct === 'number' && s.lossPct > 0) parts.push(`loss ${s.lossPct}%`);
  return parts.length ? ` — ${parts.join(', ')} ${m.unit}` : '';
}

/** Attach a measurement's raw JSON and an SVG chart of its samples. */
export async function attachMeasurement(name: string, result: Measurement, chart: ChartKind, xLabel = 'interval'): Promise<void> {
  const info = test.info();
  await info.attach(`${name}.json`, { body: JSON.stringify(result, null, 2), contentType: 'application/json' });
  const title = `${name}${statsLine(result)}`;
  const svg = chart === 'histogram'
    ? histogramSvg(result.samples, { title, unit: result.unit })
    : lineSvg(result.samples, { title, unit: result.unit, xLabel });
  await info.attach(`${name}.svg`, { body: svg, contentType: 'image/svg+xml' });
}

/** Attach a bar chart (e.g. load distribution over backends) plus its data. */
export async function attachBars(name: string, entries: BarEntry[], unit: string): Promise<void> {
  const info = test.info();
  await info.attach(`${name}.json`, { body: JSON.stringify({ unit, entries }, null, 2), contentType: 'application/json' });
  await info.attach(`${name}.svg`, { body: barsSvg(entries, { title: name, unit }), contentType: 'image/svg+xml' });
}

export function checkThreshold(value: number, t?: Threshold): boolean | undefined {
  if (!t || (t.max === undefined && t.min === undefined)) return undefined;
  return (t.max === undefined || value <= t.max) && (t.min === undefined || value >= t.min);
}

/** Message for a threshold assertion; carries THRESHOLD_MARKER so categories separate it from product failures. */
export function thresholdMessage(metric: string, value: number, unit: string, t: Threshold): string {
  const bound = [t.min !== undefined ? `>= ${t.min}` : '', t.max !== undefined ? `<= ${t.max}` : ''].filter(Boolean).join(' and ');
  return `${THRESHOLD_MARKER} ${metric} = ${value} ${unit}, expected ${bound} ${unit}`;
}

/** Store a key metric for the conformance matrix (JSON attachment named `kvnet-metric`). */
export async function recordMetric(capability: string, metric: string, value: number, unit: string, threshold?: Threshold): Promise<MetricRecord> {
  const rec: MetricRecord = { capability, metric, value, unit, ...(threshold ? { threshold } : {}) };
  const pass = checkThreshold(value, threshold);
  if (pass !== undefined) rec.pass = pass;
  await test.info().attach(METRIC_ATTACHMENT, { body: JSON.stringify(rec), contentType: 'application/json' });
  // Also visible on the Allure test page; excluded so values don't split history.
  await allure.parameter(metric, `${Number(value.toPrecision(4))} ${unit}`, { excluded: true });
  return rec;
}
