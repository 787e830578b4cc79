import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // One graphql for our code and for the libraries (which load its CommonJS build): two copies
    // make `instanceof GraphQLError` and the schema's type checks fail across them.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // End-to-end files each start a whole platform; on two cores they run best one at a time.
    fileParallelism: false,
    pool: 'forks',
  },
});
