import type { Caller } from '#auth';
import type { GatewayRegistry } from '#registry';
import type { TimeSeriesStore } from '#telemetry';
import { createLoaders, type OpenDataLoaders } from './loaders.ts';
import type { OpenDataCatalog } from '#opendata-catalog';

export interface OpendataSources {
  catalog: OpenDataCatalog;
  /** Counter readings (traffic, parking) are read from the platform's time-series store. */
  store: TimeSeriesStore;
  /**
   * Who owns each gateway and node now: a published sensor's readings are those its node's
   * current tenant took, and only while that tenant is its publisher (a re-registered gateway id
   * does not publish the earlier owner's readings; a node assigned away publishes nothing).
   */
  registry: Pick<GatewayRegistry, 'getMany'>;
}

export interface OpendataContext {
  /** Who is asking, as the router signed it: every resolver scopes what it returns to this caller. */
  caller: Caller;
  sources: OpendataSources;
  loaders: OpenDataLoaders;
}

export function createOpendataContext(sources: OpendataSources, caller: Caller): OpendataContext {
  return { caller, sources, loaders: createLoaders(sources) };
}
