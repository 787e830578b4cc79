import { Aggregate, type Point } from './reading.ts';

/**
 * Graphite's `summarize(series, every, func)` with its default `alignToFrom=false`: buckets start
 * at multiples of `every` since the epoch, each holds [start, start + every), a bucket's time is
 * its start, and buckets without values are left out (as with `noNullPoints`). `points` must be
 * in time order.
 */
export function summarize(points: readonly Point[], everySeconds: number, aggregate: Aggregate): Point[] {
  const out: Point[] = [];
  let bucketStart = Number.NaN;
  let values: number[] = [];
  const flush = () => {
    if (values.length) out.push({ time: bucketStart, value: aggregateValues(values, aggregate) });
    values = [];
  };
  for (const point of points) {
    const start = bucketOf(point.time, everySeconds);
    if (start !== bucketStart) {
      flush();
      bucketStart = start;
    }
    values.push(point.value);
  }
  flush();
  return out;
}

/** Start (ms) of the `every`-second bucket that holds `time` (ms). */
export function bucketOf(time: number, everySeconds: number): number {
  const step = everySeconds * 1000;
  return Math.floor(time / step) * step;
}

/** One value from a non-empty bucket, as Graphite's aggregation functions compute it. */
export function aggregateValues(values: readonly number[], aggregate: Aggregate): number {
  switch (aggregate) {
    case Aggregate.AVG:
      return values.reduce((a, b) => a + b, 0) / values.length;
    case Aggregate.SUM:
      return values.reduce((a, b) => a + b, 0);
    case Aggregate.MIN:
      return Math.min(...values);
    case Aggregate.MAX:
      return Math.max(...values);
    case Aggregate.COUNT:
      return values.length;
    case Aggregate.LAST:
      return values[values.length - 1]!;
  }
}
