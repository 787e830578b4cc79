import { createCloudClients, GatewayProvisioner, type CloudOptions } from '#cloud';
import { MeshCatalog, onlineWindowMs } from '#iqrf';
import { OwnedResources, startSubgraph, type RunningSubgraph, type SubgraphStartOptions } from '#kit';
import type { Logger } from '#log';
import {
  FileActuatorLog,
  openActuatorLog,
  openGatewayRegistry,
  openIdempotencyStore,
  type ActuatorLog,
  type RegistryOptions,
} from '#registry';
import { openActuatorGrants } from '#registry';
import { createDevicesContext, type DevicesContext, type DevicesServices, type DevicesSources } from './context.ts';
import { resolvers, typeDefs } from './schema.ts';
import { GatewayActivation } from './sources/gateway-activation.ts';
import { announceMeshChange, followMeshChanges, releaseStaleAssignments } from './sources/mesh-change.ts';
import { MeshDiscoveries } from './sources/mesh-discoveries.ts';
import { openActuatorRateLimit, type ActuatorRateLimitSettings } from './sources/actuator-rate-limit.ts';
import { InterruptedCommandSweep } from './sources/actuator-commands.ts';

export type { DevicesSources, Provisioner } from './context.ts';
export { actuatorRateLimitFromEnv, type ActuatorRateLimitSettings } from './sources/actuator-rate-limit.ts';

/** The devices subgraph's wiring: `npm run subgraph:devices` and the all-in-one start both pass one. */
export interface DevicesConfig extends SubgraphStartOptions {
  /**
   * What it serves from. The IQRF client (started) and the gateways' credentials are given;
   * the registry and the idempotency store absent are opened from `backends` (Redis when named,
   * else the registry file or memory) and closed with the subgraph; the mesh catalogue absent is
   * made over the IQRF client, the provisioner absent from `cloud`.
   */
  sources: Pick<DevicesSources, 'iqrf' | 'credentials' | 'openSensorIds' | 'idempotency'> &
    Partial<Pick<DevicesSources, 'registry' | 'catalog' | 'provisioner'>> &
    /** The grants store absent is opened from `backends` (Redis, else beside the registry file) and closed with the subgraph. */
    Partial<Pick<DevicesSources, 'actuatorGrants'>> &
    /** The actuator log absent is opened from `backends` (Redis, else memory) and closed with the subgraph. */
    Partial<Pick<DevicesSources, 'actuatorLog'>>;
  /** The data center gateways are provisioned in, when no provisioner is given. */
  cloud?: CloudOptions;
  backends?: RegistryOptions;
  /**
   * Time between two heartbeats of the collectors to each gateway (HEARTBEAT_INTERVAL): a gateway
   * is ONLINE for `onlineWindowMs` of it after its daemon last answered. Default 10 s.
   */
  heartbeatIntervalMs?: number;
  /** How long a daemon request of the mesh catalogue waits; the catalogue's default when absent. */
  iqrfTimeoutMs?: number;
  /** How long an actuator command waits for the daemon's confirmation before it is UNCONFIRMED. Default 5 s. */
  actuatorCommandTimeoutMs?: number;
  /** Commands to one actuator at once and then one per interval (ACTUATOR_COMMAND_BURST, ACTUATOR_COMMAND_INTERVAL_MS); 5 and 10 s by default. */
  actuatorCommandLimit?: ActuatorRateLimitSettings;
}

/**
 * Serves the devices subgraph (gateways, IQRF meshes, sensors, provisioning), with graphql-ws
 * for `meshDiscovery`. Gateways left PROVISIONING (by a restart) are watched again; actuator
 * commands left PENDING (by a restart, or a log that could not be written) are finished UNCONFIRMED
 * once older than the command timeout, at start and then every timeout.
 */
export async function wireDevices(config: DevicesConfig): Promise<RunningSubgraph> {
  const { logger, backends = {} } = config;
  return OwnedResources.wire(async (owned) => {
    const onlineWindow = onlineWindowMs(config.heartbeatIntervalMs);
    const registry = config.sources.registry ?? owned.own(await openGatewayRegistry(backends, logger));
    const sources: DevicesSources = {
      ...config.sources,
      registry,
      catalog:
        config.sources.catalog ??
        new MeshCatalog(config.sources.iqrf, {
          registry,
          offlineAfterMs: onlineWindow,
          logger: logger.child({ component: 'mesh-catalog' }),
          ...(config.iqrfTimeoutMs ? { timeoutMs: config.iqrfTimeoutMs } : {}),
        }),
      provisioner: config.sources.provisioner ?? provisionerOf(config.cloud, logger),
      onlineWindowMs: onlineWindow,
      actuatorGrants: config.sources.actuatorGrants ?? owned.own(await openActuatorGrants(backends, logger)),
      actuatorLog: config.sources.actuatorLog ?? owned.own(await openedActuatorLog(backends, logger)),
      actuatorCommandTimeoutMs: config.actuatorCommandTimeoutMs ?? 5_000,
    };
    const services: DevicesServices = {
      logger,
      exposeInternalErrors: config.exposeInternalErrors ?? false,
      idempotency: sources.idempotency ?? owned.own(openIdempotencyStore(backends, logger)),
      discoveries: new MeshDiscoveries({
        iqrf: sources.iqrf,
        logger,
        onMeshChanged: async (gatewayId, bonded) => {
          await releaseStaleAssignments({ registry: sources.registry, logger }, gatewayId, bonded);
          await announceMeshChange(sources, gatewayId);
        },
      }),
      activation: new GatewayActivation({
        registry: sources.registry,
        iqrf: sources.iqrf,
        nodeReady: (id) => sources.provisioner.nodeReady(id),
        logger,
      }),
      startedAt: Date.now(),
      actuatorRateLimit: owned.own(openActuatorRateLimit(backends.redisUrl, config.actuatorCommandLimit, logger)),
    };
    // Closed with what the wiring opened, also when a later step of the start fails.
    owned.own(services.activation);
    owned.own(services.discoveries);
    const subgraph = owned.own(
      await startSubgraph<DevicesContext>({
        name: 'devices',
        typeDefs,
        resolvers,
        context: ({ caller }) => createDevicesContext(sources, services, caller),
        trust: config.trust,
        port: config.port,
        host: config.host,
        subscriptions: true,
        logger,
        exposeInternalErrors: config.exposeInternalErrors,
      }),
    );
    for (const gateway of await sources.registry.list()) if (gateway.status === 'PROVISIONING') void services.activation.watch(gateway.id);
    // Commands a restart left PENDING (older than the timeout: no instance waits for them) end UNCONFIRMED.
    const sweep = owned.own(new InterruptedCommandSweep(sources.actuatorLog, sources.actuatorCommandTimeoutMs, logger));
    await sweep.start();
    owned.own({ close: await followMeshChanges(sources) });
    return subgraph;
  });
}

/** Gateways' Kubernetes nodes, vRouters and collector pods, in the data center of `cloud`. */
function provisionerOf(cloud: CloudOptions | undefined, logger: Logger): GatewayProvisioner {
  if (!cloud) throw new Error('wireDevices: give its provisioner or the cloud options to make one from');
  const { kubernetes, contrail } = createCloudClients(cloud);
  return new GatewayProvisioner({ kubernetes, contrail, logger: logger.child({ component: 'provisioner' }) });
}

/** The actuator log of `backends`, its file (the embedded default) read back: an unreadable one stops the start, not the first command. */
async function openedActuatorLog(backends: RegistryOptions, logger: Logger): Promise<ActuatorLog> {
  const log = openActuatorLog(backends, logger);
  if (log instanceof FileActuatorLog)
    await log.opened().catch(async (error: unknown) => {
      await log.close();
      throw error;
    });
  return log;
}
