import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Tests start real servers on fixed-free ports; files run in parallel, tests inside a file in order.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
