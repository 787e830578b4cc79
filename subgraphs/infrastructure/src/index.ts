import { startSubgraph, type RunningSubgraph, type SubgraphStartOptions } from '#kit';
import { MemoryIdempotencyStore } from '#registry';
import { createInfrastructureContext, type InfrastructureServices, type InfrastructureSources } from './context.ts';
import { infrastructureResolvers, infrastructureTypeDefs } from './schema.ts';

export {
  createInfrastructureContext,
  type InfrastructureContext,
  type InfrastructureServices,
  type InfrastructureSources,
} from './context.ts';

export interface InfrastructureSubgraphOptions extends SubgraphStartOptions {
  sources: InfrastructureSources;
}

/** Serves the infrastructure subgraph (OpenStack, Contrail, Kubernetes; tenants; extends `Gateway`). */
export async function startInfrastructureSubgraph(options: InfrastructureSubgraphOptions): Promise<RunningSubgraph> {
  const { sources } = options;
  const services: InfrastructureServices = {
    exposeInternalErrors: options.exposeInternalErrors ?? false,
    idempotency: sources.idempotency ?? new MemoryIdempotencyStore(),
  };
  const subgraph = await startSubgraph({
    name: 'infrastructure',
    typeDefs: infrastructureTypeDefs(),
    resolvers: infrastructureResolvers,
    context: ({ caller }) => createInfrastructureContext(sources, services, caller),
    trust: options.trust,
    port: options.port,
    host: options.host,
    logger: options.logger,
    exposeInternalErrors: options.exposeInternalErrors,
  });
  return {
    ...subgraph,
    async close() {
      await subgraph.close();
      // A store the subgraph made is its own to close; one passed in belongs to whoever opened it.
      if (!sources.idempotency) await services.idempotency.close();
    },
  };
}
