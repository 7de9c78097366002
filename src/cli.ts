// `kvnet`: the command line. Each subcommand says what is wrong with its flags and how to fix them.
import { realpathSync } from 'node:fs';

const USAGE = `usage:
  kvnet sim up [--nodes N] [--kubeconfig FILE] [--mtu N] [--single-stack] [--port N] [--no-dataplane]
      start a simulated cluster in the foreground; prints "kvnet sim ready kubeconfig=<path>"
  kvnet sim fault list|set|clear [NAME] [--percent N] [--mtu N] [--namespace NS] [--vm NAME] [--node NODE] --kubeconfig FILE
      see a check go red: set, list or clear a fault of the bundled sim (\`kvnet sim fault help\` for details)
  kvnet ssh-proxy --kubeconfig FILE <namespace> <vmi> [port]
      an OpenSSH ProxyCommand: stdin/stdout to <port> (default 22) of the VMI, over port-forward
  kvnet preflight [--kubeconfig FILE] [--target sim|cluster] [--config FILE] [--facts] [SUITE...]
      what this machine and the target cluster offer (tools, nodes, dual-stack, API groups), and per suite
      and capability which declared requirements are unmet, so which tests will skip and why
  kvnet cleanup --run-id ID [--kubeconfig FILE]
      delete the namespaces a run left behind (label kvnet.io/run-id=ID)
  kvnet report [--results DIR] [--out DIR]
      build the single-file Allure HTML report from the last run (needs Java)
  kvnet gate [--matrix FILE] [--require CAPABILITY] [--no-skips] [--allow-thresholds]
      exit non-zero when the last run's conformance matrix has failures (for nightly CI): 1 failures,
      2 usage or not a matrix, 3-7 the run stopped on a configuration error (profile, kubeconfig, unreachable, project, tools)`;

class UsageError extends Error {}

interface Flags {
  [name: string]: string | boolean;
}

function parseFlags(args: string[], spec: Record<string, 'string' | 'boolean'>): { flags: Flags; rest: string[] } {
  const flags: Flags = {};
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) { rest.push(a); continue; }
    const [name, inline] = a.slice(2).split('=', 2);
    const type = spec[name];
    if (!type) throw new UsageError(`unknown flag --${name}; known flags: ${Object.keys(spec).map((f) => `--${f}`).join(', ')}`);
    if (type === 'boolean') { flags[name] = true; continue; }
    const v = inline ?? args[++i];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`--${name} needs a value`);
    flags[name] = v;
  }
  return { flags, rest };
}

function intFlag(flags: Flags, name: string, min: number, max: number): number | undefined {
  if (flags[name] === undefined) return undefined;
  const n = Number(flags[name]);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got "${flags[name]}")`);
  return n;
}

async function simUp(args: string[]): Promise<void> {
  const { flags, rest } = parseFlags(args, { nodes: 'string', kubeconfig: 'string', mtu: 'string', 'single-stack': 'boolean', port: 'string', 'no-dataplane': 'boolean' });
  if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`);
  const nodes = intFlag(flags, 'nodes', 1, 16);
  const mtu = intFlag(flags, 'mtu', 1280, 9000);
  const port = intFlag(flags, 'port', 0, 65535);
  const { startSim } = await import('./sim/up.ts');
  // Ctrl-C, `kill`/CI cancellation and a closed terminal all stop the sim in order; one that comes
  // while it starts ends the process, and startSim's exit hook takes the sandbox and state dir.
  let sim: Awaited<ReturnType<typeof startSim>> | undefined;
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (!sim) process.exit(1);
    sim.stop().then(() => process.exit(0), (e: Error) => { console.error(`kvnet: the sim did not stop cleanly: ${e.message}`); process.exit(1); });
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, stop);
  sim = await startSim({
    settings: { ...(nodes ? { nodes } : {}), ...(mtu ? { mtu } : {}), ...(flags['single-stack'] ? { dualStack: false } : {}) },
    kubeconfig: flags.kubeconfig as string | undefined,
    port,
    dataPlane: !flags['no-dataplane'],
  });
  console.log(`kvnet sim ready kubeconfig=${realpathSync(sim.kubeconfig)}`);
}

async function kubeFrom(flags: Flags) {
  const { Kube } = await import('./kube/client.ts');
  return flags.kubeconfig ? Kube.fromFile(flags.kubeconfig as string) : Kube.fromDefault();
}

async function preflight(args: string[]): Promise<void> {
  const { flags, rest } = parseFlags(args, { kubeconfig: 'string', target: 'string', config: 'string', facts: 'boolean' });
  const target = (flags.target ?? 'cluster') as string;
  if (target !== 'sim' && target !== 'cluster') throw new UsageError(`--target must be sim or cluster (got "${target}")`);
  const { checkSimTools, formatPreflight, listSuites } = await import('./fixtures/preflight.ts');
  try {
    checkSimTools();
    console.log('tools: everything the bundled sim needs is installed');
  } catch (e) {
    console.log(`tools: ${(e as Error).message}`);
  }
  const { discover } = await import('./kube/discovery.ts');
  const facts = await discover(await kubeFrom(flags));
  if (flags.facts) console.log(JSON.stringify(facts, null, 2));
  else console.log(`target: Kubernetes ${facts.kubernetesVersion}${facts.kubevirtVersion ? `, KubeVirt ${facts.kubevirtVersion}` : ''}, ${facts.schedulableNodes.length} schedulable nodes, ${facts.dualStack ? 'dual-stack' : 'single-stack'}, ${facts.groups.length} API groups`);
  const { loadProfile } = await import('./fixtures/profile.ts');
  const tests = await listSuites((flags.config as string | undefined) ?? 'playwright.config.ts', rest);
  // A sim's profile includes the keys it published beside the kubeconfig it is reached by.
  const simKubeconfig = (flags.kubeconfig as string | undefined) ?? process.env.KVNET_SIM_KUBECONFIG;
  const r = formatPreflight(tests, facts, target === 'sim' ? loadProfile('sim', undefined, simKubeconfig) : loadProfile('cluster'));
  console.log(`\nrequirements (profile for target ${target}${process.env.KVNET_PROFILE ? `, KVNET_PROFILE=${process.env.KVNET_PROFILE}` : ''}):\n${r.text}`);
  console.log(`\n${r.total - r.unmetTests} of ${r.total} tests can run; ${r.unmetTests} will skip for an unmet requirement`);
}

async function cleanup(args: string[]): Promise<void> {
  const { flags, rest } = parseFlags(args, { kubeconfig: 'string', 'run-id': 'string' });
  if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`);
  if (!flags['run-id']) throw new UsageError('--run-id is required (the kvnet.io/run-id label value; see the report\'s environment panel)');
  const { cleanupRun } = await import('./fixtures/lab.ts');
  const gone = await cleanupRun(await kubeFrom(flags), flags['run-id'] as string);
  console.log(gone.length ? `deleted namespaces: ${gone.join(', ')}` : 'nothing left behind');
}

async function main(argv: string[]): Promise<void> {
  const [cmd, sub, ...rest] = argv;
  if (cmd === 'sim' && sub === 'up') return simUp(rest);
  if (cmd === 'sim' && sub === 'fault') {
    const { runFaultCli } = await import('./sim/fault-cli.ts');
    process.exitCode = await runFaultCli(rest);
    return;
  }
  if (cmd === 'ssh-proxy') {
    const { runProxy } = await import('./guest/proxy.ts');
    const code = await runProxy([sub, ...rest].filter((a): a is string => a !== undefined));
    // Exit explicitly: a paused stdin would otherwise keep the process alive.
    process.stdout.write('', () => process.exit(code));
    return;
  }
  if (cmd === 'report') {
    const { runReport } = await import('./report/generate.ts');
    process.exitCode = await runReport([sub, ...rest].filter((a): a is string => a !== undefined));
    return;
  }
  if (cmd === 'gate') {
    const { runGate } = await import('./report/gate.ts');
    process.exitCode = runGate([sub, ...rest].filter((a): a is string => a !== undefined));
    return;
  }
  if (cmd === 'preflight') return preflight([sub, ...rest].filter((a): a is string => a !== undefined));
  if (cmd === 'cleanup') return cleanup([sub, ...rest].filter((a): a is string => a !== undefined));
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') { console.log(USAGE); return; }
  throw new UsageError(`unknown command "${argv.join(' ')}"`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof UsageError) {
    console.error(`kvnet: ${e.message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error(`kvnet: ${(e as Error).message ?? e}`);
  process.exit(1);
});
