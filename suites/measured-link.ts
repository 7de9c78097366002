// The measured part of a secondary-network suite (not a spec): guest-to-guest ICMP latency and
// TCP throughput over one link, cross-node, held to the profile's secondary-network thresholds.
import type { TestType } from '@playwright/test';
import { capability, details, requires, type Requirement } from '../src/fixtures/capability.ts';
import type { Lab, LabVm } from '../src/fixtures/lab.ts';
import { measureLatency, measureThroughput } from '../src/fixtures/measure.ts';

const IPERF_PORT = 5201;

export interface MeasuredLink {
  client: LabVm;
  server: LabVm;
  /** The server's address on the link under test. */
  serverAddr: string;
}

export interface MeasuredLinkOptions {
  /** The describe title, e.g. 'Measured on the Linux bridge network'. */
  title: string;
  feature: string;
  section: string;
  requires: Requirement[];
  /** Ends the test titles: 'over the bridge', 'over layer2'. */
  over: string;
  /** Names the attachments and metrics (icmp-<key>, "ICMP p99 RTT <key>"). */
  key: string;
}

/**
 * Declares the two measured tests in a capability describe of their own. The spec's test provides
 * the link as a `link` fixture (from its topology), since Playwright reads fixture names from the
 * test function's parameter.
 */
export function measuredLink<T extends { link: MeasuredLink }, W extends { lab: Lab }>(t: TestType<T, W>, o: MeasuredLinkOptions): void {
  const name = { key: o.key, label: o.key };
  const crossNode = details({ requires: [requires.nodes(2)], params: { placement: 'cross-node', family: 'IPv4' } });
  capability(o.title, { epic: 'Secondary networks', feature: o.feature, section: o.section, requires: o.requires }, () => {
    t(`ICMP latency guest to guest ${o.over}, cross-node`, crossNode, async ({ lab, link }) => {
      await measureLatency(lab.profile, link.client.guest, link.serverAddr, name, lab.profile.thresholds.secondary);
    });

    t(`TCP throughput guest to guest ${o.over}, cross-node`, crossNode, async ({ lab, link }) => {
      await measureThroughput(lab.profile, link.client.guest, link.server.guest, link.serverAddr, IPERF_PORT, name, lab.profile.thresholds.secondary);
    });
  });
}
