import { fileURLToPath } from 'node:url';
import { subgraphTrustFromEnv } from '#auth';
import { DynsecAccounts, GatewayCredentials, mqttService, mqttSettingsFromEnv } from '#broker';
import { cloudOptionsFromEnv, cloudServices } from '#cloud';
import { connectMqtt, IqrfClient } from '#iqrf';
import { checkStartup, durationFromEnv, explainListenError, redisService, runService, type PortToListen } from '#kit';
import { loadOpenDataCatalog, openDataCatalogFromEnv, publishedSensorIds } from '#opendata-catalog';
import { registryOptionsFromEnv } from '#registry';
import { actuatorRateLimitFromEnv, wireDevices } from './index.ts';

const defaultRegistryFile = fileURLToPath(new URL('../../../.data/registry.json', import.meta.url));

/** `npm run subgraph:devices`: the devices subgraph alone, on a real broker and data center. */
runService('devices', async (env, logger) => {
  const cloud = cloudOptionsFromEnv(env);
  if (!cloud) throw new Error('Set OPENSTACK_AUTH_URL, CONTRAIL_URL and KUBECONFIG (or KUBERNETES_URL): registerGateway provisions there');
  const settings = mqttSettingsFromEnv(env);
  if (!settings.credentials || !settings.admin) {
    throw new Error(
      "Set MQTT_USERNAME and MQTT_PASSWORD (the subgraph's own broker account, role api) and MQTT_ADMIN_USERNAME and MQTT_ADMIN_PASSWORD (it issues gateways' credentials)",
    );
  }
  const backends = registryOptionsFromEnv(env, { registryFile: defaultRegistryFile });
  const catalogOptions = openDataCatalogFromEnv(env);
  const iqrfTimeoutMs = env.optional('IQRF_TIMEOUT_MS') ? env.int('IQRF_TIMEOUT_MS', 10_000) : undefined;
  // The collectors' heartbeat (same HEARTBEAT_INTERVAL) is what keeps gateways ONLINE.
  const heartbeatIntervalMs = durationFromEnv(env, 'HEARTBEAT_INTERVAL', '10s');
  const listen: PortToListen = { variable: 'PORT', port: env.int('PORT', 4001), host: env.string('HOST', '127.0.0.1') };
  await checkStartup({
    listen: [listen],
    reach: [mqttService(settings.url), ...(backends.redisUrl ? [redisService(backends.redisUrl)] : []), ...(await cloudServices(cloud))],
  });
  // The catalogue the opendata subgraph publishes (same variables): its sensors' names and quantities are public.
  const openSensorIds = publishedSensorIds(await loadOpenDataCatalog(catalogOptions));
  const options = { protocolVersion: settings.protocolVersion, ...(settings.ca ? { ca: settings.ca } : {}) };
  const mqtt = await connectMqtt(settings.url, { ...options, credentials: settings.credentials });
  const accounts = await DynsecAccounts.connect(settings.url, settings.admin, options, logger);
  const iqrf = new IqrfClient(mqtt, { logger, timeoutMs: iqrfTimeoutMs ?? 10_000, msgIdSecret: settings.msgIdSecret });
  await iqrf.start();
  const subgraph = await wireDevices({
    port: listen.port,
    trust: subgraphTrustFromEnv(env),
    host: listen.host,
    logger,
    exposeInternalErrors: env.bool('EXPOSE_INTERNAL_ERRORS', false),
    sources: { iqrf, credentials: new GatewayCredentials(accounts), openSensorIds },
    cloud,
    backends,
    heartbeatIntervalMs,
    iqrfTimeoutMs,
    // How long an actuator command waits for the daemon's confirmation before it is UNCONFIRMED.
    actuatorCommandTimeoutMs: env.int('ACTUATOR_COMMAND_TIMEOUT_MS', 5_000),
    actuatorCommandLimit: actuatorRateLimitFromEnv(env),
  }).catch((error: unknown) => {
    throw explainListenError([listen], error);
  });
  return {
    async close() {
      await subgraph.close();
      iqrf.close();
      await accounts.close();
      await mqtt.endAsync();
    },
  };
});
