// The sandbox's pid 1: runs the whole sim inside the user+net+mount+pid namespaces.
import { readFileSync } from 'node:fs';
import { sandboxMain, signalReady } from './fabric/sandbox.ts';
import { Sim, type SimOptions } from './sim.ts';

// Everything the sim creates in its state dir (sockets, records, relays) is the owner's only,
// whatever umask it was started under; children inherit this.
process.umask(0o077);

let sim: Sim | undefined;
sandboxMain(async () => {
  const opts = JSON.parse(readFileSync(process.argv[2], 'utf8')) as SimOptions;
  sim = await Sim.start(opts);
  signalReady({ listen: opts.listen });
}, { keepAlive: true, onExit: () => sim?.stop() });
