import { bucketOf, type Aggregate, type TimeSeriesStore } from '#telemetry';
import type { ReadingModel } from '../models.ts';

export interface BucketStreamOptions {
  store: TimeSeriesStore;
  sensorIds: readonly string[];
  from: number;
  everySeconds: number;
  aggregate: Aggregate;
  /** How long after a bucket's end its last readings are surely in the store. Default 2 s. */
  settleMs?: number;
  now?: () => number;
}

/**
 * History then live, in buckets: first the closed buckets since `from`, then each bucket as it
 * closes. Every bucket is read from the time-series store with the same query `Sensor.readings`
 * runs, so live buckets have exactly the bucketing and aggregation of history. One event per
 * bucket and sensor, oldest bucket first; the cursor `bucket:<start ms>` resumes after it (as
 * `after`).
 */
export class BucketStream implements AsyncIterableIterator<ReadingModel[]> {
  private nextStart: number;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private done = false;
  private readonly step: number;
  private readonly now: () => number;
  private first = true;

  constructor(private readonly options: BucketStreamOptions) {
    this.step = options.everySeconds * 1000;
    this.now = options.now ?? Date.now;
    this.nextStart = bucketOf(options.from, options.everySeconds);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<ReadingModel[]>> {
    const settle = this.options.settleMs ?? 2_000;
    while (!this.done) {
      // History: everything up to the last closed bucket in one query; then one bucket at a time.
      const closedUntil = bucketOf(this.now() - settle, this.options.everySeconds);
      if (this.nextStart < closedUntil) {
        const until = this.first ? closedUntil : this.nextStart + this.step;
        this.first = false;
        const events = await this.read(this.nextStart, until);
        this.nextStart = until;
        if (events.length) return { value: events, done: false };
        continue;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, this.nextStart + this.step + settle - this.now());
      });
    }
    return { value: undefined, done: true };
  }

  async return(): Promise<IteratorResult<ReadingModel[]>> {
    this.done = true;
    clearTimeout(this.timer);
    this.wake?.();
    return { value: undefined, done: true };
  }

  /** The buckets starting in [from, until), ordered by time then by the order of `sensorIds`. */
  private async read(from: number, until: number): Promise<ReadingModel[]> {
    const { sensorIds, everySeconds, aggregate } = this.options;
    const series = await this.options.store.query({ sensorIds, from, until: until - 1, everySeconds, aggregate });
    const events = series.flatMap((points, i) => points.map((point) => ({ sensorId: sensorIds[i]!, ...point, cursor: `bucket:${point.time}` })));
    return events.sort((a, b) => a.time - b.time);
  }
}
