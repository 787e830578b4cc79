import { OwnedResources, startSubgraph, type RunningSubgraph, type SubgraphStartOptions } from '#kit';
import { openGatewayRegistry, type RegistryOptions } from '#registry';
import { openLiveBus, openTimeSeriesStore, type TelemetryBackendOptions } from '#telemetry';
import { createTelemetryContext, type TelemetryContext, type TelemetrySources } from './context.ts';
import { resolvers, typeDefs } from './schema.ts';

export type { TelemetrySources } from './context.ts';

/** The telemetry subgraph's wiring: `npm run subgraph:telemetry` and the all-in-one start both pass one. */
export interface TelemetryConfig extends SubgraphStartOptions {
  /**
   * What it serves from. The store, the bus and the registry are optional: each one absent is
   * opened from `backends` (Graphite / Redis when they name them, in memory otherwise) and
   * closed with the subgraph; one given belongs to whoever gave it.
   */
  sources: Omit<TelemetrySources, 'store' | 'bus' | 'registry' | 'subscriberQueueLimit'> &
    Partial<Pick<TelemetrySources, 'store' | 'bus' | 'registry' | 'subscriberQueueLimit'>>;
  backends?: TelemetryBackendOptions & RegistryOptions;
}

/** Default `subscriberQueueLimit`: readings a subscriber may have waiting before it ends with `SLOW_CONSUMER`. */
const SUBSCRIBER_QUEUE_LIMIT = 10_000;

/** Serves the telemetry subgraph (history and live readings), with graphql-ws on the same port. */
export async function wireTelemetry(config: TelemetryConfig): Promise<RunningSubgraph> {
  const { logger, backends = {} } = config;
  return OwnedResources.wire(async (owned) => {
    const sources: TelemetrySources = {
      ...config.sources,
      store: config.sources.store ?? owned.own(openTimeSeriesStore(backends, logger)),
      bus: config.sources.bus ?? owned.own(openLiveBus(backends, logger)),
      registry: config.sources.registry ?? owned.own(await openGatewayRegistry(backends, logger)),
      subscriberQueueLimit: config.sources.subscriberQueueLimit ?? SUBSCRIBER_QUEUE_LIMIT,
    };
    return startSubgraph<TelemetryContext>({
      name: 'telemetry',
      typeDefs,
      resolvers,
      context: ({ caller }) => createTelemetryContext(sources, caller),
      trust: config.trust,
      port: config.port,
      host: config.host,
      subscriptions: true,
      logger,
      exposeInternalErrors: config.exposeInternalErrors,
    });
  });
}
