import { subgraphTrustFromEnv } from '#auth';
import { runService } from '#kit';
import { backendOptionsFromEnv, openBackends } from '../../../platform/backends.ts';
import { openDataCatalogFromEnv, startOpendataSubgraph } from './index.ts';

runService('opendata', async (env, logger) => {
  const catalog = await openDataCatalogFromEnv(env);
  const backends = await openBackends(backendOptionsFromEnv(env), logger);
  const subgraph = await startOpendataSubgraph({
    port: env.int('PORT', 4004),
    trust: subgraphTrustFromEnv(env),
    host: env.string('HOST', '127.0.0.1'),
    logger,
    exposeInternalErrors: env.bool('EXPOSE_INTERNAL_ERRORS', false),
    sources: { catalog, store: backends.store, registry: backends.registry },
  });
  return {
    async close() {
      await subgraph.close();
      await backends.close();
    },
  };
});
