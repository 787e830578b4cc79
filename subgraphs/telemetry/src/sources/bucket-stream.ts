import { Repeater, type Push, type Stop } from '@repeaterjs/repeater';
import { setLongTimeout } from '#kit';
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
 * A Repeater: nothing is read before the first `next()`, the next bucket only once the consumer
 * asks for more, and `return()` ends a `next()` that waits for a bucket (or for the store) at once,
 * clearing its timer. A bucket of up to a year is waited for with `setLongTimeout`, so no timer is
 * ever armed past Node's 2^31-1 ms (which Node would turn into a 1 ms busy loop).
 */
export class BucketStream extends Repeater<ReadingModel[], void> {
  constructor(options: BucketStreamOptions) {
    if (!Number.isFinite(options.from) || !(Number.isInteger(options.everySeconds) && options.everySeconds > 0)) {
      throw new RangeError(
        `BucketStream: from ${options.from} and everySeconds ${options.everySeconds} must be finite, everySeconds a positive whole number`,
      );
    }
    super((push, stop) => streamBuckets(options, push, stop));
  }
}

async function streamBuckets(options: BucketStreamOptions, push: Push<ReadingModel[]>, stop: Stop): Promise<void> {
  const { everySeconds } = options;
  const settle = options.settleMs ?? 2_000;
  const step = everySeconds * 1000;
  const now = options.now ?? Date.now;
  let nextStart = bucketOf(options.from, everySeconds);
  let first = true;
  let stopped = false;
  // Ends the current wait when the stream stops. One reaction on `stop` for the stream's life,
  // not one per bucket (a stream of 1 s buckets would otherwise grow by one every second).
  let wake = (): void => undefined;
  void stop.then(() => {
    stopped = true;
    wake();
  });
  while (!stopped) {
    // History: everything up to the last closed bucket in one query; then one bucket at a time.
    const closedUntil = bucketOf(now() - settle, everySeconds);
    if (nextStart < closedUntil) {
      const until = first ? closedUntil : nextStart + step;
      first = false;
      const events = await new Promise<ReadingModel[] | undefined>((resolve, reject) => {
        wake = () => resolve(undefined);
        read(options, nextStart, until).then(resolve, reject);
      });
      if (events === undefined) return;
      nextStart = until;
      if (events.length) await push(events);
      continue;
    }
    await new Promise<void>((resolve) => {
      const timer = setLongTimeout(resolve, nextStart + step + settle - now());
      wake = () => {
        timer.clear();
        resolve();
      };
    });
  }
}

/** The buckets starting in [from, until), ordered by time then by the order of `series`. */
async function read(options: BucketStreamOptions, from: number, until: number): Promise<ReadingModel[]> {
  const { series: keys, everySeconds, aggregate } = options;
  if (!keys.length) return [];
  const series = await options.store.query({ series: keys, from, until: until - 1, everySeconds, aggregate });
  const events = series.flatMap((points, i) =>
    points.map((point) => ({ sensorId: keys[i]!.sensorId, ...point, cursor: `bucket:${point.time}` })),
  );
  return events.sort((a, b) => a.time - b.time);
}
