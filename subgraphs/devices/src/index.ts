import { startSubgraph, type RunningSubgraph } from '#kit';
import type { Logger } from '#log';
import { createDevicesContext, type DevicesContext, type DevicesSources } from './context.ts';
import { resolvers, typeDefs } from './schema.ts';

export type { DevicesSources, Provisioner } from './context.ts';

/** Starts the devices subgraph (gateways, IQRF meshes, sensors, provisioning) on `port`. */
export function startDevicesSubgraph(options: { port: number; host?: string; logger: Logger; sources: DevicesSources; exposeInternalErrors?: boolean }): Promise<RunningSubgraph> {
  return startSubgraph<DevicesContext>({
    name: 'devices',
    typeDefs,
    resolvers,
    context: () => createDevicesContext(options.sources),
    port: options.port,
    host: options.host,
    logger: options.logger,
    exposeInternalErrors: options.exposeInternalErrors,
  });
}
