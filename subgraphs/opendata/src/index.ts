import type { IncomingMessage, ServerResponse } from 'node:http';
import { OwnedResources, startSubgraph, type RunningSubgraph, type SubgraphStartOptions } from '#kit';
import type { Logger } from '#log';
import { foreignPublishedSensors, publishedSensorIds } from '#opendata-catalog';
import { openGatewayRegistry, parseSensorId, type RegistryOptions } from '#registry';
import { openTimeSeriesStore, type TelemetryBackendOptions } from '#telemetry';
import { createOpendataContext, type OpendataContext, type OpendataSources } from './context.ts';
import { createOpenDataHandler } from './rest/index.ts';
import { resolvers, typeDefs } from './schema.ts';

export type { OpendataSources } from './context.ts';

/** The open data downloads (DCAT-AP catalogue, CSV/JSON, SensorThings) under `/opendata/` (the router proxies them here). */
function openDataRoutes({ catalog, store, registry }: OpendataSources, logger: Logger) {
  const handler = createOpenDataHandler({ catalog, store, registry, logger });
  return (req: IncomingMessage, res: ServerResponse): Promise<boolean> | boolean => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!url.pathname.startsWith('/opendata/')) return false;
    return handler(req, res, new URL(`${url.pathname.slice('/opendata'.length)}${url.search}`, url));
  };
}

/** The open data subgraph's wiring: `npm run subgraph:opendata` and the all-in-one start both pass one. */
export interface OpendataConfig extends SubgraphStartOptions {
  /**
   * The catalogue it publishes, and the store and registry it reads counters through: each of
   * those two absent is opened from `backends` (Graphite / Redis when they name them, in memory
   * otherwise) and closed with the subgraph.
   */
  sources: Pick<OpendataSources, 'catalog'> & Partial<Pick<OpendataSources, 'store' | 'registry'>>;
  backends?: TelemetryBackendOptions & RegistryOptions;
}

/** Serves the open data subgraph (catalogue, traffic counts, parking, and the downloads under `/opendata/`). */
export async function wireOpendata(config: OpendataConfig): Promise<RunningSubgraph> {
  const { logger, backends = {} } = config;
  return OwnedResources.wire(async (owned) => {
    const sources: OpendataSources = {
      catalog: config.sources.catalog,
      store: config.sources.store ?? owned.own(openTimeSeriesStore(backends, logger)),
      registry: config.sources.registry ?? owned.own(await openGatewayRegistry(backends, logger)),
    };
    await warnForeignPublished(sources, logger);
    return startSubgraph<OpendataContext>({
      httpHandlers: [openDataRoutes(sources, logger)],
      name: 'opendata',
      typeDefs,
      resolvers,
      context: ({ caller }) => createOpendataContext(sources, caller),
      trust: config.trust,
      port: config.port,
      host: config.host,
      logger,
      exposeInternalErrors: config.exposeInternalErrors,
    });
  });
}

/**
 * Logs each published sensor whose node is another tenant's than its publisher's (a shared
 * gateway's node assigned away, or a catalogue written for another assignment): it publishes
 * nothing (`PublishedSeries`) until the catalogue or the assignment is put right.
 */
async function warnForeignPublished({ catalog, registry }: OpendataSources, logger: Logger): Promise<void> {
  const published = publishedSensorIds(catalog);
  const gatewayIds = [...new Set([...published].flatMap((id) => parseSensorId(id)?.gatewayId ?? []))];
  const records = gatewayIds.length ? await registry.getMany(gatewayIds) : [];
  const gateways = new Map(records.flatMap((record) => (record ? [[record.id, record] as const] : [])));
  for (const foreign of foreignPublishedSensors(published, gateways))
    logger.warn(foreign, 'open data: a published sensor belongs to another tenant than its publisher; it publishes nothing');
}
