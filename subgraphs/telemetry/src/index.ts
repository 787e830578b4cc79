import { startSubgraph, type RunningSubgraph } from '#kit';
import type { Logger } from '#log';
import { createTelemetryContext, type TelemetryContext, type TelemetrySources } from './context.ts';
import { resolvers, typeDefs } from './schema.ts';

export type { TelemetrySources } from './context.ts';

/** Starts the telemetry subgraph (history and live readings), with graphql-ws on the same port. */
export function startTelemetrySubgraph(options: { port: number; host?: string; logger: Logger; sources: TelemetrySources; exposeInternalErrors?: boolean }): Promise<RunningSubgraph> {
  return startSubgraph<TelemetryContext>({
    name: 'telemetry',
    typeDefs,
    resolvers,
    context: () => createTelemetryContext(options.sources),
    port: options.port,
    host: options.host,
    subscriptions: true,
    logger: options.logger,
    exposeInternalErrors: options.exposeInternalErrors,
  });
}
