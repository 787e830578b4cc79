import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { MqttClient } from 'mqtt';
import { ApiKeys, createTokenVerifier, DEVELOPMENT_SECRET, Scope, type ApiKeyRecord, type TokenVerifierOptions } from '#auth';
import { createCloudClients, GatewayProvisioner, TenantOnboarder, type CloudOptions } from '#cloud';
import {
  DynsecAccounts,
  GatewayCredentials,
  newPassword,
  startEmbeddedBroker,
  type BrokerAccounts,
  type EmbeddedBroker,
  type MqttAccount,
  type MqttCredentials,
} from '#broker';
import { connectMqtt, createMqttClient, IqrfClient, type MqttOptions } from '#iqrf';
import type { RunningSubgraph } from '#kit';
import type { Logger } from '#log';
import { publishedSensorIds, type OpenDataCatalog } from '#opendata-catalog';
import {
  gatewayTenants,
  nodeTenant,
  openActuatorGrants,
  openGatewayRegistry,
  openIdempotencyStore,
  type ActuatorGrantStore,
  type GatewayRecord,
  type GatewayRegistry,
  type NewActuatorGrant,
  type RegistryOptions,
} from '#registry';
import {
  buildScenario,
  scenarioOpenData,
  scenarioRegistry,
  simulatedCloudOptions,
  wireSimulator,
  type Scenario,
  type Simulator,
} from '#simulator';
import { composeSupergraph, subgraphs as subgraphList, type SubgraphName } from '#supergraph';
import { openLiveBus, openTimeSeriesStore, type LiveBus, type TelemetryBackendOptions, type TimeSeriesStore } from '#telemetry';
import type { Collector } from '../collector/src/collector.ts';
import { wireCollector } from '../collector/src/service.ts';
import {
  RouterAuth,
  wireRouter,
  type HttpHandler,
  type QueryPlanner,
  type RouterHardening,
  type RunningRouter,
} from '../router/src/index.ts';
import { wireDevices } from '../subgraphs/devices/src/index.ts';
import type { ActuatorRateLimitSettings } from '../subgraphs/devices/src/index.ts';
import { wireInfrastructure } from '../subgraphs/infrastructure/src/index.ts';
import { wireOpendata } from '../subgraphs/opendata/src/index.ts';
import { wireTelemetry } from '../subgraphs/telemetry/src/index.ts';

/**
 * Where the shared state lives: Redis (live bus, registry, idempotency), Graphite (time series)
 * and the registry file; each package's in-process default for what is not named.
 */
export type BackendOptions = TelemetryBackendOptions & RegistryOptions;

/** Everything `startPlatform` needs; `platform/main.ts` fills it from the environment. */
export interface PlatformConfig {
  logger: Logger;
  host?: string;
  scenario: Scenario['name'];
  seed?: number;
  /** An MQTT broker to use; the embedded one (aedes) is started on `mqttPort` when absent. */
  mqttUrl?: string;
  mqttPort?: number;
  /**
   * With `mqttUrl`: an admin of the broker's accounts (Mosquitto's dynamic security plugin). The
   * platform makes its own service accounts with it at start, and the gateways' as they are registered.
   */
  mqttAdmin?: MqttCredentials;
  /** CA certificate of an `mqtts://` broker signed by a private CA. */
  mqttCa?: string | Buffer;
  /**
   * The secret the platform's IQRF clients sign request msgIds with (every collector and API
   * instance must share it); random per start when absent.
   */
  msgIdSecret?: string;
  /** MQTT protocol of the clients: 4 (3.1.1) with the embedded broker, 5 by default with `mqttUrl`. */
  mqttProtocolVersion?: 4 | 5;
  /**
   * This process's collector id: with MQTT 5 it keeps a persistent session under it (answers
   * that arrive while it restarts are kept) and splits the gateways with the other collectors.
   * Default `collector-<hostname>`.
   */
  collectorId?: string;
  /** Start polling at once (default); tests may start the collector themselves. */
  startCollector?: boolean;
  /** Run the simulated city (IQRF daemons, OpenStack, Contrail, Kubernetes). */
  simulate: boolean;
  /** Real data-center systems; the simulator's are used when absent. */
  cloud?: CloudOptions;
  routerPort: number;
  /** Per subgraph; 0 picks free ports. */
  subgraphPorts: Record<SubgraphName, number>;
  /** A supergraph SDL to serve; composed from the running subgraphs when absent. */
  supergraph?: string;
  planner?: QueryPlanner;
  /**
   * Redis (live bus, registry), Graphite (time series) and the registry file; the in-process
   * defaults for what is not named.
   */
  backends?: BackendOptions;
  /** An open data catalogue; the scenario's when absent. */
  openData?: OpenDataCatalog;
  pollIntervalMs?: number;
  /** Where the simulated city keeps its gateways' meshes and its data center across restarts; nothing is kept when absent. */
  simulatorStateFile?: string;
  /**
   * How far back the simulator writes plausible history into the store after start (ms), before
   * the first reading each sensor has; 0 or absent: none. Only with the simulated city.
   */
  historyBackfillMs?: number;
  /** Time between two heartbeats to each gateway; a gateway is OFFLINE three beats and 5 s after its last answer. Default 10 s. */
  heartbeatIntervalMs?: number;
  iqrfTimeoutMs?: number;
  lossRate?: number;
  nodeReadyDelayMs?: number;
  subscriberQueueLimit?: number;
  exposeInternalErrors?: boolean;
  /**
   * The router's limits and hardening (`RouterHardening`; its rate limits are kept in Redis when
   * `backends.redisUrl` is set). With `production`, subgraphs never expose internal errors either.
   */
  hardening?: RouterHardening;
  /** Who may call: how JWTs are checked (default HS256 with the development secret), partner API keys, the router's signing secret. */
  auth?: PlatformAuth;
  /** More to serve on the router's port beside GraphQL and open data (e.g. the dashboard). */
  httpHandlers?: readonly HttpHandler[];
  /** Commands to one actuator at once, then one per interval (ACTUATOR_COMMAND_BURST, ACTUATOR_COMMAND_INTERVAL_MS); 5 and 10 s by default. */
  actuatorCommandLimit?: ActuatorRateLimitSettings;
  /** How long a command to an actuator waits for its daemon's answer before it is UNCONFIRMED (ACTUATOR_COMMAND_TIMEOUT_MS); 5 s by default. */
  actuatorCommandTimeoutMs?: number;
  /**
   * With the simulated city and no grant recorded yet: grant each tenant's developer (`<tenant>-developer`,
   * the subject of `npm run token` and the printed tokens) its actuators of one gateway, and each
   * API key with `actuators:write` the street lights of a guest tenant's gateway (`demoGrants`).
   * Default: on with the simulator, outside production.
   */
  demoGrants?: boolean;
}

export interface PlatformAuth {
  /** How JWTs are checked; HS256 with the development secret when absent. */
  tokens?: TokenVerifierOptions;
  apiKeys?: readonly ApiKeyRecord[];
  /** The secret the router signs subgraph requests with; random per start when absent. */
  subgraphSecret?: string;
}

export interface Platform {
  /** The router's signing secret (tests sign requests to subgraphs with it). */
  subgraphSecret: string;
  routerUrl: string;
  mqttUrl: string;
  /** The broker's accounts as the platform manages them. */
  mqttAccounts: BrokerAccounts;
  /** Issues, rotates and revokes gateways' MQTT credentials (what `registerGateway` uses). */
  gatewayCredentials: GatewayCredentials;
  /** The embedded broker, when no `mqttUrl` was given. */
  broker?: EmbeddedBroker;
  subgraphs: Record<SubgraphName, RunningSubgraph>;
  router: RunningRouter;
  collector: Collector;
  registry: GatewayRegistry;
  /** Tenants' grants of command rights on actuators (the devices subgraph's). */
  actuatorGrants: ActuatorGrantStore;
  /** What the demo grants gave, in one line; undefined when none were made (`PlatformConfig.demoGrants`). */
  demoGrants?: string;
  store: TimeSeriesStore;
  bus: LiveBus;
  iqrf: IqrfClient;
  simulator?: Simulator;
  scenario: Scenario;
  close(): Promise<void>;
}

/**
 * Starts the whole platform in this process: MQTT broker (embedded unless `mqttUrl`), simulator,
 * the four subgraphs, the router and the collector. Parts are closed in reverse order by
 * `close()`, and also when a later part fails to start.
 */
export async function startPlatform(config: PlatformConfig): Promise<Platform> {
  const { logger } = config;
  const host = config.host ?? '127.0.0.1';
  const closers: Array<() => Promise<unknown> | unknown> = [];
  const close = async () => {
    for (const closer of closers.reverse()) {
      try {
        await closer();
      } catch (error) {
        logger.warn({ err: (error as Error).message }, 'error while stopping');
      }
    }
  };
  try {
    const scenario = buildScenario(config.scenario, config.seed);

    let broker: EmbeddedBroker | undefined;
    if (!config.mqttUrl) {
      broker = await startEmbeddedBroker({ port: config.mqttPort ?? 1883, host, logger: logger.child({ component: 'broker' }) });
      closers.push(() => broker!.close());
    } else if (!config.mqttAdmin) {
      throw new Error(
        'MQTT_ADMIN_USERNAME and MQTT_ADMIN_PASSWORD are needed with MQTT_URL: the platform manages the broker accounts of its services and gateways (Mosquitto dynamic security)',
      );
    }
    const mqttUrl = config.mqttUrl ?? broker!.url;
    const protocolVersion = config.mqttProtocolVersion ?? (config.mqttUrl ? 5 : 4);
    const mqttOptions = (credentials: MqttCredentials, options: MqttOptions = {}): MqttOptions => ({
      credentials,
      protocolVersion,
      ...(config.mqttCa ? { ca: config.mqttCa } : {}),
      ...options,
    });
    let accounts: BrokerAccounts;
    if (broker) accounts = broker.accounts;
    else {
      const { credentials: _admin, ...adminOptions } = mqttOptions(config.mqttAdmin!);
      accounts = await DynsecAccounts.connect(mqttUrl, config.mqttAdmin!, adminOptions, logger.child({ component: 'mqtt-accounts' }));
      closers.push(() => accounts.close());
    }
    // The platform's own identities, with passwords made for this run and removed when it stops.
    const serviceCredentials = async (account: MqttAccount): Promise<MqttCredentials> => {
      const password = newPassword();
      await accounts.upsert(account, password);
      closers.push(() => accounts.remove(account.username));
      return { username: account.username, password };
    };
    const connect = async (account: MqttAccount, options: MqttOptions = {}): Promise<MqttClient> => {
      const client = await connectMqtt(mqttUrl, mqttOptions(await serviceCredentials(account), options));
      closers.push(() => client.endAsync());
      client.on('error', (error) => logger.warn({ client: account.username, err: error.message }, 'MQTT error'));
      return client;
    };
    const gatewayCredentials = new GatewayCredentials(accounts);

    let simulator: Simulator | undefined;
    if (config.simulate) {
      simulator = await wireSimulator({
        scenario,
        // Each simulated daemon connects as its gateway, with the credentials the platform issued it,
        // keeping its session: requests sent while it reconnects (a rotation) wait for it.
        connect: (credentials) => createMqttClient(mqttUrl, mqttOptions(credentials, { clean: false })),
        logger: logger.child({ component: 'simulator' }),
        lossRate: config.lossRate,
        nodeReadyDelayMs: config.nodeReadyDelayMs,
        stateFile: config.simulatorStateFile,
      });
      closers.push(() => simulator!.close());
      const stopHandover = gatewayCredentials.onChange((gatewayId, credentials) => simulator!.iqrf.setCredentials(gatewayId, credentials));
      closers.push(stopHandover);
    }

    // One registry, store and bus for every part, each the package's default unless `backends` names a real one.
    const backends = config.backends ?? {};
    const registry = await openGatewayRegistry(backends, logger);
    closers.push(() => registry.close());
    const store = openTimeSeriesStore(backends, logger);
    closers.push(() => store.close());
    const bus = openLiveBus(backends, logger);
    closers.push(() => bus.close());
    logger.info({ store: store.constructor.name, bus: bus.constructor.name, registry: registry.constructor.name }, 'backends');
    let registered = await registry.list();
    if (registered.length === 0 && config.simulate) {
      registered = scenarioRegistry(scenario, new Date());
      for (const record of registered) await registry.add(record);
    }

    // Gateways registered in an earlier run come back with the simulated city: their daemons (with
    // the meshes their coordinators kept) and their Kubernetes node, vRouter and collector pod.
    const unprovisioned = simulator?.restoreRegistered(registered) ?? [];
    // Gateways the simulator runs get their credentials as a registration issues them: anew at every start.
    if (simulator) {
      const simulated = registered.filter((gateway) => gateway.status !== 'DECOMMISSIONED' && simulator!.iqrf.hasGateway(gateway.id));
      for (const gateway of simulated) await gatewayCredentials.issue(gateway.id);
    }

    const msgIdSecret = config.msgIdSecret ?? randomBytes(32).toString('base64url');
    const iqrf = new IqrfClient(await connect({ username: `api-${process.pid}`, role: 'api' }), {
      logger: logger.child({ component: 'iqrf' }),
      timeoutMs: config.iqrfTimeoutMs,
      msgIdSecret,
    });
    await iqrf.start();
    closers.push(() => iqrf.close());

    if (!config.cloud && !simulator)
      throw new Error('OPENSTACK_AUTH_URL, CONTRAIL_URL and KUBECONFIG must be set when the simulator is off (SIMULATOR=off)');
    const { openstack, contrail, kubernetes } = createCloudClients(config.cloud ?? simulatedCloudOptions(simulator!.cloud));
    const provisioner = new GatewayProvisioner({ kubernetes, contrail, logger: logger.child({ component: 'provisioner' }) });
    // A registry older than the simulator's state file: its gateways' data-center objects are made again.
    for (const gateway of registered.filter((g) => unprovisioned.includes(g.id))) {
      await provisioner
        .provision({ id: gateway.id, tenant: gateway.tenant, arch: gateway.arch.toLowerCase() as 'amd64' | 'arm' | 'arm64' })
        .catch((error: Error) =>
          logger.warn({ gatewayId: gateway.id, err: error.message }, 'cannot provision a restored gateway in the simulated data center'),
        );
    }
    const idempotency = openIdempotencyStore(backends, logger);
    closers.push(() => idempotency.close());
    const actuatorGrants = await openActuatorGrants(backends, logger);
    closers.push(() => actuatorGrants.close());
    const demoGrants =
      (config.demoGrants ?? (config.simulate && !config.hardening?.production)) && (await actuatorGrants.listByTenant()).length === 0
        ? await grantDemoRights(actuatorGrants, scenario.tenants, registered, config.auth?.apiKeys ?? [])
        : undefined;
    if (demoGrants) logger.info({ grants: demoGrants }, 'demo actuator grants');

    const subgraphSecret = config.auth?.subgraphSecret ?? randomBytes(32).toString('base64url');
    const common = {
      host,
      exposeInternalErrors: !config.hardening?.production && config.exposeInternalErrors,
      trust: { secret: subgraphSecret },
    };
    const started = {} as Record<SubgraphName, RunningSubgraph>;
    const subgraphLogger = (name: string) => logger.child({ component: `subgraph:${name}` });
    const routerUrlGuess = `http://${host}:${config.routerPort || 4000}`;
    const openDataCatalog = config.openData ?? scenarioOpenData(scenario, routerUrlGuess);
    started.devices = await wireDevices({
      ...common,
      port: config.subgraphPorts.devices,
      logger: subgraphLogger('devices'),
      sources: {
        registry,
        iqrf,
        provisioner,
        idempotency,
        actuatorGrants,
        credentials: gatewayCredentials,
        openSensorIds: publishedSensorIds(openDataCatalog),
      },
      // What the devices subgraph opens itself (actuator log, grants, rate limits) is shared through the same Redis.
      backends,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      iqrfTimeoutMs: config.iqrfTimeoutMs,
      actuatorCommandLimit: config.actuatorCommandLimit,
      actuatorCommandTimeoutMs: config.actuatorCommandTimeoutMs,
    });
    closers.push(() => started.devices.close());
    started.telemetry = await wireTelemetry({
      ...common,
      port: config.subgraphPorts.telemetry,
      logger: subgraphLogger('telemetry'),
      sources: {
        store,
        bus,
        registry,
        openSensorIds: publishedSensorIds(openDataCatalog),
        subscriberQueueLimit: config.subscriberQueueLimit,
      },
    });
    closers.push(() => started.telemetry.close());
    started.infrastructure = await wireInfrastructure({
      ...common,
      port: config.subgraphPorts.infrastructure,
      logger: subgraphLogger('infrastructure'),
      sources: {
        openstack,
        contrail,
        kubernetes,
        onboarder: new TenantOnboarder({ openstack, contrail, kubernetes, logger: logger.child({ component: 'onboarder' }) }),
        idempotency,
      },
    });
    closers.push(() => started.infrastructure.close());

    started.opendata = await wireOpendata({
      ...common,
      port: config.subgraphPorts.opendata,
      logger: subgraphLogger('opendata'),
      sources: { catalog: openDataCatalog, store, registry },
    });
    closers.push(() => started.opendata.close());

    const supergraph =
      config.supergraph ??
      (await composeSupergraph(
        Object.fromEntries(subgraphList.map(({ name }) => [name, started[name].url])) as Record<SubgraphName, string>,
      ));
    const router = await wireRouter({
      supergraph,
      port: config.routerPort,
      host,
      logger: logger.child({ component: 'router' }),
      auth: new RouterAuth({
        verifyToken: createTokenVerifier(config.auth?.tokens ?? { secret: DEVELOPMENT_SECRET }),
        apiKeys: new ApiKeys(config.auth?.apiKeys ?? []),
        subgraphSecret,
      }),
      planner: config.planner,
      ...config.hardening,
      rateLimit: config.hardening?.rateLimit && {
        ...config.hardening.rateLimit,
        redisUrl: config.hardening.rateLimit.redisUrl ?? config.backends?.redisUrl,
      },
      // `/opendata/*` is proxied to the opendata subgraph the supergraph names, as on a standalone router.
      httpHandlers: config.httpHandlers,
    });
    closers.push(() => router.close());

    // Polling starts once the API is up, and stops first: no reading is published into a closing API.
    // Stable across restarts (not the pid): a restarted collector takes its own session back
    // instead of leaving a dead one holding a share of the collectors' subscription.
    const collectorId = config.collectorId ?? `collector-${hostname().replace(/[^A-Za-z0-9_-]/g, '-')}`;
    const { collector, close: closeCollector } = await wireCollector({
      mqttUrl,
      protocolVersion,
      id: collectorId,
      credentials: await serviceCredentials({ username: collectorId, role: 'collector' }),
      msgIdSecret,
      redisUrl: config.backends?.redisUrl,
      ...(config.mqttCa ? { ca: config.mqttCa } : {}),
      registry,
      store,
      bus,
      logger: logger.child({ component: 'collector' }),
      intervalMs: config.pollIntervalMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      iqrfTimeoutMs: config.iqrfTimeoutMs,
    });
    closers.push(closeCollector);
    // Simulated history ends where the collector's readings begin; written in the background.
    const historyUntil = Date.now();
    if (config.startCollector ?? true) await collector.start();
    if (simulator && config.historyBackfillMs) {
      const stopBackfill = new AbortController();
      const backfilling = simulator
        .backfillHistory({
          store,
          gateways: registered,
          windowMs: config.historyBackfillMs,
          until: historyUntil,
          signal: stopBackfill.signal,
        })
        .then(
          (result) => logger.info({ ...result, windowMs: config.historyBackfillMs }, 'simulated history written'),
          (error: Error) => logger.warn({ err: error.message }, 'cannot write simulated history'),
        );
      closers.push(async () => {
        stopBackfill.abort();
        await backfilling;
      });
    }

    return {
      subgraphSecret,
      routerUrl: router.url,
      mqttUrl,
      mqttAccounts: accounts,
      gatewayCredentials,
      broker,
      subgraphs: started,
      router,
      collector,
      registry,
      actuatorGrants,
      demoGrants,
      store,
      bus,
      iqrf,
      simulator,
      scenario,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Demo grants, so that commanding works at once: each tenant's developer (`<tenant>-developer`)
 * may command the tenant's actuators on the first gateway it has actuator nodes on, and each API
 * key with `actuators:write` the street lights of the first guest tenant with lights on a shared
 * gateway (the second customer's street). Returns what was granted, in one line.
 */
async function grantDemoRights(
  grants: ActuatorGrantStore,
  tenants: readonly string[],
  gateways: readonly GatewayRecord[],
  apiKeys: readonly ApiKeyRecord[],
): Promise<string | undefined> {
  const sorted = [...gateways].filter((g) => g.status !== 'DECOMMISSIONED').sort((a, b) => a.id.localeCompare(b.id));
  const actuatorNodes = (gateway: GatewayRecord, tenant: string, key = '') =>
    Object.entries(gateway.nodes).filter(
      ([address, meta]) =>
        nodeTenant(gateway, Number(address)) === tenant && Object.keys(meta.actuators ?? {}).some((k) => k.startsWith(key)),
    );
  const given: string[] = [];
  const grant = async (what: NewActuatorGrant, said: string) => {
    await grants.grant(what);
    given.push(said);
  };
  for (const tenant of tenants) {
    const gateway = sorted.find((g) => actuatorNodes(g, tenant).length > 0);
    if (gateway)
      await grant(
        { tenant, grantee: { kind: 'USER', id: `${tenant}-developer` }, gatewayId: gateway.id, grantedBy: 'demo' },
        `${tenant}-developer: ${tenant}'s actuators on ${gateway.id}`,
      );
  }
  const partners = apiKeys.filter((key) => key.scopes?.includes(Scope.ACTUATORS_WRITE));
  const street = sorted
    .flatMap((gateway) =>
      gatewayTenants(gateway)
        .slice(1)
        .map((tenant) => ({ gateway, tenant })),
    )
    .find(({ gateway, tenant }) => actuatorNodes(gateway, tenant, 'light').length > 0);
  if (street)
    for (const key of partners)
      await grant(
        { tenant: street.tenant, grantee: { kind: 'API_KEY', id: key.id }, gatewayId: street.gateway.id, kind: 'LIGHT', grantedBy: 'demo' },
        `API key ${key.id}: ${street.tenant}'s street lights on ${street.gateway.id}`,
      );
  return given.length ? `Demo grants (commanding needs one): ${given.join('; ')}` : undefined;
}

/** The ports `npm start` uses: the router on 4000, subgraphs on 4001-4004 (as in schema/supergraph.graphql). */
export const defaultPorts = {
  router: 4000,
  subgraphs: Object.fromEntries(subgraphList.map(({ name, port }) => [name, port])) as Record<SubgraphName, number>,
};
