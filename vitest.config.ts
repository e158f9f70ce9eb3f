import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Tests start real relays, Postfix, Redis clients and Chromium: on a 2-core machine, running
    // files one at a time keeps timing-sensitive tests (retries, pacing, crash loops) honest.
    fileParallelism: false,
    maxWorkers: 1,
  },
});
