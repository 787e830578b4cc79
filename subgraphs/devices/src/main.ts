import { fileURLToPath } from 'node:url';
import { cloudOptionsFromEnv, createCloudClients, GatewayProvisioner } from '#cloud';
import { DynsecAccounts, GatewayCredentials, mqttSettingsFromEnv } from '#broker';
import { connectMqtt, IqrfClient, onlineWindowMs } from '#iqrf';
import { subgraphTrustFromEnv } from '#auth';
import { checkStartup, durationFromEnv, explainListenError, runService, type PortToListen } from '#kit';
import { MeshCatalog } from '#registry';
import {
  backendOptionsFromEnv,
  backendServices,
  cloudServices,
  mqttService,
  openIdempotencyStore,
  openRegistry,
} from '../../../platform/backends.ts';
import { openDataCatalogFromEnv, publishedSensorIds } from '../../opendata/src/index.ts';
import { startDevicesSubgraph } from './index.ts';

runService('devices', async (env, logger) => {
  const cloud = cloudOptionsFromEnv(env);
  if (!cloud) throw new Error('Set OPENSTACK_AUTH_URL, CONTRAIL_URL and KUBECONFIG (or KUBERNETES_URL): registerGateway provisions there');
  const { kubernetes, contrail } = createCloudClients(cloud);
  const settings = mqttSettingsFromEnv(env);
  if (!settings.credentials || !settings.admin) {
    throw new Error(
      "Set MQTT_USERNAME and MQTT_PASSWORD (the subgraph's own broker account, role api) and MQTT_ADMIN_USERNAME and MQTT_ADMIN_PASSWORD (it issues gateways' credentials)",
    );
  }
  const backends = backendOptionsFromEnv(env, { registryFile: fileURLToPath(new URL('../../../.data/registry.json', import.meta.url)) });
  const listen: PortToListen = { variable: 'PORT', port: env.int('PORT', 4001), host: env.string('HOST', '127.0.0.1') };
  await checkStartup({
    listen: [listen],
    reach: [mqttService(settings.url), ...backendServices(backends), ...(await cloudServices(cloud))],
  });
  const options = { protocolVersion: settings.protocolVersion, ...(settings.ca ? { ca: settings.ca } : {}) };
  const mqtt = await connectMqtt(settings.url, { ...options, credentials: settings.credentials });
  const accounts = await DynsecAccounts.connect(settings.url, settings.admin, options, logger);
  const iqrf = new IqrfClient(mqtt, { logger, timeoutMs: env.int('IQRF_TIMEOUT_MS', 10_000), msgIdSecret: settings.msgIdSecret });
  await iqrf.start();
  const registry = await openRegistry(backends, logger);
  // The collectors' heartbeat (same HEARTBEAT_INTERVAL) is what keeps gateways ONLINE.
  const onlineWindow = env.int('ONLINE_WINDOW_MS', onlineWindowMs(durationFromEnv(env, 'HEARTBEAT_INTERVAL', '10s')));
  const idempotency = openIdempotencyStore(backends, logger);
  const subgraph = await startDevicesSubgraph({
    port: listen.port,
    trust: subgraphTrustFromEnv(env),
    host: listen.host,
    logger,
    exposeInternalErrors: env.bool('EXPOSE_INTERNAL_ERRORS', false),
    sources: {
      registry,
      iqrf,
      catalog: new MeshCatalog(iqrf, {
        registry,
        offlineAfterMs: onlineWindow,
        logger,
        ...(env.optional('IQRF_TIMEOUT_MS') ? { timeoutMs: env.int('IQRF_TIMEOUT_MS', 10_000) } : {}),
      }),
      provisioner: new GatewayProvisioner({ kubernetes, contrail, logger }),
      idempotency,
      credentials: new GatewayCredentials(accounts),
      onlineWindowMs: onlineWindow,
      // The catalogue the opendata subgraph publishes (same variables): its sensors' names and quantities are public.
      openSensorIds: publishedSensorIds(await openDataCatalogFromEnv(env)),
    },
  }).catch((error: unknown) => {
    throw explainListenError([listen], error);
  });
  return {
    async close() {
      await subgraph.close();
      iqrf.close();
      await accounts.close();
      await mqtt.endAsync();
      await registry.close();
      await idempotency.close();
    },
  };
});
