import type { IncomingMessage, ServerResponse } from 'node:http';
import { startSubgraph, type RunningSubgraph, type SubgraphStartOptions } from '#kit';
import type { Logger } from '#log';
import { createOpendataContext, type OpendataContext, type OpendataSources } from './context.ts';
import { createOpenDataHandler } from './rest/index.ts';
import { resolvers, typeDefs } from './schema.ts';

export type { OpendataSources } from './context.ts';
export { publishedSensorIds, validateCatalog, type OpenDataCatalog } from './sources/catalog.ts';
export { openDataCatalogFromEnv } from './config.ts';

/**
 * The open data downloads (DCAT-AP catalogue, CSV/JSON, SensorThings) under `/opendata/`, for any
 * HTTP server: the subgraph's own, and the router's.
 */
export function openDataRoutes({ catalog, store, registry }: OpendataSources, logger: Logger) {
  const handler = createOpenDataHandler({ catalog, store, registry, logger });
  return (req: IncomingMessage, res: ServerResponse): Promise<boolean> | boolean => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!url.pathname.startsWith('/opendata/')) return false;
    return handler(req, res, new URL(`${url.pathname.slice('/opendata'.length)}${url.search}`, url));
  };
}

/** Starts the open data subgraph (catalogue, traffic counts, parking, and the downloads under `/opendata/`) on `port`. */
export function startOpendataSubgraph(options: SubgraphStartOptions & { sources: OpendataSources }): Promise<RunningSubgraph> {
  return startSubgraph<OpendataContext>({
    httpHandlers: [openDataRoutes(options.sources, options.logger)],
    name: 'opendata',
    typeDefs,
    resolvers,
    context: ({ caller }) => createOpendataContext(options.sources, caller),
    trust: options.trust,
    port: options.port,
    host: options.host,
    logger: options.logger,
    exposeInternalErrors: options.exposeInternalErrors,
  });
}
