// Stand-alone config for the admission unit tests (no sim, no browser).
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  reporter: 'list',
  fullyParallel: true,
});
