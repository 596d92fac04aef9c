import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['apps/*/src/**/*.test.ts', 'packages/*/src/**/*.test.ts'],
    globalSetup: ['./packages/db/src/test-global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // the JSON report lets CI print a plain pass/fail count
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
  },
});
