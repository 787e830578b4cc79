import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ApiKeys, authSettingsFromEnv, createTokenVerifier } from '#auth';
import { checkStartup, explainListenError, runService, type PortToListen } from '#kit';
import { dashboardHandler, dashboardOptionsFromEnv } from '../../dashboard/handler.ts';
import { startRouter } from './gateway.ts';
import { routerHardeningFromEnv } from './hardening.ts';
import { RouterAuth } from './plugins/auth.ts';

const defaultSupergraph = fileURLToPath(new URL('../../schema/supergraph.graphql', import.meta.url));

/** `npm run router`: serves any composed supergraph (SUPERGRAPH), with the subgraph URLs written in it. */
runService('router', async (env, logger) => {
  const file = env.string('SUPERGRAPH', defaultSupergraph);
  const supergraph = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new Error(`cannot read the supergraph SUPERGRAPH=${file}: ${error.code ?? error.message}`);
  });
  const planner = env.string('ROUTER_PLANNER', 'rust');
  if (planner !== 'rust' && planner !== 'js') throw new Error(`ROUTER_PLANNER must be rust or js, got "${planner}"`);
  const settings = await authSettingsFromEnv(env);
  const auth = new RouterAuth({
    verifyToken: createTokenVerifier(settings.tokens),
    apiKeys: new ApiKeys(settings.apiKeys),
    subgraphSecret: settings.subgraphSecret,
  });
  const hardening = await routerHardeningFromEnv(env);
  const listen: PortToListen = { variable: 'PORT', port: env.int('PORT', 4000), host: env.string('HOST', '127.0.0.1') };
  await checkStartup({
    listen: [listen],
    reach: hardening.rateLimit?.redisUrl
      ? [{ variable: 'REDIS_URL', what: 'Redis', url: hardening.rateLimit.redisUrl, defaultPorts: { 'redis:': 6379, 'rediss:': 6379 } }]
      : [],
  });
  return startRouter({
    supergraph,
    port: listen.port,
    host: listen.host,
    logger,
    auth,
    planner,
    httpHandlers: [dashboardHandler(dashboardOptionsFromEnv(env))],
    ...hardening,
  }).catch((error: unknown) => {
    throw explainListenError([listen], error);
  });
});
