// Small dependency-free SVG charts for report attachments. Output is a standalone
// SVG document string (with xmlns and viewBox) so Allure and browsers render it as
// an image/svg+xml attachment without any script or external stylesheet.

export interface HistogramOptions {
  title: string;
  unit: string;
  /** Number of bins; defaults to a Freedman–Diaconis estimate clamped to 5..40. */
  bins?: number;
  width?: number;
  height?: number;
}

export interface LineOptions {
  title: string;
  unit: string;
  xLabel: string;
  width?: number;
  height?: number;
}

export interface BarsOptions {
  title: string;
  unit: string;
  width?: number;
  height?: number;
}

export interface BarEntry {
  label: string;
  value: number;
}

const FONT = 'font-family="system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif"';
export const COLORS = { bar: '#3b7dd8', line: '#2a9d8f', axis: '#444', grid: '#e3e3e3', text: '#222', muted: '#666', p50: '#e76f51', p99: '#9b2226' };

export interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export function frame(width = 640, height = 360): Frame {
  // Margins leave room for the title (top), y tick labels (left) and x labels (bottom).
  return { width, height, left: 64, right: width - 20, top: 44, bottom: height - 52 };
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

/** A compact, human number: 3 significant digits, k/M suffixes for big values. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 1e9) return `${trim(n / 1e9)}G`;
  if (a >= 1e6) return `${trim(n / 1e6)}M`;
  if (a >= 1e4) return `${trim(n / 1e3)}k`;
  return trim(n);
}

function trim(n: number): string {
  if (n === 0) return '0';
  const s = Math.abs(n) >= 100 ? n.toFixed(0) : Number(n.toPrecision(3)).toString();
  return s;
}

/** "Nice" tick values (1/2/5 × 10^k) covering [min, max]. */
export function niceTicks(min: number, max: number, target = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0];
  if (max === min) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const start = Math.floor(min / step) * step;
  const ticks: number[] = [];
  // Round to the step's precision to avoid 0.30000000000000004 labels.
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  for (let v = start; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toFixed(digits)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toFixed(digits)));
  return ticks;
}

export function open(f: Frame, title: string, kind: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}" role="img" aria-label="${escapeXml(title)}" data-chart="${kind}" ${FONT}>`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${f.width}" height="${f.height}" fill="#ffffff"/>`,
    `<text class="title" x="${f.width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="600" fill="${COLORS.text}">${escapeXml(title)}</text>`,
  ];
}

export function yAxis(f: Frame, ticks: number[], label: string, y: (v: number) => number): string[] {
  const out: string[] = [];
  for (const t of ticks) {
    const py = y(t).toFixed(1);
    out.push(`<line x1="${f.left}" y1="${py}" x2="${f.right}" y2="${py}" stroke="${COLORS.grid}" stroke-width="1"/>`);
    out.push(`<text x="${f.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle" font-size="11" fill="${COLORS.muted}">${escapeXml(fmt(t))}</text>`);
  }
  const cy = (f.top + f.bottom) / 2;
  out.push(`<text class="y-label" x="16" y="${cy}" text-anchor="middle" font-size="12" fill="${COLORS.text}" transform="rotate(-90 16 ${cy})">${escapeXml(label)}</text>`);
  out.push(`<line x1="${f.left}" y1="${f.top}" x2="${f.left}" y2="${f.bottom}" stroke="${COLORS.axis}" stroke-width="1"/>`);
  return out;
}

export function xAxisLine(f: Frame, label: string): string[] {
  return [
    `<line x1="${f.left}" y1="${f.bottom}" x2="${f.right}" y2="${f.bottom}" stroke="${COLORS.axis}" stroke-width="1"/>`,
    `<text class="x-label" x="${(f.left + f.right) / 2}" y="${f.height - 10}" text-anchor="middle" font-size="12" fill="${COLORS.text}">${escapeXml(label)}</text>`,
  ];
}

export function empty(f: Frame, title: string, kind: string, why: string): string {
  return [...open(f, title, kind),
    `<text x="${f.width / 2}" y="${f.height / 2}" text-anchor="middle" font-size="14" fill="${COLORS.muted}">${escapeXml(why)}</text>`,
    '</svg>'].join('\n');
}

function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Histogram of samples (e.g. RTTs) with p50/p99 markers. */
export function histogramSvg(samples: number[], opts: HistogramOptions): string {
  const f = frame(opts.width, opts.height);
  const xs = samples.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return empty(f, opts.title, 'histogram', 'no samples');
  const min = xs[0];
  const max = xs[xs.length - 1];
  let bins = opts.bins;
  if (!bins) {
    const iqr = quantile(xs, 0.75) - quantile(xs, 0.25);
    const w = (2 * iqr) / Math.cbrt(xs.length);
    bins = w > 0 ? Math.ceil((max - min) / w) : Math.ceil(Math.sqrt(xs.length));
  }
  bins = Math.max(1, Math.min(max === min ? 1 : 200, Math.round(opts.bins ?? Math.max(5, Math.min(40, bins)))));
  // A degenerate range (all samples equal) gets one bin of arbitrary width around the value.
  const lo = max === min ? min - 0.5 : min;
  const hi = max === min ? max + 0.5 : max;
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const v of xs) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  const yTicks = niceTicks(0, Math.max(...counts), 5);
  const yMax = yTicks[yTicks.length - 1];
  const x = (v: number) => f.left + ((v - lo) / (hi - lo)) * (f.right - f.left);
  const y = (c: number) => f.bottom - (c / yMax) * (f.bottom - f.top);
  const out = open(f, opts.title, 'histogram');
  out.push(...yAxis(f, yTicks, 'samples', y));
  counts.forEach((c, i) => {
    const x0 = x(lo + i * width);
    const w = Math.max(1, x(lo + (i + 1) * width) - x0 - 1);
    const from = lo + i * width;
    out.push(`<rect class="bar" data-count="${c}" x="${x0.toFixed(1)}" y="${y(c).toFixed(1)}" width="${w.toFixed(1)}" height="${(f.bottom - y(c)).toFixed(1)}" fill="${COLORS.bar}"><title>${escapeXml(`${fmt(from)}–${fmt(from + width)} ${opts.unit}: ${c}`)}</title></rect>`);
  });
  // X ticks only inside the data range so labels stay within the plot.
  for (const t of niceTicks(lo, hi, 6).filter((t) => t >= lo && t <= hi)) {
    const px = x(t).toFixed(1);
    out.push(`<line x1="${px}" y1="${f.bottom}" x2="${px}" y2="${f.bottom + 4}" stroke="${COLORS.axis}"/>`);
    out.push(`<text x="${px}" y="${f.bottom + 16}" text-anchor="middle" font-size="11" fill="${COLORS.muted}">${escapeXml(fmt(t))}</text>`);
  }
  const p50 = quantile(xs, 0.5);
  const p99 = quantile(xs, 0.99);
  for (const [name, v, color, dy] of [['p50', p50, COLORS.p50, 0], ['p99', p99, COLORS.p99, 14]] as const) {
    const px = x(v).toFixed(1);
    out.push(`<line class="marker" x1="${px}" y1="${f.top}" x2="${px}" y2="${f.bottom}" stroke="${color}" stroke-width="1.5" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${px}" y="${f.top - 4 + dy}" text-anchor="${x(v) > (f.left + f.right) / 2 ? 'end' : 'start'}" dx="${x(v) > (f.left + f.right) / 2 ? -3 : 3}" font-size="11" fill="${color}">${name} ${escapeXml(fmt(v))} ${escapeXml(opts.unit)}</text>`);
  }
  out.push(...xAxisLine(f, `${opts.unit} (n=${xs.length}, ${bins} bins)`));
  out.push('</svg>');
  return out.join('\n');
}

/** Line chart of a series over intervals (e.g. per-second throughput), with the mean dashed. */
export function lineSvg(points: number[], opts: LineOptions): string {
  const f = frame(opts.width, opts.height);
  const ys = points.map((v) => (Number.isFinite(v) ? v : 0));
  if (ys.length === 0) return empty(f, opts.title, 'line', 'no data points');
  const yTicks = niceTicks(Math.min(0, ...ys), Math.max(...ys), 5);
  const yMin = yTicks[0];
  const yMax = yTicks[yTicks.length - 1];
  const n = ys.length;
  // Points sit at 1..n (interval numbers); a single point is centred.
  const x = (i: number) => (n === 1 ? (f.left + f.right) / 2 : f.left + 8 + (i / (n - 1)) * (f.right - f.left - 16));
  const y = (v: number) => f.bottom - ((v - yMin) / (yMax - yMin)) * (f.bottom - f.top);
  const out = open(f, opts.title, 'line');
  out.push(...yAxis(f, yTicks, opts.unit, y));
  const step = Math.max(1, Math.ceil(n / 10));
  for (let i = 0; i < n; i += step) {
    const px = x(i).toFixed(1);
    out.push(`<line x1="${px}" y1="${f.bottom}" x2="${px}" y2="${f.bottom + 4}" stroke="${COLORS.axis}"/>`);
    out.push(`<text x="${px}" y="${f.bottom + 16}" text-anchor="middle" font-size="11" fill="${COLORS.muted}">${i + 1}</text>`);
  }
  const mean = ys.reduce((a, b) => a + b, 0) / n;
  out.push(`<line class="mean" x1="${f.left}" y1="${y(mean).toFixed(1)}" x2="${f.right}" y2="${y(mean).toFixed(1)}" stroke="${COLORS.p50}" stroke-width="1.2" stroke-dasharray="5 4"/>`);
  out.push(`<text x="${f.right}" y="${(y(mean) - 5).toFixed(1)}" text-anchor="end" font-size="11" fill="${COLORS.p50}">mean ${escapeXml(fmt(mean))} ${escapeXml(opts.unit)}</text>`);
  out.push(`<polyline class="series" fill="none" stroke="${COLORS.line}" stroke-width="2" stroke-linejoin="round" points="${ys.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`);
  // Dots only when sparse enough to be readable; they carry hover titles.
  if (n <= 120) {
    ys.forEach((v, i) => out.push(`<circle class="point" cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${COLORS.line}"><title>${escapeXml(`${opts.xLabel} ${i + 1}: ${fmt(v)} ${opts.unit}`)}</title></circle>`));
  }
  out.push(...xAxisLine(f, opts.xLabel));
  out.push('</svg>');
  return out.join('\n');
}

/** Vertical bars with value labels (e.g. requests per backend). */
export function barsSvg(entries: BarEntry[], opts: BarsOptions): string {
  const f = frame(opts.width, opts.height);
  if (entries.length === 0) return empty(f, opts.title, 'bars', 'no entries');
  const vals = entries.map((e) => (Number.isFinite(e.value) ? e.value : 0));
  const yTicks = niceTicks(Math.min(0, ...vals), Math.max(...vals), 5);
  const yMin = yTicks[0];
  const yMax = yTicks[yTicks.length - 1];
  const y = (v: number) => f.bottom - ((v - yMin) / (yMax - yMin)) * (f.bottom - f.top);
  const slot = (f.right - f.left) / entries.length;
  const bw = Math.max(2, Math.min(80, slot * 0.7));
  // Many bars: rotate labels so they do not overlap.
  const rotate = entries.length > 8;
  const out = open(f, opts.title, 'bars');
  out.push(...yAxis(f, yTicks, opts.unit, y));
  entries.forEach((e, i) => {
    const v = vals[i];
    const cx = f.left + slot * (i + 0.5);
    const top = Math.min(y(v), y(0));
    const h = Math.abs(y(v) - y(0));
    out.push(`<rect class="bar" data-value="${v}" x="${(cx - bw / 2).toFixed(1)}" y="${top.toFixed(1)}" width="${bw.toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS.bar}"><title>${escapeXml(`${e.label}: ${fmt(v)} ${opts.unit}`)}</title></rect>`);
    out.push(`<text x="${cx.toFixed(1)}" y="${(top - 4).toFixed(1)}" text-anchor="middle" font-size="11" fill="${COLORS.text}">${escapeXml(fmt(v))}</text>`);
    const label = e.label.length > 18 ? `${e.label.slice(0, 17)}…` : e.label;
    out.push(rotate
      ? `<text x="${cx.toFixed(1)}" y="${f.bottom + 12}" text-anchor="end" font-size="10" fill="${COLORS.muted}" transform="rotate(-35 ${cx.toFixed(1)} ${f.bottom + 12})">${escapeXml(label)}</text>`
      : `<text x="${cx.toFixed(1)}" y="${f.bottom + 16}" text-anchor="middle" font-size="11" fill="${COLORS.muted}">${escapeXml(label)}</text>`);
  });
  out.push(`<line x1="${f.left}" y1="${f.bottom}" x2="${f.right}" y2="${f.bottom}" stroke="${COLORS.axis}" stroke-width="1"/>`);
  out.push('</svg>');
  return out.join('\n');
}
