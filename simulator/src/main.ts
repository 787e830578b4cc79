import { DynsecAccounts, GatewayCredentials, mqttService, mqttSettingsFromEnv } from '#broker';
import { createMqttClient, type MqttOptions } from '#iqrf';
import { checkStartup, explainListenError, runService, type PortToListen } from '#kit';
import { buildScenario, scenarioNames, wireSimulator, type Scenario } from './index.ts';

/** `npm run simulator`: the simulated city alone, answering on an MQTT broker (MQTT_URL). */
runService('simulator', async (env, logger) => {
  const name = env.string('SCENARIO', 'demo');
  if (!(scenarioNames as readonly string[]).includes(name))
    throw new Error(`SCENARIO must be one of ${scenarioNames.join(', ')}, got "${name}"`);
  const settings = mqttSettingsFromEnv(env);
  if (!settings.admin)
    throw new Error(
      'Set MQTT_ADMIN_USERNAME and MQTT_ADMIN_PASSWORD: the simulated gateways get their MQTT credentials as a registration issues them',
    );
  const options: MqttOptions = { protocolVersion: settings.protocolVersion, ...(settings.ca ? { ca: settings.ca } : {}) };
  const host = env.string('HOST', '127.0.0.1');
  const ports = {
    openstack: env.int('OPENSTACK_PORT', 5000),
    contrail: env.int('CONTRAIL_PORT', 8082),
    kubernetes: env.int('KUBERNETES_PORT', 6443),
  };
  const listen: PortToListen[] = [
    { variable: 'OPENSTACK_PORT', port: ports.openstack, host },
    { variable: 'CONTRAIL_PORT', port: ports.contrail, host },
    { variable: 'KUBERNETES_PORT', port: ports.kubernetes, host },
  ];
  await checkStartup({ listen, reach: [mqttService(settings.url)] });
  const accounts = await DynsecAccounts.connect(settings.url, settings.admin, options, logger);
  const gatewayCredentials = new GatewayCredentials(accounts);
  const simulator = await wireSimulator({
    scenario: buildScenario(name as Scenario['name'], env.int('SEED', 2016)),
    connect: (credentials) => createMqttClient(settings.url, { ...options, credentials, clean: false }),
    // Standing in for the installer: a gateway that boots gets credentials issued anew.
    issueCredentials: (gatewayId) => gatewayCredentials.issue(gatewayId),
    logger,
    host,
    advertisedHost: env.optional('ADVERTISED_HOST'),
    // The real systems' usual ports, so that a configuration written for them works unchanged.
    ports,
  }).catch((error: unknown) => {
    throw explainListenError(listen, error);
  });
  const { cloud } = simulator;
  logger.info(
    { openstackAuthUrl: cloud.openstackAuthUrl, contrailUrl: cloud.contrailUrl, kubernetesUrl: cloud.kubernetesUrl },
    'simulated city ready',
  );
  return {
    async close() {
      await simulator.close();
      await accounts.close();
    },
  };
});
