// Time charts over fixed buckets (uPlot): history buckets from the API, live readings folded into
// the same buckets as they arrive.
import uPlot from 'uplot';

/**
 * @typedef {{ key: string, label: string, stroke: string, bars?: number }} SeriesSpec
 * @typedef {{ sum: number, count: number }} Bucket
 */

/** `count` well separated colours. */
export function palette(count) {
  return Array.from({ length: count }, (_, i) => `hsl(${Math.round((i * 360) / count + (i % 2) * 17)} 65% ${i % 2 ? 38 : 50}%)`);
}

/**
 * A uPlot chart of series kept as buckets of `bucketMs` (aligned to the epoch, as the API's
 * `every`), each shown as the average (`avg`) or the total (`sum`) of what fell into it, over a
 * rolling window. Redraws at most once per `redrawMs`.
 */
export class BucketChart {
  /**
   * @param {HTMLElement} element
   * @param {{ bucketMs: number, windowMs: number, combine: 'avg' | 'sum', series: SeriesSpec[], height?: number, redrawMs?: number, legend?: boolean }} options
   */
  constructor(element, options) {
    this.element = element;
    this.options = options;
    /** @type {Map<string, Map<number, Bucket>>} */
    this.buckets = new Map(options.series.map((s) => [s.key, new Map()]));
    this.dirty = false;
    this.timer = 0;
    const height = options.height ?? 220;
    this.plot = new uPlot(
      {
        width: Math.max(element.clientWidth, 300),
        height,
        legend: { show: options.legend ?? true, live: false },
        cursor: { drag: { x: true, y: false } },
        // Always the whole window, however little of it has data yet.
        scales: { x: { time: true, range: () => [(this.bucketOf(Date.now() - options.windowMs)) / 1000, (this.bucketOf(Date.now()) + options.bucketMs) / 1000] } },
        series: [
          {},
          ...options.series.map((s) => ({
            label: s.label,
            stroke: s.stroke,
            width: 1.5,
            spanGaps: true,
            // Points only while there are few, so that a lone bucket shows at all.
            ...(s.bars ? { fill: s.stroke, paths: uPlot.paths.bars?.({ size: [s.bars, 60] }), points: { show: false } } : { points: { show: (/** @type {uPlot} */ u) => u.data[0].length < 30 } }),
          })),
        ],
      },
      [[]],
      element,
    );
    new ResizeObserver(() => this.plot.setSize({ width: Math.max(element.clientWidth, 300), height })).observe(element);
  }

  /** The start of the bucket `timeMs` falls into. */
  bucketOf(timeMs) {
    return Math.floor(timeMs / this.options.bucketMs) * this.options.bucketMs;
  }

  /** Sets a whole bucket, e.g. one of the API's history (`sum` of `count` readings). */
  setBucket(key, startMs, sum, count) {
    this.buckets.get(key)?.set(startMs, { sum, count });
    this.invalidate();
  }

  /** Folds one live reading into its bucket; returns that bucket. */
  add(key, timeMs, value) {
    const series = this.buckets.get(key);
    if (!series) return undefined;
    const start = this.bucketOf(timeMs);
    const bucket = series.get(start) ?? { sum: 0, count: 0 };
    bucket.sum += value;
    bucket.count += 1;
    series.set(start, bucket);
    this.invalidate();
    return bucket;
  }

  invalidate() {
    this.dirty = true;
    if (!this.timer) this.timer = setTimeout(() => this.draw(), this.options.redrawMs ?? 1_000);
  }

  draw() {
    this.timer = 0;
    if (!this.dirty) return;
    this.dirty = false;
    const oldest = this.bucketOf(Date.now() - this.options.windowMs);
    const times = new Set();
    for (const series of this.buckets.values()) {
      for (const start of [...series.keys()]) {
        if (start < oldest) series.delete(start);
        else times.add(start);
      }
    }
    const xs = [...times].sort((a, b) => a - b);
    const value = this.options.combine === 'avg' ? (/** @type {Bucket} */ b) => (b.count ? b.sum / b.count : null) : (/** @type {Bucket} */ b) => b.sum;
    const data = [
      xs.map((t) => t / 1000),
      ...this.options.series.map((s) => {
        const series = /** @type {Map<number, Bucket>} */ (this.buckets.get(s.key));
        return xs.map((t) => {
          const bucket = series.get(t);
          return bucket ? value(bucket) : null;
        });
      }),
    ];
    this.plot.setData(/** @type {any} */ (data));
  }
}
