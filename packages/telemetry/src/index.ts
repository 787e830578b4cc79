export * from './reading.ts';
export { summarize, bucketOf, aggregateValues } from './summarize.ts';
export type { TimeSeriesStore, SeriesQuery } from './store.ts';
export { MemoryTimeSeriesStore, type MemoryStoreOptions } from './memory-store.ts';
export { MemoryLiveBus, type LiveBus } from './bus.ts';
