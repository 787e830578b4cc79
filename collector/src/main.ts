import { fileURLToPath } from 'node:url';
import { mqttService, mqttSettingsFromEnv } from '#broker';
import { checkStartup, durationFromEnv, parseDuration, runService } from '#kit';
import { registryOptionsFromEnv } from '#registry';
import { telemetryOptionsFromEnv, telemetryServices } from '#telemetry';
import { wireCollector } from './service.ts';

const defaultRegistryFile = fileURLToPath(new URL('../../.data/registry.json', import.meta.url));

/**
 * `npm run collector`: one collector process. With MQTT 5 (the default) it keeps a persistent
 * session under COLLECTOR_ID and shares the gateways with the other collectors of the broker.
 */
runService('collector', async (env, logger) => {
  const interval = parseDuration(env.string('POLL_INTERVAL', '10s'));
  if (interval instanceof Error) throw new Error(`POLL_INTERVAL: ${interval.message}`);
  const mqtt = mqttSettingsFromEnv(env);
  if (!mqtt.credentials)
    throw new Error(
      "Set MQTT_USERNAME and MQTT_PASSWORD: the collector's broker account (its username is its COLLECTOR_ID; npm run mqtt-accounts -- add <id> collector makes one)",
    );
  const backends = { ...telemetryOptionsFromEnv(env), ...registryOptionsFromEnv(env, { registryFile: defaultRegistryFile }) };
  await checkStartup({ reach: [mqttService(mqtt.url), ...telemetryServices(backends)] });
  if (!mqtt.msgIdSecret)
    logger.warn('MQTT_MSGID_SECRET is not set: answers to requests of other collectors or of an earlier run are refused');
  if (!backends.redisUrl) logger.warn('REDIS_URL is not set: readings go to an in-process live bus no subgraph sees');
  const service = await wireCollector({
    mqttUrl: mqtt.url,
    protocolVersion: mqtt.protocolVersion,
    id: env.string('COLLECTOR_ID', mqtt.credentials.username),
    credentials: mqtt.credentials,
    // Every collector and the devices subgraph sign and check msgIds with it; the ledger of answers is shared in Redis.
    msgIdSecret: mqtt.msgIdSecret,
    ...(mqtt.ca ? { ca: mqtt.ca } : {}),
    group: env.string('COLLECTOR_GROUP', 'collectors'),
    backends,
    logger,
    intervalMs: interval * 1000,
    heartbeatIntervalMs: durationFromEnv(env, 'HEARTBEAT_INTERVAL', '10s'),
    iqrfTimeoutMs: env.int('IQRF_TIMEOUT_MS', 10_000),
  });
  await service.collector.start();
  return service;
});
