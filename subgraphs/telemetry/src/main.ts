import { subgraphTrustFromEnv } from '#auth';
import { checkStartup, explainListenError, runService, type PortToListen } from '#kit';
import { loadOpenDataCatalog, openDataCatalogFromEnv, publishedSensorIds } from '#opendata-catalog';
import { registryOptionsFromEnv } from '#registry';
import { telemetryOptionsFromEnv, telemetryServices } from '#telemetry';
import { wireTelemetry } from './index.ts';

/** `npm run subgraph:telemetry`: the telemetry subgraph alone, on the Redis and Graphite the collectors write. */
runService('telemetry', async (env, logger) => {
  if (!env.optional('REDIS_URL') || !env.optional('GRAPHITE_URL')) {
    logger.warn('without REDIS_URL and GRAPHITE_URL/CARBON_URL the subgraph serves an in-process store and bus: it sees no collector');
  }
  // The catalogue the opendata subgraph publishes (same variables): its sensors' readings are open to all.
  const openData = await loadOpenDataCatalog(openDataCatalogFromEnv(env));
  const backends = { ...telemetryOptionsFromEnv(env), ...registryOptionsFromEnv(env) };
  const listen: PortToListen = { variable: 'PORT', port: env.int('PORT', 4002), host: env.string('HOST', '127.0.0.1') };
  await checkStartup({ listen: [listen], reach: telemetryServices(backends) });
  return wireTelemetry({
    port: listen.port,
    trust: subgraphTrustFromEnv(env),
    host: listen.host,
    logger,
    exposeInternalErrors: env.bool('EXPOSE_INTERNAL_ERRORS', false),
    sources: { openSensorIds: publishedSensorIds(openData), subscriberQueueLimit: env.int('SUBSCRIBER_QUEUE_LIMIT', 10_000) },
    backends,
  }).catch((error: unknown) => {
    throw explainListenError([listen], error);
  });
});
