// Harness-side timings (API round-trips, time-to-SSH) measured with tinybench.
import { Bench } from 'tinybench';
import { summarize, type Stats } from './stats.ts';

export interface TimeAsyncOptions {
  /** Measured iterations (exactly this many). Default 10. */
  iterations?: number;
  /** Unmeasured warmup iterations first. Default 1; 0 disables warmup. */
  warmup?: number;
}

export interface HarnessTiming {
  name: string;
  /** ms per iteration, ascending (tinybench retains them sorted). */
  samples: number[];
  stats: Stats;
  tool: 'tinybench';
}

/** Runs fn `iterations` times (after `warmup`), sequentially. fn's first error is thrown. */
export async function timeAsync(name: string, fn: () => Promise<unknown>, opts: TimeAsyncOptions = {}): Promise<HarnessTiming> {
  const iterations = Math.max(1, opts.iterations ?? 10);
  const warmup = Math.max(0, opts.warmup ?? 1);
  // time: 0 disables the time budget, so the counts are exact (tinybench otherwise runs ≥ 1 s).
  const bench = new Bench({
    name, iterations, time: 0,
    warmup: warmup > 0, warmupIterations: warmup, warmupTime: 0,
    retainSamples: true, throws: true,
  });
  bench.add(name, async () => { await fn(); });
  const [task] = await bench.run();
  const res = task.result;
  if (res.state === 'errored') throw res.error;
  if (res.state !== 'completed') throw new Error(`timeAsync ${name}: tinybench task ended ${res.state}`);
  const samples = [...(res.latency.samples ?? [])];
  return { name, samples, stats: summarize(samples), tool: 'tinybench' };
}
