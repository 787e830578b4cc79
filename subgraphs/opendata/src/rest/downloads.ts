import { parseDuration, parseInstant } from '#kit';
import { Aggregate, type Point } from '#telemetry';
import type { DatasetContent, DatasetRecord, OpenDataCatalog } from '#opendata-catalog';
import type { PublishedSeries } from '../sources/published-series.ts';
import type { CsvValue } from './csv.ts';
import { OpenDataError, OpenDataErrorCode } from './http.ts';

/** Range of a download when the request names none: the last 24 hours in 1-hour buckets. */
export const DEFAULT_RANGE_MS = 24 * 3600_000;
export const DEFAULT_EVERY = '1h';
/** Most buckets one series may have in one download. */
export const MAX_BUCKETS = 10_000;
/** Most `sensor` (or `intersection`, `lot`) parameters one download may name. */
export const MAX_SELECTED = 100;

/** A download's time range: readings in [from, until] in buckets of `every` aligned to the epoch. */
export interface DownloadRange {
  from: number;
  until: number;
  /** As the request wrote it (or the default), Graphite-style. */
  every: string;
  everySeconds: number;
}

/** A dataset's data for a range, as rows under named columns. */
export interface DatasetTable {
  columns: readonly string[];
  rows: Array<Record<string, CsvValue>>;
  /** For sensor datasets: what each `sensor` of the rows is. */
  series?: Array<{ sensor: string; label: string; quantity: string; unit: string | null }>;
}

/** Reads `from`, `until` and `every`; throws a 400 OpenDataError that says which one is wrong. */
export function parseDownloadRange(params: URLSearchParams, now: number): DownloadRange {
  const single = (name: string): string | undefined => {
    const values = params.getAll(name);
    if (values.length > 1) throw badRange(`"${name}" is given ${values.length} times; give it once`);
    return values[0];
  };
  const instant = (name: string, text: string | undefined, fallback: number): number => {
    if (text === undefined || text === '') return fallback;
    const parsed = parseInstant(text, new Date(now));
    if (parsed instanceof Error) throw badRange(`${name}: ${parsed.message}`);
    return parsed.getTime();
  };
  const until = instant('until', single('until'), now);
  const from = instant('from', single('from'), until - DEFAULT_RANGE_MS);
  const every = single('every') || DEFAULT_EVERY;
  const everySeconds = parseDuration(every);
  if (everySeconds instanceof Error) throw badRange(`every: ${everySeconds.message}`);
  if (from >= until) throw badRange(`from (${new Date(from).toISOString()}) must be before until (${new Date(until).toISOString()})`);
  const buckets = Math.ceil((until - from) / (everySeconds * 1000));
  if (buckets > MAX_BUCKETS)
    throw badRange(`${buckets} buckets of ${every} between from and until; at most ${MAX_BUCKETS}: use a larger every or a shorter range`);
  return { from, until, every, everySeconds };
}

/**
 * The rows of a dataset for `range`, read from the store in one query. Traffic: vehicles and
 * pedestrians summed per bucket and intersection (buckets without any count left out). Parking:
 * the mean occupancy per bucket and car park, rounded and capped at the capacity. Sensors: the
 * mean value per bucket and series. Rows are in time order, then in catalogue order.
 * `params` may narrow the things: `intersection=`, `lot=` or `sensor=` (repeatable).
 */
export async function readDatasetTable(options: {
  catalog: OpenDataCatalog;
  dataset: DatasetRecord;
  content: DatasetContent;
  store: PublishedSeries;
  range: DownloadRange;
  params: URLSearchParams;
}): Promise<DatasetTable> {
  const { catalog, dataset, content, store, range, params } = options;
  const query = (sensorIds: string[], aggregate: Aggregate) =>
    store.query(sensorIds, { from: range.from, until: range.until, everySeconds: range.everySeconds, aggregate });
  const iso = (time: number) => new Date(time).toISOString();

  switch (content.kind) {
    case 'traffic': {
      const published = pick(catalog.intersections, content.intersectionIds);
      const crossings = select(published, params, 'intersection', dataset.id);
      const series = await query(
        crossings.flatMap((c) => [c.vehicleSensorId, c.pedestrianSensorId]),
        Aggregate.SUM,
      );
      const rows = crossings.flatMap((crossing, i) => {
        const buckets = new Map<number, { vehicles: number; pedestrians: number }>();
        const bucket = (time: number) => buckets.get(time) ?? buckets.set(time, { vehicles: 0, pedestrians: 0 }).get(time)!;
        for (const point of series[2 * i] ?? []) bucket(point.time).vehicles = Math.round(point.value);
        for (const point of series[2 * i + 1] ?? []) bucket(point.time).pedestrians = Math.round(point.value);
        return [...buckets].map(([time, counts]) => ({
          order: i,
          t: time,
          row: { time: iso(time), intersection: crossing.id, ...counts },
        }));
      });
      return { columns: ['time', 'intersection', 'vehicles', 'pedestrians'], rows: inTimeOrder(rows) };
    }
    case 'parking': {
      const published = pick(catalog.parkingLots, content.parkingLotIds);
      const lots = select(published, params, 'lot', dataset.id);
      const series = await query(
        lots.map((lot) => lot.sensorId),
        Aggregate.AVG,
      );
      const rows = lots.flatMap((lot, i) =>
        (series[i] ?? []).map((point: Point) => ({
          order: i,
          t: point.time,
          row: {
            time: iso(point.time),
            lot: lot.id,
            capacity: lot.capacity,
            occupied: Math.max(0, Math.min(lot.capacity, Math.round(point.value))),
          },
        })),
      );
      return { columns: ['time', 'lot', 'capacity', 'occupied'], rows: inTimeOrder(rows) };
    }
    case 'sensors': {
      const chosen = select(
        content.series.map((s) => ({ ...s, id: s.sensorId })),
        params,
        'sensor',
        dataset.id,
      );
      const series = await query(
        chosen.map((s) => s.sensorId),
        Aggregate.AVG,
      );
      const rows = chosen.flatMap((s, i) =>
        (series[i] ?? []).map((point: Point) => ({
          order: i,
          t: point.time,
          row: { time: iso(point.time), sensor: s.sensorId, quantity: s.quantity, value: point.value, unit: s.unit ?? null },
        })),
      );
      return {
        columns: ['time', 'sensor', 'quantity', 'value', 'unit'],
        rows: inTimeOrder(rows),
        series: chosen.map((s) => ({ sensor: s.sensorId, label: s.label, quantity: s.quantity, unit: s.unit ?? null })),
      };
    }
  }
}

/** The catalogue's things limited to `ids` (in catalogue order); all of them without ids. */
function pick<T extends { id: string }>(things: readonly T[], ids: readonly string[] | undefined): T[] {
  if (!ids) return [...things];
  const wanted = new Set(ids);
  return things.filter((thing) => wanted.has(thing.id));
}

/** Narrows `published` to the ids named by repeated `param`s; unknown ids are a 400. */
function select<T extends { id: string }>(published: readonly T[], params: URLSearchParams, param: string, datasetId: string): T[] {
  const named = [
    ...new Set(
      params
        .getAll(param)
        .flatMap((value) => value.split(','))
        .map((id) => id.trim())
        .filter(Boolean),
    ),
  ];
  if (named.length === 0) return [...published];
  if (named.length > MAX_SELECTED)
    throw new OpenDataError(400, OpenDataErrorCode.BAD_USER_INPUT, `${named.length} values of "${param}"; at most ${MAX_SELECTED}`);
  const byId = new Map(published.map((thing) => [thing.id, thing]));
  const unknown = named.filter((id) => !byId.has(id));
  if (unknown.length) {
    throw new OpenDataError(
      400,
      OpenDataErrorCode.BAD_USER_INPUT,
      `dataset "${datasetId}" publishes no ${param} ${unknown.map((id) => `"${id}"`).join(', ')}; it has ${[...byId.keys()].join(', ') || 'none'}`,
    );
  }
  const wanted = new Set(named);
  return published.filter((thing) => wanted.has(thing.id));
}

function inTimeOrder(rows: Array<{ order: number; t: number; row: Record<string, CsvValue> }>): Array<Record<string, CsvValue>> {
  return rows.sort((a, b) => a.t - b.t || a.order - b.order).map(({ row }) => row);
}

function badRange(message: string): OpenDataError {
  return new OpenDataError(400, OpenDataErrorCode.BAD_TIME_RANGE, message);
}
