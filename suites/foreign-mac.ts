// A guest NIC sending from a MAC that is not its assigned one (not a spec): the MAC-spoof checks
// of §8.5.2 and Table 8.1.
import type { LabVm } from '../src/fixtures/lab.ts';
import type { PathProbe } from '../src/fixtures/paths.ts';

/**
 * `path` while `v`'s `dev` carries `mac`, restored afterwards. The guest's neighbours are flushed
 * on the way in and out: its next packets start with an ARP from the MAC in force, so a peer
 * relearns it (and relearns the assigned one after), and no cached entry decides the result.
 */
export function fromForeignMac(v: LabVm, dev: string, mac: string, path: PathProbe): PathProbe {
  const flush = () => v.os.runOk(['ip', 'neigh', 'flush', 'dev', dev], { root: true });
  return {
    path: `${path.path}, sent from the foreign MAC ${mac} on ${dev}`,
    async run() {
      try {
        return await v.os.withMac(dev, mac, async () => {
          await flush();
          return path.run();
        });
      } finally {
        await flush();
      }
    },
  };
}
