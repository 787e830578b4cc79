import type { Caller } from '#auth';
import type { GatewayRegistry } from '#registry';
import type { LiveBus, TimeSeriesStore } from '#telemetry';
import { createLoaders, type TelemetryLoaders } from './loaders.ts';

export interface TelemetrySources {
  store: TimeSeriesStore;
  bus: LiveBus;
  /** Who owns each gateway and node: a sensor's readings belong to its node's tenant (`nodeTenant`). */
  registry: Pick<GatewayRegistry, 'getMany'>;
  /**
   * Sensors the open data catalogue publishes (crossing counters, car parks, published series),
   * with their publishers (`publishedSensorIds`): every caller may read them, whatever its tenant,
   * while their node is their publisher's (`isPublishedNow`).
   */
  openSensorIds: ReadonlySet<string>;
  /** Readings a subscriber may have waiting before it is cut off as too slow. */
  subscriberQueueLimit: number;
}

export interface TelemetryContext {
  /** Who is asking, as the router signed it: every resolver scopes what it returns to this caller. */
  caller: Caller;
  sources: TelemetrySources;
  loaders: TelemetryLoaders;
}

/** One context per operation: fresh DataLoaders, shared sources. */
export function createTelemetryContext(sources: TelemetrySources, caller: Caller): TelemetryContext {
  return { caller, sources, loaders: createLoaders(sources) };
}
