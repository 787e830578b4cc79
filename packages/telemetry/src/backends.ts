import { redisService, type EnvReader, type ServiceToReach } from '#kit';
import type { Logger } from '#log';
import { MemoryLiveBus, type LiveBus } from './bus.ts';
import { GraphiteTimeSeriesStore } from './graphite-store.ts';
import { MemoryTimeSeriesStore } from './memory-store.ts';
import { RedisLiveBus } from './redis-bus.ts';
import type { TimeSeriesStore } from './store.ts';

/** Where readings are kept and published: real services when named, in-process defaults otherwise. */
export interface TelemetryBackendOptions {
  /** Redis of the live bus (a Redis Stream); in memory when absent. */
  redisUrl?: string;
  /** graphite-web (reads) and carbon's line receiver (writes), both or neither; in memory when absent. */
  graphiteUrl?: string;
  carbonUrl?: string;
  /** Redis stream retention of the live bus, in ms (replay window of resumable subscriptions). */
  busRetentionMs?: number;
  /** Slot size of the in-memory store (Graphite's is its retention). Default 10 s. */
  memoryResolutionSeconds?: number;
}

/** REDIS_URL, GRAPHITE_URL + CARBON_URL (both or neither) and BUS_RETENTION_MS. */
export function telemetryOptionsFromEnv(env: EnvReader): TelemetryBackendOptions {
  const graphiteUrl = env.optional('GRAPHITE_URL');
  const carbonUrl = env.optional('CARBON_URL');
  if (Boolean(graphiteUrl) !== Boolean(carbonUrl))
    throw new Error('Set both GRAPHITE_URL (graphite-web, reads) and CARBON_URL (carbon line receiver, writes), or neither');
  return {
    redisUrl: env.optional('REDIS_URL'),
    graphiteUrl,
    carbonUrl,
    ...(env.optional('BUS_RETENTION_MS') ? { busRetentionMs: env.int('BUS_RETENTION_MS', 0) } : {}),
  };
}

/** Graphite when both its URLs are given, else the in-memory store with a day of 10 min rollup. */
export function openTimeSeriesStore(options: TelemetryBackendOptions, logger: Logger): TimeSeriesStore {
  if (options.graphiteUrl && options.carbonUrl)
    return new GraphiteTimeSeriesStore({
      graphiteUrl: options.graphiteUrl,
      carbonUrl: options.carbonUrl,
      logger: logger.child({ component: 'graphite' }),
    });
  // A 10 min rollup over a day and an hour: the dashboards' and backfilled history's day in about 7 KB per series.
  return new MemoryTimeSeriesStore({
    resolutionSeconds: options.memoryResolutionSeconds,
    rollup: { resolutionSeconds: 600, retentionSeconds: 25 * 3600 },
  });
}

/** The Redis Stream bus when Redis is named, else the in-memory bus. */
export function openLiveBus(options: TelemetryBackendOptions, logger: Logger): LiveBus {
  return options.redisUrl
    ? new RedisLiveBus({
        url: options.redisUrl,
        logger: logger.child({ component: 'live-bus' }),
        ...(options.busRetentionMs ? { retentionMs: options.busRetentionMs } : {}),
      })
    : new MemoryLiveBus();
}

/** The services these options name (Redis, graphite-web, carbon), to reach at start, with the variables that name them. */
export function telemetryServices(options: TelemetryBackendOptions): ServiceToReach[] {
  return [
    ...(options.redisUrl ? [redisService(options.redisUrl)] : []),
    ...(options.graphiteUrl ? [{ variable: 'GRAPHITE_URL', what: 'graphite-web', url: options.graphiteUrl }] : []),
    ...(options.carbonUrl
      ? [{ variable: 'CARBON_URL', what: 'carbon (line receiver)', url: options.carbonUrl, defaultPorts: { 'tcp:': 2003 } }]
      : []),
  ];
}
