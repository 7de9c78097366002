// faultMatrix on the lab fixture spec: the exact failed set under a fault, and nested runs that
// hand their VMs to the next one (kept scopes, one run id and SSH key across runs).
import { faultMatrix } from './matrix.ts';

faultMatrix({
  suites: ['test/fixtures/specs/lab.fixture.ts'],
  config: 'test/fixtures/specs/playwright.config.ts',
  cases: [
    {
      fault: 'overlay-drop',
      fail: ['a reaches b across nodes', 'the next worker adopted the VMs'],
      messages: { 'a reaches b across nodes': /a → b [0-9.]+ icmp must answer: no echo reply/ },
    },
  ],
});
