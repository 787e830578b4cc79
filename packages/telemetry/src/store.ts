import type { Aggregate, Point, Reading } from './reading.ts';

export interface SeriesQuery {
  sensorIds: readonly string[];
  /** Inclusive, ms since the epoch. */
  from: number;
  /** Inclusive, ms since the epoch. */
  until: number;
  /** Bucket size in seconds; raw points when absent. */
  everySeconds?: number;
  /** How a bucket's points become one; AVG when `everySeconds` is set without it. */
  aggregate?: Aggregate;
}

/**
 * Where readings live for history. Implementations: in-memory (the embedded default) and
 * Graphite (carbon for writes, graphite-web for reads). Both answer a query the same way: points
 * at the store's resolution (later points in one slot overwrite earlier ones), summarized with
 * Graphite's `summarize` semantics when `everySeconds` is set, in time order, without nulls.
 */
export interface TimeSeriesStore {
  /** Resolves once the store has accepted the readings (they are not lost after this). */
  write(readings: readonly Reading[]): Promise<void>;
  /** One series per requested id, in the order of `sensorIds`; unknown ids give empty series. */
  query(query: SeriesQuery): Promise<Point[][]>;
  /** The most recent point of each sensor within the store's retention, in key order. */
  latest(sensorIds: readonly string[]): Promise<Array<Point | undefined>>;
  close(): Promise<void>;
}
