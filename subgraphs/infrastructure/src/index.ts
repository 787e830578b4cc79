import { startSubgraph, type RunningSubgraph, type SubgraphStartOptions } from '#kit';
import { createInfrastructureContext, type InfrastructureSources } from './context.ts';
import { infrastructureResolvers, infrastructureTypeDefs } from './schema.ts';

export { createInfrastructureContext, type InfrastructureContext, type InfrastructureSources } from './context.ts';

export interface InfrastructureSubgraphOptions extends SubgraphStartOptions {
  sources: InfrastructureSources;
}

/** Serves the infrastructure subgraph (OpenStack, Contrail, Kubernetes; extends `Gateway`). */
export function startInfrastructureSubgraph(options: InfrastructureSubgraphOptions): Promise<RunningSubgraph> {
  return startSubgraph({
    name: 'infrastructure',
    typeDefs: infrastructureTypeDefs(),
    resolvers: infrastructureResolvers,
    context: ({ caller }) => createInfrastructureContext(options.sources, caller),
    trust: options.trust,
    port: options.port,
    host: options.host,
    logger: options.logger,
    exposeInternalErrors: options.exposeInternalErrors,
  });
}
