import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The Temporal native module crashes in worker threads: one process per test file.
    pool: 'forks',
    maxWorkers: 2,
    globalSetup: ['test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
