import { startSubgraph, type RunningSubgraph, type SubgraphStartOptions } from '#kit';
import { MemoryIdempotencyStore } from '#registry';
import { createDevicesContext, type DevicesContext, type DevicesServices, type DevicesSources } from './context.ts';
import { resolvers, typeDefs } from './schema.ts';
import { GatewayActivation } from './sources/gateway-activation.ts';
import { announceMeshChange, followMeshChanges } from './sources/mesh-change.ts';
import { MeshDiscoveries } from './sources/mesh-discoveries.ts';

export type { DevicesSources, Provisioner } from './context.ts';

/**
 * Starts the devices subgraph (gateways, IQRF meshes, sensors, provisioning) on `port`, with
 * graphql-ws for `meshDiscovery`. Gateways left PROVISIONING (by a restart) are watched again.
 */
export async function startDevicesSubgraph(options: SubgraphStartOptions & { sources: DevicesSources }): Promise<RunningSubgraph> {
  const { sources, logger } = options;
  const services: DevicesServices = {
    logger,
    exposeInternalErrors: options.exposeInternalErrors ?? false,
    idempotency: sources.idempotency ?? new MemoryIdempotencyStore(),
    discoveries: new MeshDiscoveries({ iqrf: sources.iqrf, logger, onMeshChanged: (gatewayId) => announceMeshChange(sources, gatewayId) }),
    activation: new GatewayActivation({
      registry: sources.registry,
      iqrf: sources.iqrf,
      nodeReady: (id) => sources.provisioner.nodeReady(id),
      logger,
    }),
    startedAt: Date.now(),
  };
  const subgraph = await startSubgraph<DevicesContext>({
    name: 'devices',
    typeDefs,
    resolvers,
    context: ({ caller }) => createDevicesContext(sources, services, caller),
    trust: options.trust,
    port: options.port,
    host: options.host,
    subscriptions: true,
    logger,
    exposeInternalErrors: options.exposeInternalErrors,
  });
  for (const gateway of await sources.registry.list()) if (gateway.status === 'PROVISIONING') void services.activation.watch(gateway.id);
  const stopFollowing = await followMeshChanges(sources);
  return {
    ...subgraph,
    async close() {
      stopFollowing();
      services.activation.close();
      services.discoveries.close();
      await subgraph.close();
      // A store the subgraph made is its own to close; one passed in belongs to whoever opened it.
      if (!sources.idempotency) await services.idempotency.close();
    },
  };
}
