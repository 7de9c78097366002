import { defineConfig } from '@playwright/test';

// Self-tests of the simulated data plane (src/sim/fabric). Serial: the plumb timings are reported.
export default defineConfig({
  testDir: '.',
  testMatch: /.*\.spec\.ts$/,
  workers: 1,
  timeout: 120_000,
  reporter: [['list']],
});
