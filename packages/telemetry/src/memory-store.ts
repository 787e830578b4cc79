import { Aggregate, type Point, type Reading } from './reading.ts';
import type { SeriesKey, SeriesQuery, TimeSeriesStore } from './store.ts';
import { bucketOf, summarize } from './summarize.ts';

export interface MemoryStoreOptions {
  /** Slot size, like the first Graphite retention (`10s:6h`). Default 10 s. */
  resolutionSeconds?: number;
  /** How far back points are kept. Default 6 h. */
  retentionSeconds?: number;
  /**
   * A second, coarser archive, like Graphite's second retention (`5min:2d`): every point also
   * counts in its rollup slot, points older than `retentionSeconds` go there only, and a query
   * reaching further back than `retentionSeconds` is answered from it (as whisper reads the
   * finest archive covering `from`). A rollup slot keeps the sum, count, min, max and last of its
   * points, so `every` buckets made of whole rollup slots aggregate as if the points were there.
   * None by default.
   */
  rollup?: { resolutionSeconds: number; retentionSeconds: number };
  /** The clock that decides which archive a point or query belongs to. */
  now?: () => number;
}

/** The rollup ring of a series: per slot the sum, count, min, max and last of its points. */
class Rollup {
  readonly slots: Float64Array;
  readonly sum: Float64Array;
  readonly count: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
  readonly last: Float64Array;
  readonly lastTime: Float64Array;

  constructor(capacity: number) {
    this.slots = new Float64Array(capacity).fill(-1);
    this.sum = new Float64Array(capacity);
    this.count = new Float64Array(capacity);
    this.min = new Float64Array(capacity);
    this.max = new Float64Array(capacity);
    this.last = new Float64Array(capacity);
    this.lastTime = new Float64Array(capacity);
  }
}

/**
 * A fixed-size ring of slots per sensor: memory is bounded by sensors x retention / resolution,
 * a write is O(1), and a point written into an occupied slot overwrites it as in whisper.
 */
class Series {
  readonly slots: Float64Array;
  readonly values: Float64Array;
  latestSlot = -Infinity;
  rollup: Rollup | undefined;

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
  private readonly retention: number;
  private readonly rollup: { resolution: number; capacity: number } | undefined;
  private readonly now: () => number;

  constructor(options: MemoryStoreOptions = {}) {
    this.resolution = (options.resolutionSeconds ?? 10) * 1000;
    this.retention = (options.retentionSeconds ?? 6 * 3600) * 1000;
    this.capacity = Math.ceil(this.retention / this.resolution);
    const { rollup } = options;
    if (rollup)
      this.rollup = {
        resolution: rollup.resolutionSeconds * 1000,
        capacity: Math.ceil(rollup.retentionSeconds / rollup.resolutionSeconds),
      };
    this.now = options.now ?? Date.now;
  }

  async write(readings: readonly Reading[]): Promise<void> {
    const fineFrom = this.now() - this.retention;
    for (const reading of readings) {
      const key = seriesName(reading);
      let series = this.series.get(key);
      if (!series) this.series.set(key, (series = new Series(this.capacity)));
      let replaced: number | undefined;
      if (!this.rollup || reading.time >= fineFrom) {
        const slot = Math.floor(reading.time / this.resolution);
        const index = slot % this.capacity;
        // A point too old for the ring would overwrite a newer slot's point: it only rolls up.
        if (series.slots[index]! <= slot) {
          if (series.slots[index] === slot) replaced = series.values[index];
          series.slots[index] = slot;
          series.values[index] = reading.value;
          if (slot > series.latestSlot) series.latestSlot = slot;
        }
      }
      if (this.rollup) this.rollUp(series, reading, replaced);
    }
  }

  private rollUp(series: Series, { time, value }: Reading, replaced: number | undefined): void {
    const { resolution, capacity } = this.rollup!;
    const rollup = (series.rollup ??= new Rollup(capacity));
    const slot = Math.floor(time / resolution);
    const index = slot % capacity;
    if (rollup.slots[index]! > slot) return;
    if (rollup.slots[index] !== slot) {
      rollup.slots[index] = slot;
      rollup.sum[index] = 0;
      rollup.count[index] = 0;
      rollup.min[index] = Infinity;
      rollup.max[index] = -Infinity;
      rollup.lastTime[index] = -Infinity;
    } else if (replaced !== undefined) {
      // The point overwrote one in its fine slot: it replaces that one here too.
      rollup.sum[index]! -= replaced;
      rollup.count[index]! -= 1;
    }
    rollup.sum[index]! += value;
    rollup.count[index]! += 1;
    rollup.min[index] = Math.min(rollup.min[index]!, value);
    rollup.max[index] = Math.max(rollup.max[index]!, value);
    if (time >= rollup.lastTime[index]!) {
      rollup.last[index] = value;
      rollup.lastTime[index] = time;
    }
  }

  async query(query: SeriesQuery): Promise<Point[][]> {
    const fromRollup = this.rollup && query.from < this.now() - this.retention;
    return query.series.map((key) => {
      if (fromRollup) return this.rolledUp(seriesName(key), query);
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

  /** A query answered from the rollup: raw, a point per slot (its average); else buckets of slots. */
  private rolledUp(name: string, query: SeriesQuery): Point[] {
    const rollup = this.series.get(name)?.rollup;
    if (!rollup) return [];
    const { resolution, capacity } = this.rollup!;
    const newest = Math.floor(query.until / resolution);
    const oldest = Math.max(Math.ceil(query.from / resolution), Math.floor(this.now() / resolution) - capacity + 1);
    const out: Point[] = [];
    let bucket: { time: number; sum: number; count: number; min: number; max: number; last: number } | undefined;
    const flush = () => {
      if (!bucket) return;
      const { sum, count, min, max, last } = bucket;
      const value = {
        [Aggregate.AVG]: sum / count,
        [Aggregate.SUM]: sum,
        [Aggregate.COUNT]: count,
        [Aggregate.MIN]: min,
        [Aggregate.MAX]: max,
        [Aggregate.LAST]: last,
      }[query.aggregate ?? Aggregate.AVG];
      out.push({ time: bucket.time, value });
      bucket = undefined;
    };
    for (let slot = oldest; slot <= newest; slot++) {
      const index = slot % capacity;
      if (rollup.slots[index] !== slot || !rollup.count[index]) continue;
      const time = slot * resolution;
      if (!query.everySeconds) {
        out.push({ time, value: rollup.sum[index]! / rollup.count[index]! });
        continue;
      }
      const start = bucketOf(time, query.everySeconds);
      if (bucket && bucket.time !== start) flush();
      bucket ??= { time: start, sum: 0, count: 0, min: Infinity, max: -Infinity, last: 0 };
      bucket.sum += rollup.sum[index]!;
      bucket.count += rollup.count[index]!;
      bucket.min = Math.min(bucket.min, rollup.min[index]!);
      bucket.max = Math.max(bucket.max, rollup.max[index]!);
      bucket.last = rollup.last[index]!;
    }
    flush();
    return out;
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
