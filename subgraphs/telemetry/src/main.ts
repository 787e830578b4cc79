import { subgraphTrustFromEnv } from '#auth';
import { checkStartup, explainListenError, runService, type PortToListen } from '#kit';
import { backendOptionsFromEnv, backendServices, openBackends } from '../../../platform/backends.ts';
import { openDataCatalogFromEnv, publishedSensorIds } from '../../opendata/src/index.ts';
import { startTelemetrySubgraph } from './index.ts';

runService('telemetry', async (env, logger) => {
  if (!env.optional('REDIS_URL') || !env.optional('GRAPHITE_URL')) {
    logger.warn('without REDIS_URL and GRAPHITE_URL/CARBON_URL the subgraph serves an in-process store and bus: it sees no collector');
  }
  // The catalogue the opendata subgraph publishes (same variables): its sensors' readings are open to all.
  const openData = await openDataCatalogFromEnv(env);
  const options = backendOptionsFromEnv(env);
  const listen: PortToListen = { variable: 'PORT', port: env.int('PORT', 4002), host: env.string('HOST', '127.0.0.1') };
  await checkStartup({ listen: [listen], reach: backendServices(options) });
  const backends = await openBackends(options, logger);
  const subgraph = await startTelemetrySubgraph({
    port: listen.port,
    trust: subgraphTrustFromEnv(env),
    host: listen.host,
    logger,
    exposeInternalErrors: env.bool('EXPOSE_INTERNAL_ERRORS', false),
    sources: {
      store: backends.store,
      bus: backends.bus,
      registry: backends.registry,
      openSensorIds: publishedSensorIds(openData),
      subscriberQueueLimit: env.int('SUBSCRIBER_QUEUE_LIMIT', 10_000),
    },
  }).catch((error: unknown) => {
    throw explainListenError([listen], error);
  });
  return {
    async close() {
      await subgraph.close();
      await backends.close();
    },
  };
});
