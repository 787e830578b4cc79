import { fileURLToPath } from 'node:url';
import { parseDuration, runService } from '#kit';
import { backendOptionsFromEnv, openBackends } from '../../platform/backends.ts';
import { startCollectorService } from './service.ts';

const defaultRegistryFile = fileURLToPath(new URL('../../.data/registry.json', import.meta.url));

/**
 * `npm run collector`: one collector process. With MQTT 5 (the default) it keeps a persistent
 * session under COLLECTOR_ID and shares the gateways with the other collectors of the broker.
 */
runService('collector', async (env, logger) => {
  const interval = parseDuration(env.string('POLL_INTERVAL', '10s'));
  if (interval instanceof Error) throw new Error(`POLL_INTERVAL: ${interval.message}`);
  const backends = await openBackends(backendOptionsFromEnv(env, { registryFile: defaultRegistryFile }), logger);
  if (!env.optional('REDIS_URL')) logger.warn('REDIS_URL is not set: readings go to an in-process live bus no subgraph sees');
  const service = await startCollectorService({
    mqttUrl: env.string('MQTT_URL', 'mqtt://127.0.0.1:1883'),
    protocolVersion: env.int('MQTT_PROTOCOL_VERSION', 5) === 4 ? 4 : 5,
    id: env.string('COLLECTOR_ID', `collector-${process.pid}`),
    group: env.string('COLLECTOR_GROUP', 'collectors'),
    ...backends,
    logger,
    intervalMs: interval * 1000,
    iqrfTimeoutMs: env.int('IQRF_TIMEOUT_MS', 10_000),
  });
  await service.collector.start();
  return {
    async close() {
      await service.close();
      await backends.close();
    },
  };
});
