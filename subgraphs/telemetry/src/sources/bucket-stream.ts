import { setLongTimeout, type LongTimeout } from '#kit';
import { bucketOf, type Aggregate, type SeriesKey, type TimeSeriesStore } from '#telemetry';
import type { ReadingModel } from '../models.ts';

export interface BucketStreamOptions {
  store: TimeSeriesStore;
  /** The series to read, each a sensor under its owner when the subscription started. */
  series: readonly SeriesKey[];
  /** ms since the epoch; finite. */
  from: number;
  /** Bucket size; whole seconds from 1 s to 1 year. */
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
 *
 * A bucket of up to a year is waited for with `setLongTimeout`, so no timer is ever armed past
 * Node's 2^31-1 ms (which Node would turn into a 1 ms busy loop).
 */
export class BucketStream implements AsyncIterableIterator<ReadingModel[]> {
  private nextStart: number;
  private timer: LongTimeout | undefined;
  private wake: (() => void) | undefined;
  private done = false;
  private readonly step: number;
  private readonly now: () => number;
  private first = true;

  constructor(private readonly options: BucketStreamOptions) {
    if (!Number.isFinite(options.from) || !(Number.isInteger(options.everySeconds) && options.everySeconds > 0)) {
      throw new RangeError(
        `BucketStream: from ${options.from} and everySeconds ${options.everySeconds} must be finite, everySeconds a positive whole number`,
      );
    }
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
        this.timer = setLongTimeout(resolve, this.nextStart + this.step + settle - this.now());
      });
    }
    return { value: undefined, done: true };
  }

  async return(): Promise<IteratorResult<ReadingModel[]>> {
    this.done = true;
    this.timer?.clear();
    this.wake?.();
    return { value: undefined, done: true };
  }

  /** The buckets starting in [from, until), ordered by time then by the order of `series`. */
  private async read(from: number, until: number): Promise<ReadingModel[]> {
    const { series: keys, everySeconds, aggregate } = this.options;
    if (!keys.length) return [];
    const series = await this.options.store.query({ series: keys, from, until: until - 1, everySeconds, aggregate });
    const events = series.flatMap((points, i) =>
      points.map((point) => ({ sensorId: keys[i]!.sensorId, ...point, cursor: `bucket:${point.time}` })),
    );
    return events.sort((a, b) => a.time - b.time);
  }
}
