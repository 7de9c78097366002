// `kvnet sim fault list|set|clear`: the sim's fault registry for people, over the admin socket of
// the sim that wrote the given kubeconfig. Mistakes get one sentence and a non-zero exit, no stack.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import YAML from 'yaml';
import { adminSocketPath } from './admin.ts';
import { SimAdmin } from './admin-client.ts';
import { FAULT_NAMES, type FaultSelector, type FaultSpec } from './faults.ts';
import { simLocatorPath, type SimLocator } from './kubeconfig.ts';

export const FAULT_USAGE = `usage:
  kvnet sim fault list [--kubeconfig FILE]
  kvnet sim fault set NAME [--percent N] [--mtu N] [--nodes A,B] [--namespace NS] [--vm NAME] [--node NODE] [--kubeconfig FILE]
  kvnet sim fault clear NAME|--all [--kubeconfig FILE]
      NAME is one of: ${FAULT_NAMES.join(', ')}
      --namespace/--vm/--node scope the fault (where it supports that); --kubeconfig defaults to .kvnet/kubeconfig`;

/** A mistake of the user's (exit 2) or a sim that cannot be reached (exit 1), told in one sentence. */
class FaultCliError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

const usage = (m: string) => new FaultCliError(`${m}\n\n${FAULT_USAGE}`, 2);

const FLAGS = { kubeconfig: 'string', percent: 'string', mtu: 'string', nodes: 'string', namespace: 'string', vm: 'string', node: 'string', all: 'boolean' } as const;
type Flag = keyof typeof FLAGS;

function parse(args: string[]): { flags: Partial<Record<Flag, string | true>>; rest: string[] } {
  const flags: Partial<Record<Flag, string | true>> = {};
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) { rest.push(a); continue; }
    const [name, inline] = a.slice(2).split('=', 2);
    if (!(name in FLAGS)) throw usage(`unknown flag --${name}`);
    const f = name as Flag;
    if (FLAGS[f] === 'boolean') { flags[f] = true; continue; }
    const v = inline ?? args[++i];
    if (v === undefined || v.startsWith('--')) throw usage(`--${name} needs a value`);
    flags[f] = v;
  }
  return { flags, rest };
}

function int(v: string | true | undefined, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v === true || !Number.isInteger(n) || n < min || n > max) throw usage(`--${name} must be a whole number from ${min} to ${max} (got "${v}")`);
  return n;
}

function serverOf(kubeconfig: string): string | undefined {
  const cfg = YAML.parse(readFileSync(kubeconfig, 'utf8')) as { 'current-context'?: string; contexts?: { name: string; context?: { cluster?: string } }[]; clusters?: { name: string; cluster?: { server?: string } }[] } | null;
  const ctx = cfg?.contexts?.find((c) => c.name === cfg['current-context'])?.context?.cluster;
  return cfg?.clusters?.find((c) => c.name === ctx)?.cluster?.server;
}

/** The running sim behind a kubeconfig, through the locator file the sim writes beside it. */
export function locateSim(kubeconfig: string): SimLocator {
  if (!existsSync(kubeconfig)) throw new FaultCliError(`no kubeconfig at ${kubeconfig}; pass the one \`npx kvnet sim up\` printed with --kubeconfig`, 2);
  const locPath = simLocatorPath(kubeconfig);
  if (!existsSync(locPath)) {
    throw new FaultCliError(`${kubeconfig} was not written by a running kvnet sim (no ${locPath}); faults exist only on the bundled sim: start one with \`npx kvnet sim up --kubeconfig ${kubeconfig}\``, 1);
  }
  const loc = JSON.parse(readFileSync(locPath, 'utf8')) as SimLocator;
  if (serverOf(kubeconfig) !== loc.server) throw new FaultCliError(`${locPath} belongs to another sim (${loc.server}) than ${kubeconfig} (${serverOf(kubeconfig) ?? 'no server'}); is that sim still running?`, 1);
  if (!existsSync(adminSocketPath(loc.stateDir))) throw new FaultCliError(`the sim behind ${kubeconfig} is not running (no admin socket in ${loc.stateDir})`, 1);
  return loc;
}

interface FaultList { active: Record<string, FaultSpec>; known: Record<string, string> }

function reason(e: unknown): string {
  const m = (e as Error).message ?? String(e);
  if (/ENOENT|ECONNREFUSED/.test(m)) return 'the sim is not running (its admin socket does not answer)';
  return m.replace(/^sim admin \w+ \S+: /, '');
}

function selectorOf(flags: Partial<Record<Flag, string | true>>): FaultSelector | undefined {
  const sel: FaultSelector = {};
  for (const k of ['namespace', 'vm', 'node'] as const) {
    const v = flags[k];
    if (v === true) throw usage(`--${k} needs a value`);
    if (v !== undefined) sel[k] = v;
  }
  return Object.keys(sel).length ? sel : undefined;
}

function render(list: FaultList): string {
  const names = Object.keys(list.known).sort();
  const w = Math.max(...names.map((n) => n.length), 5);
  const rows = names.map((n) => {
    const spec = list.active[n];
    const state = spec ? `ACTIVE ${JSON.stringify(spec)}` : '-';
    return `${n.padEnd(w)}  ${state}\n${' '.repeat(w + 2)}${list.known[n]}`;
  });
  return [`${'FAULT'.padEnd(w)}  STATE`, ...rows].join('\n');
}

async function run(args: string[]): Promise<string> {
  const [verb, ...more] = args;
  if (!verb || verb === 'help' || verb === '--help') return FAULT_USAGE;
  const { flags, rest } = parse(more);
  const kubeconfig = resolve(typeof flags.kubeconfig === 'string' ? flags.kubeconfig : '.kvnet/kubeconfig');
  const admin = () => new SimAdmin(locateSim(kubeconfig).stateDir);
  const known = (name: string | undefined): string => {
    if (!name) throw usage(`sim fault ${verb} needs a fault NAME`);
    if (!(FAULT_NAMES as readonly string[]).includes(name)) throw usage(`unknown fault "${name}"`);
    return name;
  };
  if (verb === 'list') {
    if (rest.length) throw usage(`unexpected argument "${rest[0]}"`);
    return render((await admin().active().catch((e) => { throw new FaultCliError(reason(e), 1); })) as FaultList);
  }
  if (verb === 'set') {
    if (rest.length !== 1) throw usage(rest.length ? `set takes one fault NAME (got ${rest.join(' ')})` : 'sim fault set needs a fault NAME');
    const name = known(rest[0]);
    const nodes = flags.nodes === undefined ? undefined : String(flags.nodes).split(',');
    if (nodes && nodes.length !== 2) throw usage('--nodes takes two node names: --nodes node-1,node-2');
    const spec: FaultSpec = {
      ...(flags.percent !== undefined ? { percent: int(flags.percent, 'percent', 1, 100) } : {}),
      ...(flags.mtu !== undefined ? { mtu: int(flags.mtu, 'mtu', 576, 9216) } : {}),
      ...(nodes ? { nodes: nodes as [string, string] } : {}),
      ...(selectorOf(flags) ? { selector: selectorOf(flags) } : {}),
    };
    await admin().inject(name as (typeof FAULT_NAMES)[number], spec).catch((e) => { throw new FaultCliError(`cannot set ${name}: ${reason(e)}`, 1); });
    return `${name} set ${JSON.stringify(spec)}`;
  }
  if (verb === 'clear') {
    const a = admin();
    if (flags.all) {
      if (rest.length) throw usage('clear takes a NAME or --all, not both');
      const list = (await a.active().catch((e) => { throw new FaultCliError(reason(e), 1); })) as FaultList;
      for (const n of Object.keys(list.active)) await a.clear(n as (typeof FAULT_NAMES)[number]);
      return Object.keys(list.active).length ? `cleared ${Object.keys(list.active).join(', ')}` : 'no fault was active';
    }
    if (rest.length !== 1) throw usage('sim fault clear needs one fault NAME (or --all)');
    const name = known(rest[0]);
    await a.clear(name as (typeof FAULT_NAMES)[number]).catch((e) => { throw new FaultCliError(`cannot clear ${name}: ${reason(e)}`, 1); });
    return `${name} cleared`;
  }
  throw usage(`unknown verb "${verb}"`);
}

/** Runs the command; returns the exit code (0 ok, 1 the sim refused or is unreachable, 2 usage). */
export async function runFaultCli(args: string[], out: (s: string) => void = (s) => console.log(s), err: (s: string) => void = (s) => console.error(s)): Promise<number> {
  try {
    out(await run(args));
    return 0;
  } catch (e) {
    if (e instanceof FaultCliError) {
      err(`kvnet: ${e.message}`);
      return e.exitCode;
    }
    err(`kvnet: sim fault: ${reason(e)}`);
    return 1;
  }
}
