import { Aggregate, type Point, type Reading } from './reading.ts';
import type { SeriesKey, SeriesQuery, TimeSeriesStore } from './store.ts';
import { summarize } from './summarize.ts';

export interface MemoryStoreOptions {
  /** Slot size, like the first Graphite retention (`10s:6h`). Default 10 s. */
  resolutionSeconds?: number;
  /** How far back points are kept. Default 6 h. */
  retentionSeconds?: number;
}

/**
 * A fixed-size ring of slots per sensor: memory is bounded by sensors x retention / resolution,
 * a write is O(1), and a point written into an occupied slot overwrites it as in whisper.
 */
class Series {
  readonly slots: Float64Array;
  readonly values: Float64Array;
  latestSlot = -Infinity;

  constructor(capacity: number) {
    this.slots = new Float64Array(capacity).fill(-1);
    this.values = new Float64Array(capacity);
  }
}

/**
 * The embedded default `TimeSeriesStore`: in-process, with Graphite's slot and summarize
 * semantics; one series per tenant and sensor, as Graphite's metric paths.
 */
export class MemoryTimeSeriesStore implements TimeSeriesStore {
  private readonly series = new Map<string, Series>();
  private readonly resolution: number;
  private readonly capacity: number;

  constructor(options: MemoryStoreOptions = {}) {
    this.resolution = (options.resolutionSeconds ?? 10) * 1000;
    this.capacity = Math.ceil(((options.retentionSeconds ?? 6 * 3600) * 1000) / this.resolution);
  }

  async write(readings: readonly Reading[]): Promise<void> {
    for (const reading of readings) {
      const key = seriesName(reading);
      let series = this.series.get(key);
      if (!series) this.series.set(key, (series = new Series(this.capacity)));
      const slot = Math.floor(reading.time / this.resolution);
      const index = slot % this.capacity;
      series.slots[index] = slot;
      series.values[index] = reading.value;
      if (slot > series.latestSlot) series.latestSlot = slot;
    }
  }

  async query(query: SeriesQuery): Promise<Point[][]> {
    return query.series.map((key) => {
      const raw = this.points(seriesName(key), query.from, query.until);
      return query.everySeconds ? summarize(raw, query.everySeconds, query.aggregate ?? Aggregate.AVG) : raw;
    });
  }

  async latest(keys: readonly SeriesKey[]): Promise<Array<Point | undefined>> {
    return keys.map((key) => {
      const series = this.series.get(seriesName(key));
      if (!series || !Number.isFinite(series.latestSlot)) return undefined;
      const index = series.latestSlot % this.capacity;
      return { time: series.latestSlot * this.resolution, value: series.values[index]! };
    });
  }

  async close(): Promise<void> {
    this.series.clear();
  }

  private points(name: string, from: number, until: number): Point[] {
    const series = this.series.get(name);
    if (!series) return [];
    const newest = Math.min(Math.floor(until / this.resolution), series.latestSlot);
    const oldest = Math.max(Math.ceil(from / this.resolution), newest - this.capacity + 1);
    const points: Point[] = [];
    for (let slot = oldest; slot <= newest; slot++) {
      const index = slot % this.capacity;
      if (series.slots[index] === slot) points.push({ time: slot * this.resolution, value: series.values[index]! });
    }
    return points;
  }
}

/** The map key of a series: tenant and sensor id (neither holds a NUL). */
function seriesName({ tenant, sensorId }: SeriesKey): string {
  return `${tenant}\0${sensorId}`;
}
