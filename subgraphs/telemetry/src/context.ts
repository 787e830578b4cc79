import type { LiveBus, TimeSeriesStore } from '#telemetry';
import { createLoaders, type TelemetryLoaders } from './loaders.ts';

export interface TelemetrySources {
  store: TimeSeriesStore;
  bus: LiveBus;
  /** Readings a subscriber may have waiting before it is cut off as too slow. */
  subscriberQueueLimit: number;
}

export interface TelemetryContext {
  sources: TelemetrySources;
  loaders: TelemetryLoaders;
}

/** One context per operation: fresh DataLoaders, shared sources. */
export function createTelemetryContext(sources: TelemetrySources): TelemetryContext {
  return { sources, loaders: createLoaders(sources) };
}
