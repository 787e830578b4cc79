import { startSubgraph, type RunningSubgraph, type SubgraphStartOptions } from '#kit';
import { createDevicesContext, type DevicesContext, type DevicesSources } from './context.ts';
import { resolvers, typeDefs } from './schema.ts';

export type { DevicesSources, Provisioner } from './context.ts';

/** Starts the devices subgraph (gateways, IQRF meshes, sensors, provisioning) on `port`. */
export function startDevicesSubgraph(options: SubgraphStartOptions & { sources: DevicesSources }): Promise<RunningSubgraph> {
  return startSubgraph<DevicesContext>({
    name: 'devices',
    typeDefs,
    resolvers,
    context: ({ caller }) => createDevicesContext(options.sources, caller),
    trust: options.trust,
    port: options.port,
    host: options.host,
    logger: options.logger,
    exposeInternalErrors: options.exposeInternalErrors,
  });
}
