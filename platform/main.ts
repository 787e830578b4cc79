/**
 * `npm start`: the whole platform in one process on its embedded defaults (aedes broker, in-memory
 * time series and live bus, the simulated city), with env vars switching parts to real systems.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { cloudOptionsFromEnv } from '#cloud';
import { parseDuration, runService, type EnvReader } from '#kit';
import type { Logger } from '#log';
import { scenarioNames, type Scenario } from '#simulator';
import { dashboardHandler } from '../dashboard/handler.ts';
import { backendOptionsFromEnv } from './backends.ts';
import { defaultPorts, startPlatform, type PlatformConfig } from './platform.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

async function readConfig(env: EnvReader, logger: Logger): Promise<PlatformConfig> {
  const scenario = env.string('SCENARIO', 'demo');
  if (!(scenarioNames as readonly string[]).includes(scenario)) throw new Error(`SCENARIO must be one of ${scenarioNames.join(', ')}, got "${scenario}"`);
  const pollInterval = parseDuration(env.string('POLL_INTERVAL', '10s'));
  if (pollInterval instanceof Error) throw new Error(`POLL_INTERVAL: ${pollInterval.message}`);
  const planner = env.string('ROUTER_PLANNER', 'rust');
  if (planner !== 'rust' && planner !== 'js') throw new Error(`ROUTER_PLANNER must be rust or js, got "${planner}"`);
  const supergraphFile = env.string('SUPERGRAPH', `${repoRoot}schema/supergraph.graphql`);
  const dataDir = env.string('DATA_DIR', `${repoRoot}.data`);
  return {
    logger,
    host: env.string('HOST', '127.0.0.1'),
    scenario: scenario as Scenario['name'],
    seed: env.int('SEED', 2016),
    mqttUrl: env.optional('MQTT_URL'),
    mqttPort: env.int('MQTT_PORT', 1883),
    simulate: env.bool('SIMULATOR', true),
    cloud: cloudOptionsFromEnv(env),
    routerPort: env.int('PORT', defaultPorts.router),
    subgraphPorts: defaultPorts.subgraphs,
    supergraph: await readFile(supergraphFile, 'utf8'),
    planner,
    backends: backendOptionsFromEnv(env, { registryFile: `${dataDir}/registry-${scenario}.json` }),
    mqttProtocolVersion: mqttProtocol(env),
    collectorId: env.optional('COLLECTOR_ID'),
    subscriberQueueLimit: env.int('SUBSCRIBER_QUEUE_LIMIT', 10_000),
    pollIntervalMs: pollInterval * 1000,
  };
}

/** MQTT_PROTOCOL_VERSION: 5 (default with MQTT_URL) or 4; the embedded broker speaks 4. */
function mqttProtocol(env: EnvReader): 4 | 5 | undefined {
  const version = env.optional('MQTT_PROTOCOL_VERSION');
  if (version === undefined) return undefined;
  if (version !== '4' && version !== '5') throw new Error(`MQTT_PROTOCOL_VERSION must be 4 or 5, got "${version}"`);
  return version === '4' ? 4 : 5;
}

runService('platform', async (env, logger) => {
  const started = Date.now();
  const platform = await startPlatform({ ...(await readConfig(env, logger)), httpHandlers: [dashboardHandler()] });
  const base = platform.routerUrl.replace(/\/graphql$/, '');
  process.stdout.write(
    [
      '',
      `IoT platform API is up (${((Date.now() - started) / 1000).toFixed(1)} s, scenario ${platform.scenario.name}: ${platform.scenario.gateways.length} gateways)`,
      `  live city dashboard                 ${base}/`,
      `  GraphQL, GraphiQL, graphql-ws, SSE  ${platform.routerUrl}`,
      `  open data catalogue (DCAT-AP)       ${base}/opendata/catalog.jsonld`,
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
  return platform;
});
