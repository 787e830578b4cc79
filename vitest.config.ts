import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // End-to-end files each start a whole platform; on two cores they run best one at a time.
    fileParallelism: false,
    pool: 'forks',
  },
});
