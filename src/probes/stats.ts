// The one statistics module for probe results (ARCHITECTURE §3). Suites assert on these fields.

export interface Stats {
  /** Number of samples (received replies, intervals, lookups...). 0 means every other field is a placeholder 0. */
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** Sample standard deviation (n-1 denominator); 0 for fewer than 2 samples. */
  stddev: number;
  /** 100 * (sent - count) / sent when `sent` was given, clamped to [0, 100]; otherwise 0. */
  lossPct: number;
}

export interface SummarizeOptions {
  /** How many probes were sent; samples are the ones that came back. Enables lossPct. */
  sent?: number;
}

/**
 * Percentile by linear interpolation between closest ranks (Hyndman-Fan type 7,
 * the numpy / Excel PERCENTILE.INC default): h = (n-1)·p, value = x[⌊h⌋] + (h-⌊h⌋)·(x[⌊h⌋+1]-x[⌊h⌋]).
 * `sorted` must be ascending and non-empty; p in [0, 1].
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of an empty sample');
  const h = (sorted.length - 1) * Math.min(1, Math.max(0, p));
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Summarize samples. Empty input yields count 0 and zeros everywhere (no NaN, so
 * reports serialize cleanly) — suites must check `count > 0` before trusting min/p50/....
 * With `sent` > 0 and no samples, lossPct is 100.
 * Non-finite samples throw: they can only come from a parser bug, which must be loud.
 */
export function summarize(samples: readonly number[], opts: SummarizeOptions = {}): Stats {
  for (const s of samples) {
    if (!Number.isFinite(s)) throw new RangeError(`summarize: non-finite sample ${s}`);
  }
  const count = samples.length;
  const lossPct = lossPercent(opts.sent, count);
  if (count === 0) return { count: 0, min: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0, stddev: 0, lossPct };
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / count;
  const variance = count < 2 ? 0 : sorted.reduce((a, x) => a + (x - mean) ** 2, 0) / (count - 1);
  return {
    count,
    min: sorted[0],
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: sorted[count - 1],
    mean,
    stddev: Math.sqrt(variance),
    lossPct,
  };
}

function lossPercent(sent: number | undefined, received: number): number {
  if (sent === undefined || sent <= 0) return 0;
  return Math.min(100, Math.max(0, (100 * (sent - received)) / sent));
}

/**
 * a / b, for "achieved vs expected" comparisons. b = 0 gives 1 when a = 0 too
 * (nothing expected, nothing got) and Infinity otherwise — never NaN.
 */
export function ratio(a: number, b: number): number {
  if (b === 0) return a === 0 ? 1 : a > 0 ? Infinity : -Infinity;
  return a / b;
}
