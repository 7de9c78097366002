// `kvnet report`: turn reports/allure-results into a single-file Allure HTML
// report, carrying history (trends) between runs and embedding the conformance
// matrix.
//
// History with --single-file (allure-commandline 2.46.1, checked): the
// single-file mode writes only index.html, no history/ directory. So we generate
// twice: a throwaway multi-file report (in a temp dir) whose history/ we keep, and
// the single-file report that people open. The kept history lives in
// <reportDir>/history/ (next to index.html) and is copied into
// <resultsDir>/history/ before the next generation, which is where Allure reads it.
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface GenerateOptions {
  /** Default reports/allure-results. */
  resultsDir?: string;
  /** Default reports/allure-report. */
  reportDir?: string;
  /** Default reports/conformance-matrix.html; embedded when present. */
  matrixHtml?: string;
  /** Default node_modules/allure-commandline/dist/bin/allure. */
  allureBin?: string;
  /** Java executable to probe; default $JAVA_HOME/bin/java or java on PATH. */
  java?: string;
  /** Report title (Allure executor reportName). */
  reportName?: string;
  log?: (line: string) => void;
}

export interface GenerateResult {
  /** 0 ok, 2 no results, 3 no Java, 4 allure failed. */
  code: number;
  message: string;
  reportIndex?: string;
  historyDir?: string;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const JAVA_HINT = 'Allure needs a Java runtime (11+). On Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless (or set JAVA_HOME to an existing JDK/JRE).';
const MATRIX_ATTACHMENT = 'kvnet-matrix-attachment.html';
const MATRIX_CONTAINER = 'kvnet-matrix-container.json';

export function defaultAllureBin(): string {
  return join(ROOT, 'node_modules/allure-commandline/dist/bin/allure');
}

function javaExecutable(): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

export function javaAvailable(java = javaExecutable()): boolean {
  try {
    return spawnSync(java, ['-version'], { stdio: 'ignore', timeout: 30_000 }).status === 0;
  } catch {
    return false;
  }
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile(bin, args, { env, maxBuffer: 64 * 1024 * 1024, timeout: 10 * 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      done({ code, output: `${stdout}${stderr}` });
    });
  });
}

function resultUuids(resultsDir: string): string[] {
  const uuids: string[] = [];
  for (const f of readdirSync(resultsDir)) {
    if (!f.endsWith('-result.json')) continue;
    try {
      const r = JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as { uuid?: string };
      if (r.uuid) uuids.push(r.uuid);
    } catch {
      // A half-written result (interrupted run) is skipped, not fatal.
    }
  }
  return uuids;
}

/**
 * Embed the matrix: Allure 2 has no report-level attachments, so we add a
 * container whose tear-down fixture carries the matrix HTML. Containers do not
 * count as tests, and every test page shows it under "Tear down".
 */
function embedMatrix(resultsDir: string, matrixHtml: string, uuids: string[]): void {
  cpSync(matrixHtml, join(resultsDir, MATRIX_ATTACHMENT));
  const now = Date.now();
  writeFileSync(join(resultsDir, MATRIX_CONTAINER), JSON.stringify({
    uuid: 'kvnet-matrix',
    name: 'kvnet conformance matrix',
    children: uuids,
    befores: [],
    afters: [{
      name: 'kvnet conformance matrix',
      status: 'passed',
      stage: 'finished',
      start: now,
      stop: now,
      steps: [],
      parameters: [],
      attachments: [{ name: 'conformance matrix', source: MATRIX_ATTACHMENT, type: 'text/html' }],
    }],
  }));
}

/** Executor info: report title, a link to the matrix next to index.html, and the build number trends use. */
function writeExecutor(resultsDir: string, reportName: string, hasMatrix: boolean): void {
  let buildOrder = 1;
  try {
    const trend = JSON.parse(readFileSync(join(resultsDir, 'history', 'history-trend.json'), 'utf8')) as Array<{ buildOrder?: number }>;
    buildOrder = Math.max(0, ...trend.map((t) => t.buildOrder ?? 0), trend.length) + 1;
  } catch {
    // First run.
  }
  writeFileSync(join(resultsDir, 'executor.json'), JSON.stringify({
    name: 'kvnet',
    type: 'kvnet',
    reportName,
    buildOrder,
    buildName: hasMatrix ? `kvnet run #${buildOrder} — conformance matrix` : `kvnet run #${buildOrder}`,
    ...(hasMatrix ? { buildUrl: 'conformance-matrix.html' } : {}),
  }));
}

export async function generateReport(opts: GenerateOptions = {}): Promise<GenerateResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const resultsDir = resolve(opts.resultsDir ?? 'reports/allure-results');
  const reportDir = resolve(opts.reportDir ?? 'reports/allure-report');
  const matrixHtml = resolve(opts.matrixHtml ?? 'reports/conformance-matrix.html');
  const bin = opts.allureBin ?? defaultAllureBin();

  if (!existsSync(resultsDir)) return { code: 2, message: `no Allure results in ${resultsDir}; run the suites first (npx playwright test)` };
  const uuids = resultUuids(resultsDir);
  if (uuids.length === 0) return { code: 2, message: `no test results (*-result.json) in ${resultsDir}; run the suites first` };
  if (!javaAvailable(opts.java ?? javaExecutable())) return { code: 3, message: JAVA_HINT };
  if (!existsSync(bin)) return { code: 4, message: `allure CLI not found at ${bin}; run npm install (devDependency allure-commandline)` };

  // Carry history forward: Allure reads <results>/history/.
  const prevHistory = join(reportDir, 'history');
  if (existsSync(prevHistory)) cpSync(prevHistory, join(resultsDir, 'history'), { recursive: true });
  const hasMatrix = existsSync(matrixHtml);
  if (hasMatrix) embedMatrix(resultsDir, matrixHtml, uuids);
  writeExecutor(resultsDir, opts.reportName ?? 'kvnet conformance', hasMatrix);

  const env = { ...process.env };
  const tmp = mkdtempSync(join(tmpdir(), 'kvnet-allure-'));
  try {
    const multi = await run(bin, ['generate', '--clean', resultsDir, '-o', join(tmp, 'report')], env);
    if (multi.code !== 0) return { code: 4, message: `allure generate failed (${multi.code}):\n${multi.output.trim()}` };
    const single = await run(bin, ['generate', '--single-file', '--clean', resultsDir, '-o', reportDir], env);
    if (single.code !== 0) return { code: 4, message: `allure generate --single-file failed (${single.code}):\n${single.output.trim()}` };
    // --clean wiped reportDir; put the fresh history and the matrix back next to index.html.
    const historyDir = join(reportDir, 'history');
    if (existsSync(join(tmp, 'report', 'history'))) cpSync(join(tmp, 'report', 'history'), historyDir, { recursive: true });
    if (hasMatrix) cpSync(matrixHtml, join(reportDir, 'conformance-matrix.html'));
    const reportIndex = join(reportDir, 'index.html');
    log(`allure report: ${reportIndex}${hasMatrix ? ` (matrix: ${join(reportDir, 'conformance-matrix.html')})` : ''}`);
    return { code: 0, message: 'ok', reportIndex, historyDir };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** For globalTeardown / end-of-run hooks: logs problems, never throws, never changes the run's outcome. */
export async function generateReportQuietly(opts: GenerateOptions = {}): Promise<GenerateResult> {
  try {
    const r = await generateReport(opts);
    if (r.code !== 0) console.error(`kvnet report: ${r.message}`);
    return r;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    console.error(`kvnet report: ${message}`);
    return { code: 1, message };
  }
}

export const REPORT_USAGE = `usage: kvnet report [--results DIR] [--out DIR] [--matrix FILE] [--name TITLE]
  builds the single-file Allure report (needs Java) from the last run's results, carrying history
  defaults: --results reports/allure-results --out reports/allure-report --matrix reports/conformance-matrix.html`;

/** CLI entry (`kvnet report …`); returns the exit code. */
export async function runReport(args: string[]): Promise<number> {
  const opts: GenerateOptions = {};
  const flags: Record<string, (v: string) => void> = {
    results: (v) => { opts.resultsDir = v; },
    out: (v) => { opts.reportDir = v; },
    matrix: (v) => { opts.matrixHtml = v; },
    name: (v) => { opts.reportName = v; },
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--help' || a === '-h') { console.log(REPORT_USAGE); return 0; }
    const [name, inline] = a.startsWith('--') ? a.slice(2).split('=', 2) : [a, undefined];
    const set = flags[name];
    if (!a.startsWith('--') || !set) { console.error(`kvnet report: unknown argument "${a}"\n\n${REPORT_USAGE}`); return 64; }
    const v = inline ?? args[++i];
    if (v === undefined || v.startsWith('--')) { console.error(`kvnet report: --${name} needs a value\n\n${REPORT_USAGE}`); return 64; }
    set(v);
  }
  const r = await generateReportQuietly(opts);
  return r.code;
}

// Allow `node --import tsx src/report/generate.ts [...]` directly.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runReport(process.argv.slice(2)).then((code) => { process.exitCode = code; }, () => { process.exitCode = 1; });
}
