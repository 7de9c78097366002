// Host-side runner: starts the sandbox with sandbox-entry.ts and relays its output.
// Used by the spec to run as another user and to be SIGKILLed. Args are passed to the entry.
import { fileURLToPath } from 'node:url';
import { startSandbox } from '../../src/sim/fabric/sandbox.ts';

const entry = fileURLToPath(new URL('./sandbox-entry.ts', import.meta.url));
const stateDir = process.env.KVNET_TEST_STATE ?? `/tmp/kvnet-fabric-${process.pid}`;
const sb = startSandbox<{ createMs: number }>({ entry, args: process.argv.slice(2), stateDir });
sb.onLine((l) => console.log(l));
sb.ready.then((info) => console.log(`READY ${JSON.stringify({ ...info, pid: sb.child.pid })}`), (e: Error) => console.error(e.message));
const code = await sb.exited;
process.exit(code ?? 1);
