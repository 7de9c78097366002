// A timeline chart of a background sampler (the downtime probe): time on x, RTT on y, each outage
// a shaded band with its length, lost requests as ticks on the axis, and optional events (a
// migration's phases) as labelled vertical lines. Answered requests are drawn as one polyline per
// pixel column's worst RTT, so a 10-minute run at 10 ms stays a small document.
import { test } from '@playwright/test';
import { COLORS, empty, escapeXml, fmt, frame, niceTicks, open, xAxisLine, yAxis } from './svg.ts';

export interface TimelinePoint {
  /** ms from the start of the run. */
  tMs: number;
  ok: boolean;
  rttMs?: number;
}

export interface TimelineSpan {
  startMs: number;
  endMs: number;
  durationMs: number;
}

export interface TimelineEvent {
  tMs: number;
  label: string;
}

export interface TimelineOptions {
  title: string;
  outages?: readonly TimelineSpan[];
  events?: readonly TimelineEvent[];
  /** The y axis: RTT (ms) unless told (a throughput series, say). */
  yLabel?: string;
  width?: number;
  height?: number;
}

const GAP = '#d62828';
const EVENT = '#6a4c93';

export function timelineSvg(points: readonly TimelinePoint[], opts: TimelineOptions): string {
  const f = frame(opts.width ?? 800, opts.height);
  if (points.length === 0) return empty(f, opts.title, 'timeline', 'no samples');
  const t0 = 0;
  const t1 = Math.max(points[points.length - 1].tMs, ...(opts.outages ?? []).map((o) => o.endMs), ...(opts.events ?? []).map((e) => e.tMs), 1);
  const rtts = points.filter((p) => p.ok && p.rttMs !== undefined).map((p) => p.rttMs as number);
  const yTicks = niceTicks(0, rtts.length ? Math.max(...rtts) : 1, 5);
  const yMax = yTicks[yTicks.length - 1];
  const x = (t: number) => f.left + ((t - t0) / (t1 - t0)) * (f.right - f.left);
  const y = (v: number) => f.bottom - (v / yMax) * (f.bottom - f.top);
  const out = open(f, opts.title, 'timeline');
  out.push(...yAxis(f, yTicks, opts.yLabel ?? 'RTT (ms)', y));
  for (const t of niceTicks(t0 / 1000, t1 / 1000, 8).filter((s) => s * 1000 <= t1)) {
    const px = x(t * 1000).toFixed(1);
    out.push(`<line x1="${px}" y1="${f.bottom}" x2="${px}" y2="${f.bottom + 4}" stroke="${COLORS.axis}"/>`);
    out.push(`<text x="${px}" y="${f.bottom + 16}" text-anchor="middle" font-size="11" fill="${COLORS.muted}">${escapeXml(fmt(t))}</text>`);
  }
  for (const o of opts.outages ?? []) {
    const x0 = x(o.startMs);
    const w = Math.max(1.5, x(o.endMs) - x0);
    out.push(`<rect class="gap" data-duration-ms="${o.durationMs}" x="${x0.toFixed(1)}" y="${f.top}" width="${w.toFixed(1)}" height="${f.bottom - f.top}" fill="${GAP}" fill-opacity="0.18" stroke="${GAP}" stroke-width="0.5"><title>${escapeXml(`no reply for ${fmt(o.durationMs)} ms from ${fmt(o.startMs / 1000)} s`)}</title></rect>`);
    out.push(`<text x="${(x0 + w / 2).toFixed(1)}" y="${f.top + 12}" text-anchor="middle" font-size="11" fill="${GAP}">${escapeXml(`${fmt(o.durationMs)} ms`)}</text>`);
  }
  for (const e of opts.events ?? []) {
    const px = x(e.tMs).toFixed(1);
    out.push(`<line class="event" x1="${px}" y1="${f.top}" x2="${px}" y2="${f.bottom}" stroke="${EVENT}" stroke-width="1" stroke-dasharray="3 3"/>`);
    out.push(`<text x="${px}" y="${f.bottom - 4}" dx="3" font-size="10" fill="${EVENT}" transform="rotate(-90 ${px} ${f.bottom - 4})">${escapeXml(e.label)}</text>`);
  }
  // Answered requests: the worst RTT per pixel column, one polyline per run of answered columns.
  const cols = new Map<number, number>();
  const lostCols = new Set<number>();
  for (const p of points) {
    const c = Math.round(x(p.tMs));
    if (p.ok && p.rttMs !== undefined) cols.set(c, Math.max(cols.get(c) ?? 0, p.rttMs));
    else lostCols.add(c);
  }
  const runs: string[][] = [];
  let prev: number | undefined;
  for (const c of [...cols.keys()].sort((a, b) => a - b)) {
    if (prev === undefined || [...range(prev + 1, c)].some((k) => lostCols.has(k))) runs.push([]);
    runs[runs.length - 1].push(`${c},${y(cols.get(c) as number).toFixed(1)}`);
    prev = c;
  }
  for (const r of runs) {
    out.push(r.length === 1
      ? `<circle class="series" cx="${r[0].split(',')[0]}" cy="${r[0].split(',')[1]}" r="1.5" fill="${COLORS.line}"/>`
      : `<polyline class="series" fill="none" stroke="${COLORS.line}" stroke-width="1.2" points="${r.join(' ')}"/>`);
  }
  if (lostCols.size) {
    out.push(`<path class="lost" d="${[...lostCols].sort((a, b) => a - b).map((c) => `M${c} ${f.bottom}v-6`).join('')}" stroke="${GAP}" stroke-width="1"/>`);
  }
  const lost = points.filter((p) => !p.ok).length;
  out.push(...xAxisLine(f, `time (s) — ${points.length} requests, ${lost} without reply`));
  out.push('</svg>');
  return out.join('\n');
}

function* range(from: number, to: number): Generator<number> {
  for (let i = from; i < to; i++) yield i;
}

/** Attach a sampler's raw timeline (JSON) and its chart (SVG) to the running test. */
export async function attachTimeline(name: string, raw: { timeline: readonly TimelinePoint[] } & Record<string, unknown>, opts: Omit<TimelineOptions, 'title'> & { title?: string } = {}): Promise<void> {
  const info = test.info();
  await info.attach(`${name}.json`, { body: JSON.stringify(raw, null, 2), contentType: 'application/json' });
  await info.attach(`${name}.svg`, { body: timelineSvg(raw.timeline, { ...opts, title: opts.title ?? name }), contentType: 'image/svg+xml' });
}
