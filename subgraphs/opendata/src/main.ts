import { subgraphTrustFromEnv } from '#auth';
import { checkStartup, explainListenError, runService, type PortToListen } from '#kit';
import { backendOptionsFromEnv, backendServices, openBackends } from '../../../platform/backends.ts';
import { openDataCatalogFromEnv, startOpendataSubgraph } from './index.ts';

runService('opendata', async (env, logger) => {
  const catalog = await openDataCatalogFromEnv(env);
  const options = backendOptionsFromEnv(env);
  const listen: PortToListen = { variable: 'PORT', port: env.int('PORT', 4004), host: env.string('HOST', '127.0.0.1') };
  await checkStartup({ listen: [listen], reach: backendServices(options) });
  const backends = await openBackends(options, logger);
  const subgraph = await startOpendataSubgraph({
    port: listen.port,
    trust: subgraphTrustFromEnv(env),
    host: listen.host,
    logger,
    exposeInternalErrors: env.bool('EXPOSE_INTERNAL_ERRORS', false),
    sources: { catalog, store: backends.store, registry: backends.registry },
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
