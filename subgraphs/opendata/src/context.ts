import type { TimeSeriesStore } from '#telemetry';
import { createLoaders, type OpenDataLoaders } from './loaders.ts';
import type { OpenDataCatalog } from './sources/catalog.ts';

export interface OpendataSources {
  catalog: OpenDataCatalog;
  /** Counter readings (traffic, parking) are read from the platform's time-series store. */
  store: TimeSeriesStore;
}

export interface OpendataContext {
  sources: OpendataSources;
  loaders: OpenDataLoaders;
}

export function createOpendataContext(sources: OpendataSources): OpendataContext {
  return { sources, loaders: createLoaders(sources) };
}
