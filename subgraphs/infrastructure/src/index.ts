import { createCloudClients, TenantOnboarder, type CloudOptions } from '#cloud';
import { OwnedResources, startSubgraph, type RunningSubgraph, type SubgraphStartOptions } from '#kit';
import type { Logger } from '#log';
import { openIdempotencyStore, type RegistryOptions } from '#registry';
import { createInfrastructureContext, type InfrastructureServices, type InfrastructureSources } from './context.ts';
import { infrastructureResolvers, infrastructureTypeDefs } from './schema.ts';

export {
  createInfrastructureContext,
  type InfrastructureContext,
  type InfrastructureServices,
  type InfrastructureSources,
} from './context.ts';

/** The infrastructure subgraph's wiring: `npm run subgraph:infrastructure` and the all-in-one start both pass one. */
export interface InfrastructureConfig extends SubgraphStartOptions {
  /** The data center's clients and onboarder; made from `cloud` when absent. */
  sources?: InfrastructureSources;
  /** Where the real (or simulated) OpenStack, Contrail and Kubernetes are, when no `sources` are given. */
  cloud?: CloudOptions;
  /** The idempotency store's Redis when `sources.idempotency` is absent (in memory without one); closed with the subgraph. */
  backends?: RegistryOptions;
}

/** Serves the infrastructure subgraph (OpenStack, Contrail, Kubernetes; tenants; extends `Gateway`). */
export async function wireInfrastructure(config: InfrastructureConfig): Promise<RunningSubgraph> {
  const { logger } = config;
  const sources = config.sources ?? sourcesOf(config.cloud, logger);
  return OwnedResources.wire(async (owned) => {
    const services: InfrastructureServices = {
      exposeInternalErrors: config.exposeInternalErrors ?? false,
      idempotency: sources.idempotency ?? owned.own(openIdempotencyStore(config.backends ?? {}, logger)),
    };
    return startSubgraph({
      name: 'infrastructure',
      typeDefs: infrastructureTypeDefs(),
      resolvers: infrastructureResolvers,
      context: ({ caller }) => createInfrastructureContext(sources, services, caller),
      trust: config.trust,
      port: config.port,
      host: config.host,
      logger,
      exposeInternalErrors: config.exposeInternalErrors,
    });
  });
}

/** The three clients of `cloud` and an onboarder over them. */
function sourcesOf(cloud: CloudOptions | undefined, logger: Logger): InfrastructureSources {
  if (!cloud) throw new Error('wireInfrastructure: give its sources or the cloud options to make them from');
  const clients = createCloudClients(cloud);
  return { ...clients, onboarder: new TenantOnboarder({ ...clients, logger: logger.child({ component: 'onboarder' }) }) };
}
