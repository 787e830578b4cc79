import { readFile } from 'node:fs/promises';
import { authSettingsFromEnv } from '#auth';
import { runService } from '#kit';
import { buildScenario, scenarioOpenData } from '#simulator';
import { backendOptionsFromEnv, openBackends } from '../../../platform/backends.ts';
import { startOpendataSubgraph, validateCatalog } from './index.ts';

runService('opendata', async (env, logger) => {
  const file = env.optional('OPENDATA_CATALOG');
  const publicUrl = env.string('PUBLIC_URL', 'http://localhost:4000');
  const catalog = file
    ? validateCatalog(JSON.parse(await readFile(file, 'utf8')), file)
    : scenarioOpenData(buildScenario(env.string('SCENARIO', 'demo') === 'pisek' ? 'pisek' : 'demo'), publicUrl);
  const backends = await openBackends(backendOptionsFromEnv(env), logger);
  const subgraph = await startOpendataSubgraph({
    port: env.int('PORT', 4004),
    trust: { secret: (await authSettingsFromEnv(env)).subgraphSecret },
    host: env.string('HOST', '127.0.0.1'),
    logger,
    exposeInternalErrors: env.bool('EXPOSE_INTERNAL_ERRORS', false),
    sources: { catalog, store: backends.store },
  });
  return {
    async close() {
      await subgraph.close();
      await backends.close();
    },
  };
});
