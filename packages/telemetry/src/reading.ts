import type { Quantity } from '#iqrf';

/** One sensor value at an instant, as the collector accepted it. */
export interface Reading {
  sensorId: string;
  gatewayId: string;
  tenant: string;
  quantity: Quantity;
  /** The room of the sensor, when the registry knows it (live filters use it). */
  room?: string;
  /** Milliseconds since the epoch. */
  time: number;
  value: number;
}

/** A point of a series as stores return it (times in ms since the epoch). */
export interface Point {
  time: number;
  value: number;
}

/** Aggregations of the public `Aggregate` enum, with Graphite's `summarize` semantics. */
export const Aggregate = { AVG: 'AVG', MIN: 'MIN', MAX: 'MAX', SUM: 'SUM', COUNT: 'COUNT', LAST: 'LAST' } as const;
export type Aggregate = (typeof Aggregate)[keyof typeof Aggregate];
