import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

/**
 * Three tiers, by what a test needs (`npm test` runs all three; `npm run test:unit` etc. one):
 * - `unit`: nothing installed (in-process servers and the embedded broker at most), seconds;
 * - `integration`: the real services the test command installs (Redis, Mosquitto, Graphite,
 *   docker-compose), started by the tests themselves;
 * - `e2e`: the whole platform (`startPlatform` or `npm start`), on embedded or real parts, and the
 *   browser.
 * `npm run walls` keeps unit tests away from the services and the platform.
 */
export default defineConfig({
  resolve: {
    // One graphql for our code and for the libraries (which load its CommonJS build): two copies
    // make `instanceof GraphQLError` and the schema's type checks fail across them.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // End-to-end files each start a whole platform; on two cores they run best one at a time.
    fileParallelism: false,
    pool: 'forks',
    projects: ['unit', 'integration', 'e2e'].map((name) => ({ extends: true, test: { name, include: [`test/${name}/**/*.test.ts`] } })),
  },
});
