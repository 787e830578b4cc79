import { checkStartup, explainListenError, runService, type PortToListen } from '#kit';
import { routerConfigFromEnv, wireRouter } from './index.ts';

/** `npm run router`: serves any composed supergraph (SUPERGRAPH), with the subgraph URLs written in it. */
runService('router', async (env, logger) => {
  const config = await routerConfigFromEnv(env);
  const listen: PortToListen = { variable: 'PORT', port: config.port, host: config.host };
  const redisUrl = config.rateLimit?.redisUrl;
  await checkStartup({
    listen: [listen],
    reach: redisUrl ? [{ variable: 'REDIS_URL', what: 'Redis', url: redisUrl, defaultPorts: { 'redis:': 6379, 'rediss:': 6379 } }] : [],
  });
  return wireRouter({ ...config, logger }).catch((error: unknown) => {
    throw explainListenError([listen], error);
  });
});
