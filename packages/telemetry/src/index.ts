export * from './reading.ts';
export { summarize, bucketOf, aggregateValues } from './summarize.ts';
export type { TimeSeriesStore, SeriesQuery, SeriesKey } from './store.ts';
export { readOwnedSeries, readOwnedLatest } from './owned-series.ts';
export { MemoryTimeSeriesStore, type MemoryStoreOptions } from './memory-store.ts';
export { GraphiteTimeSeriesStore, type GraphiteStoreOptions, type GraphiteStoreStats } from './graphite-store.ts';
export { MemoryLiveBus, comparePositions, type LiveBus, type BusListener, type BusEntry } from './bus.ts';
export { RedisLiveBus, LiveBusBacklogError, type RedisLiveBusOptions } from './redis-bus.ts';
export { openLiveBus, openTimeSeriesStore, telemetryOptionsFromEnv, telemetryServices, type TelemetryBackendOptions } from './backends.ts';
