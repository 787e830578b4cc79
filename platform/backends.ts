import type { CloudOptions } from '#cloud';
import { StartupError, type EnvReader, type ServiceToReach } from '#kit';
import type { Logger } from '#log';
import {
  FileGatewayRegistry,
  MemoryIdempotencyStore,
  RedisGatewayRegistry,
  RedisIdempotencyStore,
  type GatewayRegistry,
  type IdempotencyStore,
} from '#registry';
import {
  GraphiteTimeSeriesStore,
  MemoryLiveBus,
  MemoryTimeSeriesStore,
  RedisLiveBus,
  type LiveBus,
  type TimeSeriesStore,
} from '#telemetry';

/** Where the shared state lives: real services when named, in-process defaults otherwise. */
export interface BackendOptions {
  /** Redis for the live bus and the gateway registry. */
  redisUrl?: string;
  /** graphite-web (reads) and carbon's line receiver (writes), both or neither. */
  graphiteUrl?: string;
  carbonUrl?: string;
  /** Without Redis, the registry is this JSON file (in memory only when absent). */
  registryFile?: string;
  /** Redis stream retention of the live bus, in ms (replay window of resumable subscriptions). */
  busRetentionMs?: number;
  /** Slot size of the in-memory store (Graphite's is its retention). Default 10 s. */
  memoryResolutionSeconds?: number;
}

/** Only the gateway registry (Redis when named, the JSON file otherwise), for parts that need nothing else. */
export async function openRegistry(options: BackendOptions, logger: Logger): Promise<GatewayRegistry> {
  return options.redisUrl
    ? new RedisGatewayRegistry({ url: options.redisUrl, logger: logger.child({ component: 'registry' }) })
    : FileGatewayRegistry.open(options.registryFile);
}

/** Where mutation results are kept by idempotency key: Redis when named (shared by every API instance), memory otherwise. */
export function openIdempotencyStore(options: BackendOptions, logger: Logger): IdempotencyStore {
  return options.redisUrl
    ? new RedisIdempotencyStore({ url: options.redisUrl, logger: logger.child({ component: 'idempotency' }) })
    : new MemoryIdempotencyStore();
}

export interface Backends {
  store: TimeSeriesStore;
  bus: LiveBus;
  registry: GatewayRegistry;
  close(): Promise<void>;
}

/** The backends named by the environment (REDIS_URL, GRAPHITE_URL + CARBON_URL, REGISTRY_FILE). */
export function backendOptionsFromEnv(env: EnvReader, defaults: { registryFile?: string } = {}): BackendOptions {
  const graphiteUrl = env.optional('GRAPHITE_URL');
  const carbonUrl = env.optional('CARBON_URL');
  if (Boolean(graphiteUrl) !== Boolean(carbonUrl))
    throw new Error('Set both GRAPHITE_URL (graphite-web, reads) and CARBON_URL (carbon line receiver, writes), or neither');
  const retention = env.optional('BUS_RETENTION_MS');
  return {
    redisUrl: env.optional('REDIS_URL'),
    graphiteUrl,
    carbonUrl,
    registryFile: env.optional('REGISTRY_FILE') ?? defaults.registryFile,
    ...(retention ? { busRetentionMs: env.int('BUS_RETENTION_MS', 0) } : {}),
  };
}

/** Opens the store, bus and registry; `close()` closes what it opened. */
export async function openBackends(options: BackendOptions, logger: Logger): Promise<Backends> {
  const registry = await openRegistry(options, logger);
  const store: TimeSeriesStore =
    options.graphiteUrl && options.carbonUrl
      ? new GraphiteTimeSeriesStore({
          graphiteUrl: options.graphiteUrl,
          carbonUrl: options.carbonUrl,
          logger: logger.child({ component: 'graphite' }),
        })
      : // A 10 min rollup over a day and an hour: the dashboards' and backfilled history's day in about 7 KB per series.
        new MemoryTimeSeriesStore({
          resolutionSeconds: options.memoryResolutionSeconds,
          rollup: { resolutionSeconds: 600, retentionSeconds: 25 * 3600 },
        });
  const bus: LiveBus = options.redisUrl
    ? new RedisLiveBus({
        url: options.redisUrl,
        logger: logger.child({ component: 'live-bus' }),
        ...(options.busRetentionMs ? { retentionMs: options.busRetentionMs } : {}),
      })
    : new MemoryLiveBus();
  logger.info({ store: store.constructor.name, bus: bus.constructor.name, registry: registry.constructor.name }, 'backends');
  return {
    store,
    bus,
    registry,
    async close() {
      await Promise.all([store.close(), bus.close(), registry.close()]);
    },
  };
}

/** The services the backends named must reach at start (Redis, graphite-web, carbon), with the variables that name them. */
export function backendServices(options: BackendOptions): ServiceToReach[] {
  return [
    ...(options.redisUrl
      ? [{ variable: 'REDIS_URL', what: 'Redis', url: options.redisUrl, defaultPorts: { 'redis:': 6379, 'rediss:': 6379 } }]
      : []),
    ...(options.graphiteUrl ? [{ variable: 'GRAPHITE_URL', what: 'graphite-web', url: options.graphiteUrl }] : []),
    ...(options.carbonUrl
      ? [{ variable: 'CARBON_URL', what: 'carbon (line receiver)', url: options.carbonUrl, defaultPorts: { 'tcp:': 2003 } }]
      : []),
  ];
}

/** The MQTT broker of MQTT_URL, as a service to reach at start. */
export function mqttService(url: string): ServiceToReach {
  return {
    variable: 'MQTT_URL',
    what: 'the MQTT broker',
    url,
    defaultPorts: { 'mqtt:': 1883, 'mqtts:': 8883, 'tcp:': 1883, 'ssl:': 8883, 'ws:': 80, 'wss:': 443 },
  };
}

/** Keystone, Contrail and the Kubernetes API server (KUBERNETES_URL, or the current cluster of KUBECONFIG), as services to reach at start. */
export async function cloudServices(cloud: CloudOptions): Promise<ServiceToReach[]> {
  const kubernetes =
    'server' in cloud.kubernetes
      ? { variable: 'KUBERNETES_URL', url: cloud.kubernetes.server }
      : { variable: 'KUBECONFIG', url: await kubeconfigServer(cloud.kubernetes.kubeconfigPath) };
  return [
    { variable: 'OPENSTACK_AUTH_URL', what: 'Keystone', url: cloud.openstack.authUrl },
    { variable: 'CONTRAIL_URL', what: 'the Contrail API', url: cloud.contrail.url },
    { ...kubernetes, what: 'the Kubernetes API server' },
  ];
}

/** The server of a kubeconfig's current cluster. */
async function kubeconfigServer(path: string): Promise<string> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const config = new KubeConfig();
  try {
    config.loadFromFile(path);
  } catch (error) {
    throw new StartupError(
      `KUBECONFIG=${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); set KUBECONFIG to a kubeconfig file, or KUBERNETES_URL`,
    );
  }
  const server = config.getCurrentCluster()?.server;
  if (!server) throw new StartupError(`KUBECONFIG=${path}: names no current cluster; set its current-context, or KUBERNETES_URL`);
  return server;
}
