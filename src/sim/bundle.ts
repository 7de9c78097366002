// Small sim processes (DNS server, node gateways) bundled once per sim into plain CommonJS, so each
// starts as `node x.cjs` (~50 ms) instead of transpiling TypeScript through tsx.
import { buildSync } from 'esbuild';

export function bundleEntry(entry: string, outfile: string): string {
  buildSync({ entryPoints: [entry], bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile, logLevel: 'error' });
  return outfile;
}
