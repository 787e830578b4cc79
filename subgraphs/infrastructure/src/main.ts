import { subgraphTrustFromEnv } from '#auth';
import { cloudOptionsFromEnv, cloudServices } from '#cloud';
import { checkStartup, explainListenError, redisService, runService, type PortToListen } from '#kit';
import { registryOptionsFromEnv } from '#registry';
import { wireInfrastructure } from './index.ts';

/** `npm run subgraph:infrastructure`: the infrastructure subgraph alone, on a real (or `npm run simulator`'s) data center. */
runService('infrastructure', async (env, logger) => {
  const cloud = cloudOptionsFromEnv(env);
  if (!cloud)
    throw new Error(
      'Set OPENSTACK_AUTH_URL, CONTRAIL_URL and KUBECONFIG (or KUBERNETES_URL); `npm run simulator` serves simulated ones on ports 5000, 8082 and 6443',
    );
  // Redis (REDIS_URL) when set: a retried onboardTenant finds its first result on any instance.
  const backends = registryOptionsFromEnv(env);
  const listen: PortToListen = { variable: 'PORT', port: env.int('PORT', 4003), host: env.string('HOST', '127.0.0.1') };
  await checkStartup({
    listen: [listen],
    reach: [...(backends.redisUrl ? [redisService(backends.redisUrl)] : []), ...(await cloudServices(cloud))],
  });
  return wireInfrastructure({
    port: listen.port,
    trust: subgraphTrustFromEnv(env),
    host: listen.host,
    logger,
    exposeInternalErrors: env.bool('EXPOSE_INTERNAL_ERRORS', false),
    cloud,
    backends,
  }).catch((error: unknown) => {
    throw explainListenError([listen], error);
  });
});
