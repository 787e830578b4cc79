/**
 * `npm start`: the whole platform in one process on its embedded defaults (aedes broker, in-memory
 * time series and live bus, the simulated city), with env vars switching parts to real systems.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { allScopes, authSettingsFromEnv, issueApiKey, mintToken, Scope, type AuthSettings } from '#auth';
import { mqttService, mqttSettingsFromEnv } from '#broker';
import {
  checkStartup,
  durationFromEnv,
  explainListenError,
  parseDuration,
  runService,
  StartupError,
  type EnvReader,
  type PortToListen,
} from '#kit';
import type { Logger } from '#log';
import { registryOptionsFromEnv } from '#registry';
import type { Scenario } from '#simulator';
import { subgraphs as subgraphList, type SubgraphName } from '#supergraph';
import { telemetryOptionsFromEnv, telemetryServices } from '#telemetry';
import { dashboardHandler, dashboardOptionsFromEnv } from '../dashboard/handler.ts';
import { routerHardeningFromEnv } from '../router/src/hardening.ts';
import type { PlatformConfig } from './platform.ts';
import { actuatorRateLimitFromEnv } from '../subgraphs/devices/src/index.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

async function readConfig(env: EnvReader, logger: Logger, auth: AuthSettings): Promise<PlatformConfig> {
  const scenario = env.string('SCENARIO', 'demo');
  const pollInterval = parseDuration(env.string('POLL_INTERVAL', '10s'));
  if (pollInterval instanceof Error) throw new StartupError(`POLL_INTERVAL: ${pollInterval.message}`);
  const planner = env.string('ROUTER_PLANNER', 'rust');
  if (planner !== 'rust' && planner !== 'js') throw new StartupError(`ROUTER_PLANNER must be rust or js, got "${planner}"`);
  const host = env.string('HOST', '127.0.0.1');
  const subgraphPorts = Object.fromEntries(
    subgraphList.map(({ name, port }) => [name, env.int(subgraphPortVariable(name), port)]),
  ) as Record<SubgraphName, number>;
  const dataDir = env.string('DATA_DIR', `${repoRoot}.data`);
  const backfill = env.string('HISTORY_BACKFILL', '24h');
  const backfillSeconds = /^(0|off|false)$/i.test(backfill.trim()) ? 0 : parseDuration(backfill);
  if (backfillSeconds instanceof Error) throw new StartupError(`HISTORY_BACKFILL: ${backfillSeconds.message} (0 turns it off)`);
  return {
    logger,
    host,
    scenario: scenario as Scenario['name'],
    seed: env.int('SEED', 2016),
    mqttUrl: env.optional('MQTT_URL'),
    mqttPort: env.int('MQTT_PORT', 1883),
    ...mqttFromEnv(env),
    simulate: env.bool('SIMULATOR', true),
    routerPort: env.int('PORT', 4000),
    subgraphPorts,
    supergraph: await supergraphToServe(env, host, subgraphPorts),
    planner,
    backends: { ...telemetryOptionsFromEnv(env), ...registryOptionsFromEnv(env, { registryFile: `${dataDir}/registry-${scenario}.json` }) },
    simulatorStateFile: `${dataDir}/simulator-${scenario}.json`,
    historyBackfillMs: backfillSeconds * 1000,
    mqttProtocolVersion: mqttProtocol(env),
    collectorId: env.optional('COLLECTOR_ID'),
    subscriberQueueLimit: env.int('SUBSCRIBER_QUEUE_LIMIT', 10_000),
    pollIntervalMs: pollInterval * 1000,
    heartbeatIntervalMs: durationFromEnv(env, 'HEARTBEAT_INTERVAL', '10s'),
    hardening: await routerHardeningFromEnv(env),
    auth: { tokens: auth.tokens, apiKeys: auth.apiKeys, subgraphSecret: env.optional('SUBGRAPH_SECRET') },
    actuatorCommandLimit: actuatorRateLimitFromEnv(env),
    actuatorCommandTimeoutMs: env.int('ACTUATOR_COMMAND_TIMEOUT_MS', 5_000),
  };
}

/** DEVICES_PORT, TELEMETRY_PORT, INFRASTRUCTURE_PORT, OPENDATA_PORT (each subgraph's own `main.ts` reads PORT). */
const subgraphPortVariable = (name: SubgraphName) => `${name.toUpperCase()}_PORT`;

/**
 * SUPERGRAPH when set, served as written; else `schema/supergraph.graphql` when the subgraphs
 * listen where it says (127.0.0.1:4001-4004); else undefined: the platform composes the supergraph
 * from the subgraphs once they listen, with the addresses they got.
 */
async function supergraphToServe(env: EnvReader, host: string, ports: Record<SubgraphName, number>): Promise<string | undefined> {
  const file = env.optional('SUPERGRAPH');
  if (file) {
    return readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new StartupError(
        `SUPERGRAPH=${file}: cannot be read (${error.code ?? error.message}); set SUPERGRAPH to a composed supergraph, or unset it`,
      );
    });
  }
  const atDefaults = ['127.0.0.1', '0.0.0.0', 'localhost'].includes(host) && subgraphList.every(({ name, port }) => ports[name] === port);
  return atDefaults ? readFile(`${repoRoot}schema/supergraph.graphql`, 'utf8') : undefined;
}

/** Every port the platform listens on, with the variable that moves it; two variables naming one port are refused. */
function portsToListen(config: PlatformConfig): PortToListen[] {
  const host = config.host ?? '127.0.0.1';
  const ports: PortToListen[] = [
    { variable: 'PORT', port: config.routerPort, host },
    ...(config.mqttUrl ? [] : [{ variable: 'MQTT_PORT', port: config.mqttPort ?? 1883, host }]),
    ...subgraphList.map(({ name }) => ({ variable: subgraphPortVariable(name), port: config.subgraphPorts[name], host })),
  ];
  const clashes = ports.filter((a, i) => a.port !== 0 && ports.findIndex((b) => b.port === a.port) !== i);
  if (clashes.length) {
    throw new StartupError(
      clashes.map(
        ({ variable, port }) =>
          `${ports.find((p) => p.port === port)!.variable}=${port} and ${variable}=${port}: both name ${host}:${port}; set ${variable} to another port`,
      ),
    );
  }
  return ports;
}

/** Resolves once the router's `/health` answers 200: what a client waiting for the platform waits for. */
async function routerHealthy(base: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await fetch(`${base}/health`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline)
      throw new Error(`${base}/health did not answer 200 within ${timeoutMs / 1000} s (last: ${status || 'no answer'})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
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
  if (version !== '4' && version !== '5') throw new StartupError(`MQTT_PROTOCOL_VERSION must be 4 or 5, got "${version}"`);
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
    tenants: await Promise.all(
      tenants.map(async (tenant) => ({ tenant, token: await mintToken({ tenant, scopes: tenantScopes, secret }) })),
    ),
    operator: await mintToken({ scopes: [Scope.ADMIN], secret }),
    apiKey: auth.apiKeys.length ? undefined : issueApiKey('demo-partner', 'Demo partner (this run only)', 600, [Scope.ACTUATORS_WRITE]),
  };
}

runService('platform', async (env, logger) => {
  const auth = await authSettingsFromEnv(env);
  const config = await readConfig(env, logger, auth);
  // What the operator can fix is said in one line each, before anything starts, and before the
  // heavier modules load (seconds on a busy machine): the Kubernetes client, the gateway, the subgraphs.
  const ports = portsToListen(config);
  await checkStartup({
    listen: ports,
    reach: [...telemetryServices(config.backends ?? {}), ...(config.mqttUrl ? [mqttService(config.mqttUrl)] : [])],
  });
  const { buildScenario, scenarioNames } = await import('#simulator');
  if (!(scenarioNames as readonly string[]).includes(config.scenario))
    throw new StartupError(`SCENARIO must be one of ${scenarioNames.join(', ')}, got "${config.scenario}"`);
  const { cloudOptionsFromEnv, cloudServices } = await import('#cloud');
  config.cloud = cloudOptionsFromEnv(env);
  if (config.cloud) await checkStartup({ reach: await cloudServices(config.cloud) });
  const credentials = await developmentCredentials(auth, buildScenario(config.scenario, config.seed).tenants);
  if (credentials?.apiKey) config.auth = { ...config.auth, apiKeys: [credentials.apiKey.record] };
  const { startPlatform } = await import('./platform.ts');
  const platform = await startPlatform({ ...config, httpHandlers: [dashboardHandler(dashboardOptionsFromEnv(env))] }).catch(
    (error: unknown) => {
      // A port taken between the check and the listen.
      throw explainListenError(ports, error);
    },
  );
  const base = platform.routerUrl.replace(/\/graphql$/, '');
  await routerHealthy(base);
  // Since this process started (module loading included): when a client polling /health gets its 200.
  const upSeconds = process.uptime();
  process.stdout.write(
    [
      '',
      `IoT platform API is up (/health answered 200 ${upSeconds.toFixed(1)} s after the process started; scenario ${platform.scenario.name}: ${platform.scenario.gateways.length} gateways)`,
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
            ...(credentials.apiKey
              ? [
                  `  partner API key (open data, lights) x-api-key: ${credentials.apiKey.key} (its dashboard: ${base}/#key=${credentials.apiKey.key})`,
                ]
              : []),
            ...(platform.demoGrants ? [`  actuator grants                     ${platform.demoGrants}`] : []),
          ]
        : []),
      'Ctrl-C stops it.',
      '',
    ].join('\n'),
  );
  return platform;
});
