// Standalone config for the guest self-tests (until test/playwright.config.ts picks them up).
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: /.*\.spec\.ts$/,
  timeout: 60_000,
  fullyParallel: true,
  reporter: [['list']],
});
