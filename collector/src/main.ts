import { createMqttClient, IqrfClient, waitForConnection } from '#iqrf';
import { parseDuration, runService } from '#kit';
import { MeshCatalog } from '#registry';
import { backendOptionsFromEnv, openBackends } from '../../platform/backends.ts';
import { Collector } from './collector.ts';
import { CollectorMembership } from './membership.ts';

/**
 * `npm run collector`: one collector process. With MQTT 5 (the default) it keeps a persistent
 * session under COLLECTOR_ID and shares the gateways with the other collectors of the broker.
 */
runService('collector', async (env, logger) => {
  const interval = parseDuration(env.string('POLL_INTERVAL', '10s'));
  if (interval instanceof Error) throw new Error(`POLL_INTERVAL: ${interval.message}`);
  const id = env.string('COLLECTOR_ID', `collector-${process.pid}`);
  const v5 = env.int('MQTT_PROTOCOL_VERSION', 5) !== 4;
  const backends = await openBackends(backendOptionsFromEnv(env, { registryFile: '.data/registry.json' }), logger);
  if (!env.optional('REDIS_URL')) logger.warn('REDIS_URL is not set: readings go to an in-process live bus no subgraph sees');
  const mqtt = createMqttClient(env.string('MQTT_URL', 'mqtt://127.0.0.1:1883'), { clientId: id, protocolVersion: v5 ? 5 : 4, ...(v5 ? { clean: false, will: CollectorMembership.will(id) } : {}) });
  mqtt.on('error', (error) => logger.warn({ err: error.message }, 'MQTT error'));
  const iqrf = new IqrfClient(mqtt, { logger, timeoutMs: env.int('IQRF_TIMEOUT_MS', 10_000), ...(v5 ? { subscriptionIdentifier: 1 } : {}) });
  const membership = v5 ? new CollectorMembership(mqtt, id, logger) : undefined;
  const collector = new Collector({
    iqrf,
    catalog: new MeshCatalog(iqrf),
    ...backends,
    logger,
    intervalMs: interval * 1000,
    membership,
    ...(v5 ? { sharedSubscription: { group: env.string('COLLECTOR_GROUP', 'collectors'), identifier: 2 } } : {}),
  });
  await waitForConnection(mqtt);
  await iqrf.start();
  await membership?.start();
  await collector.start();
  return {
    async close() {
      await collector.close();
      await membership?.stop();
      iqrf.close();
      await mqtt.endAsync(false, v5 ? { properties: { sessionExpiryInterval: 0 } } : {});
      await backends.close();
    },
  };
});
