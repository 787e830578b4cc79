import { connectMqtt, IqrfClient } from '#iqrf';
import { parseDuration, runService } from '#kit';
import { FileGatewayRegistry, MeshCatalog } from '#registry';
import { MemoryLiveBus, MemoryTimeSeriesStore } from '#telemetry';
import { Collector } from './collector.ts';

runService('collector', async (env, logger) => {
  const interval = parseDuration(env.string('POLL_INTERVAL', '10s'));
  if (interval instanceof Error) throw new Error(`POLL_INTERVAL: ${interval.message}`);
  const mqtt = await connectMqtt(env.string('MQTT_URL', 'mqtt://127.0.0.1:1883'), { clientId: env.optional('MQTT_CLIENT_ID') });
  const iqrf = new IqrfClient(mqtt, { logger, timeoutMs: env.int('IQRF_TIMEOUT_MS', 10_000) });
  await iqrf.start();
  const registry = await FileGatewayRegistry.open(env.string('REGISTRY_FILE', '.data/registry.json'));
  logger.warn('collector writes to an in-memory store and live bus: nothing outside this process sees the readings');
  const store = new MemoryTimeSeriesStore();
  const bus = new MemoryLiveBus();
  const collector = new Collector({ iqrf, catalog: new MeshCatalog(iqrf), registry, store, bus, logger, intervalMs: interval * 1000 });
  await collector.start();
  return {
    async close() {
      await collector.stop();
      iqrf.close();
      await mqtt.endAsync();
      await registry.close();
    },
  };
});
