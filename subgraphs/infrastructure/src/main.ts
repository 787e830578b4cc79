import { cloudOptionsFromEnv, createCloudClients, TenantOnboarder } from '#cloud';
import { subgraphTrustFromEnv } from '#auth';
import { checkStartup, explainListenError, runService, type PortToListen } from '#kit';
import { backendOptionsFromEnv, backendServices, cloudServices, openIdempotencyStore } from '../../../platform/backends.ts';
import { startInfrastructureSubgraph } from './index.ts';

runService('infrastructure', async (env, logger) => {
  let cloud = cloudOptionsFromEnv(env);
  const backends = backendOptionsFromEnv(env);
  const listen: PortToListen = { variable: 'PORT', port: env.int('PORT', 4003), host: env.string('HOST', '127.0.0.1') };
  await checkStartup({ listen: [listen], reach: [...backendServices(backends), ...(cloud ? await cloudServices(cloud) : [])] });
  let simulator: { close(): Promise<void> } | undefined;
  if (!cloud) {
    // Nothing configured: serve the simulated data center so the subgraph can be tried alone.
    const { buildScenario, simulatedCloudOptions, startCloudSimulator } = await import('#simulator');
    const scenario = env.string('SCENARIO', 'demo') === 'pisek' ? 'pisek' : 'demo';
    const started = await startCloudSimulator({
      scenario: buildScenario(scenario),
      logger: logger.child({ component: 'cloud-simulator' }),
    });
    logger.warn('OPENSTACK_AUTH_URL, CONTRAIL_URL and KUBECONFIG/KUBERNETES_URL are not set: serving the simulated data center');
    cloud = simulatedCloudOptions(started);
    simulator = started;
  }
  const clients = createCloudClients(cloud);
  // Redis (REDIS_URL) when set: a retried onboardTenant finds its first result on any instance.
  const idempotency = openIdempotencyStore(backends, logger);
  const subgraph = await startInfrastructureSubgraph({
    port: listen.port,
    trust: subgraphTrustFromEnv(env),
    host: listen.host,
    logger,
    sources: { ...clients, onboarder: new TenantOnboarder({ ...clients, logger: logger.child({ component: 'onboarder' }) }), idempotency },
    exposeInternalErrors: env.bool('EXPOSE_INTERNAL_ERRORS', false),
  }).catch((error: unknown) => {
    throw explainListenError([listen], error);
  });
  return {
    async close() {
      await subgraph.close();
      await idempotency.close();
      await simulator?.close();
    },
  };
});
