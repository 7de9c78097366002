// Runs benchmarks: every `bench/*.bench.ts` named on the command line, or all of them.
// Each bench module does its work at import time and writes its own report.
import { readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const files = args.length
  ? args.map((a) => resolve(a.includes('/') || a.endsWith('.ts') ? a : join(here, `${a}.bench.ts`)))
  : readdirSync(here).filter((f) => f.endsWith('.bench.ts')).sort().map((f) => join(here, f));

for (const f of files) {
  console.log(`\n=== ${basename(f)} ===`);
  await import(pathToFileURL(f).href);
}
