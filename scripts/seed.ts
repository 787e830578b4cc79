/**
 * `npm run seed`: writes the gateways of a scenario (SCENARIO, SEED) into the configured
 * registry (REDIS_URL or REGISTRY_FILE) when it holds none yet: what an operator would have
 * entered for the simulated city. Exits 0 without changes when the registry is not empty.
 */
import { fileURLToPath } from 'node:url';
import { envConfig } from '#kit';
import { createLogger } from '#log';
import { openGatewayRegistry, registryOptionsFromEnv } from '#registry';
import { buildScenario, scenarioRegistry } from '#simulator';

async function main(): Promise<void> {
  const env = envConfig();
  const logger = createLogger('seed', env.string('LOG_LEVEL', 'info'));
  const scenario = buildScenario(env.string('SCENARIO', 'demo') === 'pisek' ? 'pisek' : 'demo', env.int('SEED', 2016));
  const registry = await openGatewayRegistry(
    registryOptionsFromEnv(env, { registryFile: fileURLToPath(new URL('../.data/registry.json', import.meta.url)) }),
    logger,
  );
  try {
    const existing = await registry.list();
    if (existing.length) {
      logger.info({ gateways: existing.length }, 'registry already holds gateways; nothing to do');
      return;
    }
    for (const record of scenarioRegistry(scenario, new Date())) await registry.add(record);
    logger.info({ gateways: scenario.gateways.length, scenario: scenario.name }, 'registry seeded');
  } finally {
    await registry.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`seed failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
