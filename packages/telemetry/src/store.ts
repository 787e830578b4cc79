import type { Aggregate, Point, Reading } from './reading.ts';

/**
 * One series of the store: the readings of a sensor taken while `tenant` owned its gateway. A
 * gateway id can be decommissioned by one tenant and registered again by another; the tenant in
 * the key is what keeps their readings apart (it is the `<tenant>` of Graphite's metric path).
 * Readers pass the tenant that owns the gateway now, so a new owner never reads an earlier
 * owner's readings; the same tenant registering the id again continues its own series.
 */
export interface SeriesKey {
  sensorId: string;
  tenant: string;
}

export interface SeriesQuery {
  /** The series to read; the answer has one series per key, in this order. */
  series: readonly SeriesKey[];
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
  /**
   * One series per key, in the order of `series`; unknown keys (and malformed ids or tenants)
   * give empty series. Reads exactly the keys' series: never another tenant's readings of the
   * same sensor id.
   */
  query(query: SeriesQuery): Promise<Point[][]>;
  /** The most recent point of each series within the store's retention, in key order. */
  latest(series: readonly SeriesKey[]): Promise<Array<Point | undefined>>;
  close(): Promise<void>;
}
