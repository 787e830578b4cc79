import type { Point } from './reading.ts';
import type { SeriesKey, SeriesQuery, TimeSeriesStore } from './store.ts';

/**
 * Reads of sensors by their current owner. A reader looks up who owns each sensor's gateway now
 * and gets `undefined` for a sensor whose gateway nobody owns; these two ask the store only for
 * the owned ones and answer the others with nothing, so a sensor without an owner never reaches
 * a store query (and never one with a guessed tenant).
 */
export async function readOwnedSeries(
  store: TimeSeriesStore,
  keys: ReadonlyArray<SeriesKey | undefined>,
  range: Omit<SeriesQuery, 'series'>,
): Promise<Point[][]> {
  const owned = keys.filter((key): key is SeriesKey => key !== undefined);
  const series = owned.length ? await store.query({ ...range, series: owned }) : [];
  let next = 0;
  return keys.map((key) => (key ? series[next++]! : []));
}

/** The latest point of each owned sensor, in key order; `undefined` for the others. See `readOwnedSeries`. */
export async function readOwnedLatest(
  store: TimeSeriesStore,
  keys: ReadonlyArray<SeriesKey | undefined>,
): Promise<Array<Point | undefined>> {
  const owned = keys.filter((key): key is SeriesKey => key !== undefined);
  const latest = owned.length ? await store.latest(owned) : [];
  let next = 0;
  return keys.map((key) => (key ? latest[next++] : undefined));
}
