/**
 * `npm start`: the whole platform in one process on its embedded defaults (aedes broker, in-memory
 * time series and live bus, the simulated city), with env vars switching parts to real systems.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { allScopes, authSettingsFromEnv, issueApiKey, mintToken, Scope, type AuthSettings } from '#auth';
import { mqttSettingsFromEnv } from '#broker';
import { cloudOptionsFromEnv } from '#cloud';
import { parseDuration, runService, type EnvReader } from '#kit';
import type { Logger } from '#log';
import { buildScenario, scenarioNames, type Scenario } from '#simulator';
import { dashboardHandler, dashboardOptionsFromEnv } from '../dashboard/handler.ts';
import { routerHardeningFromEnv } from '../router/src/hardening.ts';
import { backendOptionsFromEnv } from './backends.ts';
import { defaultPorts, startPlatform, type PlatformConfig } from './platform.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

async function readConfig(env: EnvReader, logger: Logger, auth: AuthSettings): Promise<PlatformConfig> {
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
    ...mqttFromEnv(env),
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
    hardening: await routerHardeningFromEnv(env),
    auth: { tokens: auth.tokens, apiKeys: auth.apiKeys, subgraphSecret: env.optional('SUBGRAPH_SECRET') },
  };
}

/** With MQTT_URL: the broker's accounts admin, its CA, and the msgId secret shared with other collectors. */
function mqttFromEnv(env: EnvReader): Pick<PlatformConfig, 'mqttAdmin' | 'mqttCa' | 'msgIdSecret'> {
  const settings = mqttSettingsFromEnv(env);
  return { mqttAdmin: settings.admin, mqttCa: settings.ca, msgIdSecret: settings.msgIdSecret };
}

/** MQTT_PROTOCOL_VERSION: 5 (default with MQTT_URL) or 4; the embedded broker speaks 4. */
function mqttProtocol(env: EnvReader): 4 | 5 | undefined {
  const version = env.optional('MQTT_PROTOCOL_VERSION');
  if (version === undefined) return undefined;
  if (version !== '4' && version !== '5') throw new Error(`MQTT_PROTOCOL_VERSION must be 4 or 5, got "${version}"`);
  return version === '4' ? 4 : 5;
}

/**
 * Outside production, with HS256 tokens: a token for each tenant of the scenario, an operator's
 * (also in the dashboard link), and a partner API key made for this run when none is configured,
 * so the API can be tried at once.
 */
async function developmentCredentials(auth: AuthSettings, tenants: readonly string[]) {
  if (auth.production || !('secret' in auth.tokens)) return undefined;
  const { secret } = auth.tokens;
  const tenantScopes = allScopes.filter((s) => s !== Scope.ADMIN);
  return {
    tenants: await Promise.all(tenants.map(async (tenant) => ({ tenant, token: await mintToken({ tenant, scopes: tenantScopes, secret }) }))),
    operator: await mintToken({ scopes: [Scope.ADMIN], secret }),
    apiKey: auth.apiKeys.length ? undefined : issueApiKey('demo-partner', 'Demo partner (this run only)', 600),
  };
}

runService('platform', async (env, logger) => {
  const started = Date.now();
  const auth = await authSettingsFromEnv(env);
  const config = await readConfig(env, logger, auth);
  const credentials = await developmentCredentials(auth, buildScenario(config.scenario, config.seed).tenants);
  if (credentials?.apiKey) config.auth = { ...config.auth, apiKeys: [credentials.apiKey.record] };
  const platform = await startPlatform({ ...config, httpHandlers: [dashboardHandler(dashboardOptionsFromEnv(env))] });
  const base = platform.routerUrl.replace(/\/graphql$/, '');
  process.stdout.write(
    [
      '',
      `IoT platform API is up (${((Date.now() - started) / 1000).toFixed(1)} s, scenario ${platform.scenario.name}: ${platform.scenario.gateways.length} gateways)`,
      `  live city dashboard                 ${base}/${credentials ? `#token=${credentials.operator}` : ''}`,
      `  GraphQL, GraphiQL, graphql-ws, SSE  ${platform.routerUrl}`,
      `  open data catalogue (DCAT-AP)       ${base}/opendata/catalog.jsonld`,
      `  router health                       ${base}/health`,
      `  MQTT broker                         ${platform.mqttUrl} (accounts only: registerGateway returns a gateway's credentials)`,
      ...Object.values(platform.subgraphs).map((s) => `  subgraph ${s.name.padEnd(27)}${s.url}`),
      ...(platform.simulator
        ? [
            `  simulated Keystone                  ${platform.simulator.cloud.openstackAuthUrl}`,
            `  simulated Contrail                  ${platform.simulator.cloud.contrailUrl}`,
            `  simulated Kubernetes                ${platform.simulator.cloud.kubernetesUrl}`,
          ]
        : []),
      ...(credentials
        ? [
            'Development credentials (valid 12 h; more with npm run token -- --tenant <tenant> --scopes <scopes>):',
            ...credentials.tenants.map(({ tenant, token }) => `  tenant ${tenant.padEnd(28)} Authorization: Bearer ${token}`),
            `  operator (admin, every tenant)      Authorization: Bearer ${credentials.operator}`,
            ...(credentials.apiKey ? [`  partner API key (open data)         x-api-key: ${credentials.apiKey.key}`] : []),
          ]
        : []),
      'Ctrl-C stops it.',
      '',
    ].join('\n'),
  );
  return platform;
});
