// Starting a sim from the host: the sandbox with everything inside, the edge relay on
// 127.0.0.1, and a kubeconfig that points at it.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SETTINGS, type SimSettings } from './cluster.ts';
import { Edge } from './edge.ts';
import { startSandbox, type SandboxProcess } from './fabric/sandbox.ts';
import { HostForwarder } from './ingress/host-forwarder.ts';
import { removeSimLocator, writeKubeconfig, writePublishedProfile, writeSimLocator } from './kubeconfig.ts';
import { simProfile } from './modules/index.ts';
import { TOPOLOGY } from './topology.ts';
import { Sim, type SimOptions } from './sim.ts';
import { makeServingCert } from './tls.ts';

export interface StartSimOptions {
  settings?: Partial<SimSettings>;
  /** Where to write the kubeconfig (default `.kvnet/kubeconfig`). */
  kubeconfig?: string;
  /** Edge port on 127.0.0.1; 0 picks a free one. */
  port?: number;
  /** false: control plane only, in this process (no sandbox, no packets). */
  dataPlane?: boolean;
  /** false: no KubeVirt controllers or scheduler (control plane only; see SimOptions). */
  workloadControllers?: boolean;
}

export interface SimHandle {
  kubeconfig: string;
  server: string;
  token: string;
  caPem: string;
  stateDir: string;
  settings: SimSettings;
  stop(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

export async function startSim(opts: StartSimOptions = {}): Promise<SimHandle> {
  // Node ExternalIPs and LoadBalancer addresses: a host-loopback /24 of our own, so sims do not collide.
  const settings: SimSettings = { ...DEFAULT_SETTINGS, externalNet: `127.${1 + randomBytes(1)[0] % 254}.${randomBytes(1)[0]}`, ...opts.settings };
  const kubeconfig = resolve(opts.kubeconfig ?? '.kvnet/kubeconfig');
  const runDir = resolve(dirname(kubeconfig), 'run');
  removeStale(runDir);
  const stateDir = resolve(runDir, `sim-${process.pid}-${randomBytes(3).toString('hex')}`);
  // The state dir holds the API's and admin's sockets, the TLS key and the token: the owner's only,
  // whatever the umask (mkdir's mode is filtered by it, hence the chmod).
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  chmodSync(runDir, 0o700);
  chmodSync(stateDir, 0o700);
  const token = randomBytes(24).toString('base64url');
  const tls = makeServingCert();
  const dataPlane = opts.dataPlane ?? true;

  // However this process ends without stop() (an exit while starting or in the middle of a run, a
  // second Ctrl-C), the sandbox and the state dir with the token and TLS key go with it. (SIGKILL
  // cannot run this; the sandbox then ends on stdin EOF and the next start removes the dir.)
  let killInner = (): void => undefined;
  const onExit = () => {
    killInner();
    rmSync(stateDir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  let stopInner: () => Promise<void>;
  let server: string;
  if (!dataPlane) {
    const sim = await Sim.start({ settings, token, tls, listen: opts.port ?? 0, stateDir, dataPlane: false, workloadControllers: opts.workloadControllers });
    server = `https://${sim.api.address}`;
    stopInner = () => sim.stop();
  } else {
    // The API listens on a unix socket in the shared state dir; the edge brings it to host loopback.
    const apiSocket = join(stateDir, 'api.sock');
    const simOpts: SimOptions = { settings, token, tls, listen: apiSocket, stateDir, dataPlane: true };
    const cfg = join(stateDir, 'sim.json');
    writeFileSync(cfg, JSON.stringify(simOpts), { mode: 0o600 });
    const sandbox: SandboxProcess = startSandbox({ entry: join(here, 'main.ts'), args: [cfg], stateDir, readyTimeoutMs: 60_000 });
    killInner = () => sandbox.kill();
    try {
      await sandbox.ready;
    } catch (e) {
      await sandbox.stop();
      process.off('exit', onExit);
      onExit();
      throw new Error(`the sim sandbox did not start: ${(e as Error).message}`);
    }
    const edge = new Edge(apiSocket);
    const port = await edge.listen(opts.port ?? 0);
    server = `https://127.0.0.1:${port}`;
    const forwarder = new HostForwarder(stateDir).start();
    stopInner = async () => {
      await forwarder.close();
      await edge.close();
      await sandbox.stop();
    };
  }
  writeKubeconfig(kubeconfig, server, token, tls.caPem);
  writeSimLocator(kubeconfig, { server, stateDir });
  writePublishedProfile(kubeconfig, simProfile(TOPOLOGY));
  let stopped: Promise<void> | undefined;
  return {
    kubeconfig, server, token, caPem: tls.caPem, stateDir, settings,
    stop() {
      stopped ??= stopInner().finally(() => {
        removeSimLocator(kubeconfig, stateDir);
        rmSync(stateDir, { recursive: true, force: true });
        process.off('exit', onExit);
      });
      return stopped;
    },
  };
}

/** State dirs of sims whose host process was killed (SIGKILL cannot clean up after itself). */
function removeStale(runDir: string): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(runDir);
  } catch {
    return;
  }
  for (const e of entries) {
    const pid = Number(/^sim-(\d+)-/.exec(e)?.[1]);
    if (!pid) continue;
    try {
      process.kill(pid, 0);
    } catch {
      rmSync(resolve(runDir, e), { recursive: true, force: true });
    }
  }
}
