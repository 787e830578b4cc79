import { startSubgraph, type RunningSubgraph, type SubgraphStartOptions } from '#kit';
import { createTelemetryContext, type TelemetryContext, type TelemetrySources } from './context.ts';
import { resolvers, typeDefs } from './schema.ts';

export type { TelemetrySources } from './context.ts';

/** Starts the telemetry subgraph (history and live readings), with graphql-ws on the same port. */
export function startTelemetrySubgraph(options: SubgraphStartOptions & { sources: TelemetrySources }): Promise<RunningSubgraph> {
  return startSubgraph<TelemetryContext>({
    name: 'telemetry',
    typeDefs,
    resolvers,
    context: ({ caller }) => createTelemetryContext(options.sources, caller),
    trust: options.trust,
    port: options.port,
    host: options.host,
    subscriptions: true,
    logger: options.logger,
    exposeInternalErrors: options.exposeInternalErrors,
  });
}
