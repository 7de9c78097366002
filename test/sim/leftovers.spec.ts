// A long-lived sim collects nothing: VMs booted and deleted one after another, each running the
// probes' responders and background tools, leave no zombie in the sandbox (its pid 1, tini, reaps
// orphans), no process of a deleted guest, and no file in the host's /tmp.
import { expect, test } from '@playwright/test';
import { startTcpResponder, tcpConnect, tcpThroughput } from '../../src/probes/index.ts';
import { DataPlaneSim, type TestVm } from './helpers.ts';
import { cmdline, newTmpEntries, pidNamespace, processesIn, sandboxInit, states, tmpEntries } from './host-leftovers.ts';

const VMS = 10;

test('10 VMs booted, probed and deleted leave no zombie in the sandbox and nothing new in the host /tmp', async () => {
  test.setTimeout(300_000);
  const tmpBefore = tmpEntries();
  const sim = await DataPlaneSim.start('leftovers');
  try {
    const init = sandboxInit(sim.sim.stateDir);
    expect(init, 'the sandbox runs under tini').toBeDefined();
    const ns = pidNamespace(init as number);
    const zombies = () => states(processesIn(ns)).filter((p) => p.state === 'Z').map((p) => `${p.pid} ${p.comm} (parent ${p.ppid})`);

    // Two at a time, so one can serve the other's throughput probe.
    for (let i = 0; i < VMS; i += 2) {
      const pair: TestVm[] = await Promise.all([0, 1].map((k) => sim.vm({ name: `vm-${i + k}`, node: `node-${k + 1}`, ports: [8080, 5201] })));
      const [a, b] = pair;
      // What the suites do: a daemonized socat responder (nohup ... &, so its parent shell exits at
      // once), reached and then stopped; and a one-off iperf3 server, stopped after one test.
      const stop = await startTcpResponder(b.guest, 8080, `hello from ${b.name}`);
      const r = await tcpConnect(a.guest, b.podIPv4, 8080, { timeoutMs: 5000, readReply: true });
      expect(r.reply, `TCP ${b.podIPv4}:8080 from ${a.name}: ${r.error ?? ''}`).toBe(`hello from ${b.name}`);
      await stop();
      // And one left running, as in a VM that is stopped with its tools: it goes with its guest.
      await a.guest.execOk(`nohup sleep 4242.${i} </dev/null >/dev/null 2>&1 &`);
      if (i === 0) await tcpThroughput(a.guest, b.guest, b.podIPv4, { seconds: 1 });
      for (const v of pair) {
        v.guest.close();
        await sim.kube.delete({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: v.name, namespace: sim.namespace } });
      }
      await sim.kube.waitFor(async () => {
        const left = await sim.kube.list('kubevirt.io/v1', 'VirtualMachineInstance', sim.namespace);
        return left.length === 0;
      }, { what: `the VMIs of ${pair.map((v) => v.name).join(', ')} to be gone`, timeoutMs: 60_000 });
    }
    sim.guests.length = 0;
    expect(processesIn(ns).map(cmdline).filter((c) => c.startsWith('sleep 4242.')), 'no process outlives its guest').toEqual([]);
    // A zombie waits for its parent; give tini's reaping loop (SIGCHLD, or its 1 s timeout) a moment.
    await expect.poll(zombies, { timeout: 5000, message: 'zombies in the sandbox' }).toEqual([]);
  } finally {
    await sim.stop();
  }
  expect(await newTmpEntries(tmpBefore, [process.pid]), 'no new file in the host /tmp').toEqual([]);
});
