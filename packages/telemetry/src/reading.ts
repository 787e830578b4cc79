import type { Quantity } from '#iqrf';

/**
 * One sensor value at an instant, as the collector accepted it. Its identity is (sensorId, time,
 * answerId): the same FRC answer always gives the same readings, however often it is delivered,
 * and the bus and the store keep it once (`readingIdentity`).
 */
export interface Reading {
  sensorId: string;
  gatewayId: string;
  tenant: string;
  quantity: Quantity;
  /** The room of the sensor, when the registry knows it (live filters use it). */
  room?: string;
  /** When the gateway answered, in milliseconds since the epoch (see the collector's `readingTime`). */
  time: number;
  value: number;
  /**
   * The msgId of the daemon answer the reading came from; absent for readings not taken from an
   * answer (simulated history). Readings of one answer share it.
   */
  answerId?: string;
}

/** The identity of a reading: the bus and the store keep one reading per identity. */
export function readingIdentity(reading: Pick<Reading, 'sensorId' | 'time' | 'answerId'>): string {
  return `${reading.sensorId}|${reading.time}|${reading.answerId ?? ''}`;
}

/** A point of a series as stores return it (times in ms since the epoch). */
export interface Point {
  time: number;
  value: number;
}

/** Aggregations of the public `Aggregate` enum, with Graphite's `summarize` semantics. */
export const Aggregate = { AVG: 'AVG', MIN: 'MIN', MAX: 'MAX', SUM: 'SUM', COUNT: 'COUNT', LAST: 'LAST' } as const;
export type Aggregate = (typeof Aggregate)[keyof typeof Aggregate];
