import { defineConfig } from 'vitest/config';

/**
 * `npm run test:unit`: the tests of pure modules, named `*.unit.test.ts` beside the other tests of
 * their area (`npm test` runs them too). They need no Redis, Postfix, Chromium, DNS server or
 * network (`.ci/run` runs them in a network namespace of their own to keep it so), so their files
 * run in parallel.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.unit.test.ts'],
    testTimeout: 10_000,
    pool: 'forks',
  },
});
