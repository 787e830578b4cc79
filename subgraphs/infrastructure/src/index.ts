import { startSubgraph, type RunningSubgraph } from '#kit';
import type { Logger } from '#log';
import { createInfrastructureContext, type InfrastructureSources } from './context.ts';
import { infrastructureResolvers, infrastructureTypeDefs } from './schema.ts';

export { createInfrastructureContext, type InfrastructureContext, type InfrastructureSources } from './context.ts';

export interface InfrastructureSubgraphOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  logger: Logger;
  sources: InfrastructureSources;
  exposeInternalErrors?: boolean;
}

/** Serves the infrastructure subgraph (OpenStack, Contrail, Kubernetes; extends `Gateway`). */
export function startInfrastructureSubgraph(options: InfrastructureSubgraphOptions): Promise<RunningSubgraph> {
  return startSubgraph({
    name: 'infrastructure',
    typeDefs: infrastructureTypeDefs(),
    resolvers: infrastructureResolvers,
    context: () => createInfrastructureContext(options.sources),
    port: options.port,
    host: options.host,
    logger: options.logger,
    exposeInternalErrors: options.exposeInternalErrors,
  });
}
