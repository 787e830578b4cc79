import { startSubgraph, type RunningSubgraph } from '#kit';
import type { Logger } from '#log';
import { createOpendataContext, type OpendataContext, type OpendataSources } from './context.ts';
import { resolvers, typeDefs } from './schema.ts';

export type { OpendataSources } from './context.ts';
export { validateCatalog, type OpenDataCatalog } from './sources/catalog.ts';

/** Starts the open data subgraph (catalogue, traffic counts, parking) on `port`. */
export function startOpendataSubgraph(options: { port: number; host?: string; logger: Logger; sources: OpendataSources; exposeInternalErrors?: boolean }): Promise<RunningSubgraph> {
  return startSubgraph<OpendataContext>({
    name: 'opendata',
    typeDefs,
    resolvers,
    context: () => createOpendataContext(options.sources),
    port: options.port,
    host: options.host,
    logger: options.logger,
    exposeInternalErrors: options.exposeInternalErrors,
  });
}
