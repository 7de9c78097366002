// Runs INSIDE the sandbox: a 2-node fabric, iperf3 between the nodes' eth0 addresses over the
// machine switch, unshaped and then with every node NIC shaped (shapeNodeNics, the nicRateGbps
// setting). Prints `RESULT <json>`. Args: --rate GBPS (default 1), --seconds S (default 2).
import { Fabric, run, sandboxMain, signalReady, spawnIn } from '../../src/sim/fabric/index.ts';
import { nodeNicLinks, shapeNodeNics } from '../../src/sim/fabric/shape.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}
const rate = Number(arg('--rate', '1'));
const seconds = Number(arg('--seconds', '2'));
const SERVER = '192.168.126.12';
const PORT = 5201;

/** One iperf3 run node-1 → node-2 (or node-2 → node-1 with reverse): received Gbit/s. */
async function iperf(reverse: boolean): Promise<number> {
  const server = spawnIn('node-2', ['iperf3', '-s', '-1', '-B', SERVER, '-p', String(PORT)], { stdio: 'ignore' });
  try {
    // Wait (bounded) for the server to listen: iperf3 -J reports a refused connection with exit 0.
    for (let i = 0; !(await run(['ss', '-Hltn'], { netns: 'node-2' })).stdout.includes(`${SERVER}:${PORT} `); i++) {
      if (i >= 100) throw new Error('iperf3 server did not come up');
      await new Promise((res) => setTimeout(res, 20));
    }
    const r = await run(['iperf3', '-J', '-c', SERVER, '-p', String(PORT), '-t', String(seconds), ...(reverse ? ['-R'] : [])], { netns: 'node-1', allowFail: true, timeoutMs: (seconds + 15) * 1000 });
    const j = JSON.parse(r.stdout || '{}') as { end?: { sum_received?: { bits_per_second: number } }; error?: string };
    const bps = j.end?.sum_received?.bits_per_second;
    if (r.code !== 0 || bps === undefined) throw new Error(`iperf3 reported no throughput (exit ${r.code}): ${j.error ?? r.stdout.slice(0, 2000)}${r.stderr}`);
    return bps / 1e9;
  } finally {
    server.kill('SIGKILL');
  }
}

sandboxMain(async () => {
  const f = await Fabric.create({ nodes: 2 });
  signalReady();
  const unshaped = await iperf(false);
  await shapeNodeNics(f, rate);
  const qdiscs: Record<string, string> = {};
  for (const l of nodeNicLinks(f)) {
    for (const e of [l.a, l.b]) qdiscs[`${e.netns}/${e.dev}`] = (await run(['tc', 'qdisc', 'show', 'dev', e.dev], { netns: e.netns })).stdout;
  }
  const shaped = await iperf(false);
  const shapedReverse = await iperf(true);
  process.stdout.write(`RESULT ${JSON.stringify({ rate, unshaped, shaped, shapedReverse, qdiscs })}\n`);
  await f.destroy();
});
