// Self-tests: unit, sim fidelity (client-node and kubectl), fabric, guests, faults.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: '**/*.spec.ts',
  reporter: [['list'], ['junit', { outputFile: '../reports/selftest-junit.xml' }]],
  fullyParallel: false,
  workers: 2,
  timeout: 120_000,
  outputDir: '../test-results/selftest',
});
