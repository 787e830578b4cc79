/**
 * `npm start`: the whole platform in one process on its embedded defaults (aedes broker, in-memory
 * time series and live bus, the simulated city), with env vars switching parts to real systems.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { envConfig, parseDuration } from '#kit';
import { createLogger } from '#log';
import { scenarioNames, type Scenario } from '#simulator';
import { defaultPorts, startPlatform, type PlatformConfig } from './platform.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

async function readConfig(): Promise<PlatformConfig> {
  const env = envConfig();
  for (const variable of ['REDIS_URL', 'GRAPHITE_URL', 'CARBON_URL']) {
    if (env.optional(variable)) throw new Error(`${variable} is not supported by this version yet (real Redis and Graphite arrive with the real-backends work); unset it to use the embedded default`);
  }
  const scenario = env.string('SCENARIO', 'demo');
  if (!(scenarioNames as readonly string[]).includes(scenario)) throw new Error(`SCENARIO must be one of ${scenarioNames.join(', ')}, got "${scenario}"`);
  const pollInterval = parseDuration(env.string('POLL_INTERVAL', '10s'));
  if (pollInterval instanceof Error) throw new Error(`POLL_INTERVAL: ${pollInterval.message}`);
  const planner = env.string('ROUTER_PLANNER', 'rust');
  if (planner !== 'rust' && planner !== 'js') throw new Error(`ROUTER_PLANNER must be rust or js, got "${planner}"`);
  const openstackAuthUrl = env.optional('OPENSTACK_AUTH_URL');
  const kubeconfig = env.optional('KUBECONFIG');
  const kubernetesUrl = env.optional('KUBERNETES_URL');
  const supergraphFile = env.string('SUPERGRAPH', `${repoRoot}schema/supergraph.graphql`);
  const dataDir = env.string('DATA_DIR', `${repoRoot}.data`);
  return {
    logger: createLogger('platform', env.string('LOG_LEVEL', 'info')),
    scenario: scenario as Scenario['name'],
    seed: env.int('SEED', 2016),
    mqttUrl: env.optional('MQTT_URL'),
    mqttPort: env.int('MQTT_PORT', 1883),
    simulate: env.bool('SIMULATOR', true),
    openstack: openstackAuthUrl
      ? {
          authUrl: openstackAuthUrl,
          username: env.string('OPENSTACK_USERNAME', 'admin'),
          password: env.string('OPENSTACK_PASSWORD', ''),
          projectName: env.string('OPENSTACK_PROJECT', 'admin'),
          domainName: env.string('OPENSTACK_DOMAIN', 'Default'),
        }
      : undefined,
    contrailUrl: env.optional('CONTRAIL_URL'),
    kubernetes: kubeconfig ? { kubeconfigPath: kubeconfig } : kubernetesUrl ? { server: kubernetesUrl } : undefined,
    routerPort: env.int('PORT', defaultPorts.router),
    subgraphPorts: defaultPorts.subgraphs,
    supergraph: await readFile(supergraphFile, 'utf8'),
    planner,
    registryFile: `${dataDir}/registry-${scenario}.json`,
    pollIntervalMs: pollInterval * 1000,
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const config = await readConfig();
  const platform = await startPlatform(config);
  const base = platform.routerUrl.replace(/\/graphql$/, '');
  process.stdout.write(
    [
      '',
      `IoT platform API is up (${((Date.now() - started) / 1000).toFixed(1)} s, scenario ${platform.scenario.name}: ${platform.scenario.gateways.length} gateways)`,
      `  GraphQL, GraphiQL, graphql-ws, SSE  ${platform.routerUrl}`,
      `  router health                       ${base}/health`,
      `  MQTT broker                         ${platform.mqttUrl}`,
      ...Object.values(platform.subgraphs).map((s) => `  subgraph ${s.name.padEnd(27)}${s.url}`),
      ...(platform.simulator
        ? [
            `  simulated Keystone                  ${platform.simulator.cloud.openstackAuthUrl}`,
            `  simulated Contrail                  ${platform.simulator.cloud.contrailUrl}`,
            `  simulated Kubernetes                ${platform.simulator.cloud.kubernetesUrl}`,
          ]
        : []),
      'Ctrl-C stops it.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    config.logger.info({ signal }, 'stopping');
    platform.close().then(
      () => process.exit(0),
      (error: unknown) => {
        config.logger.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`platform failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
