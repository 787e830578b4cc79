import { subgraphTrustFromEnv } from '#auth';
import { checkStartup, explainListenError, runService, type PortToListen } from '#kit';
import { loadOpenDataCatalog, openDataCatalogFromEnv } from '#opendata-catalog';
import { registryOptionsFromEnv } from '#registry';
import { telemetryOptionsFromEnv, telemetryServices } from '#telemetry';
import { wireOpendata } from './index.ts';

/**
 * `npm run subgraph:opendata`: the open data subgraph alone. It publishes OPENDATA_CATALOG, or the
 * kept catalogue of SCENARIO with links under PUBLIC_URL (`packages/opendata-catalog/scenarios/`).
 */
runService('opendata', async (env, logger) => {
  const catalog = await loadOpenDataCatalog(openDataCatalogFromEnv(env));
  const backends = { ...telemetryOptionsFromEnv(env), ...registryOptionsFromEnv(env) };
  const listen: PortToListen = { variable: 'PORT', port: env.int('PORT', 4004), host: env.string('HOST', '127.0.0.1') };
  await checkStartup({ listen: [listen], reach: telemetryServices(backends) });
  return wireOpendata({
    port: listen.port,
    trust: subgraphTrustFromEnv(env),
    host: listen.host,
    logger,
    exposeInternalErrors: env.bool('EXPOSE_INTERNAL_ERRORS', false),
    sources: { catalog },
    backends,
  }).catch((error: unknown) => {
    throw explainListenError([listen], error);
  });
});
