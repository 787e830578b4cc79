// Time charts over fixed buckets (uPlot): history buckets from the API, live readings folded into
// the same buckets as they arrive.
import uPlot from 'uplot';
import { hourAndMinute, tickLabels } from './format.js';

const axisFont = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
/** @type {CanvasRenderingContext2D | null} */
let measuring = null;

/** The width in CSS pixels of the widest of `labels` in the axes' font. */
function widestLabel(/** @type {readonly string[]} */ labels) {
  measuring ??= /** @type {CanvasRenderingContext2D} */ (document.createElement('canvas').getContext('2d'));
  measuring.font = axisFont;
  return Math.max(0, ...labels.map((label) => measuring?.measureText(label).width ?? 0));
}

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
   * @param {{ bucketMs: number, windowMs: number, combine: 'avg' | 'sum', series: SeriesSpec[], height?: number, redrawMs?: number, legend?: boolean, minSpan?: number }} options
   *   `minSpan`: the least range of the value axis, so that a steady 19.6 °C is not drawn as noise.
   */
  constructor(element, options) {
    this.element = element;
    this.options = options;
    /** @type {Map<string, Map<number, Bucket>>} */
    this.buckets = new Map(options.series.map((s) => [s.key, new Map()]));
    this.dirty = false;
    this.timer = 0;
    const height = options.height ?? 220;
    const width = () => Math.max(element.clientWidth, 200);
    this.plot = new uPlot(
      {
        width: width(),
        height,
        legend: { show: options.legend ?? true, live: false },
        cursor: { drag: { x: true, y: false } },
        // Always the whole window, however little of it has data yet.
        scales: {
          x: {
            time: true,
            range: () => [this.bucketOf(Date.now() - options.windowMs) / 1000, (this.bucketOf(Date.now()) + options.bucketMs) / 1000],
          },
          y: { range: (_u, min, max) => valueRange(min, max, options.minSpan ?? 0, options.combine === 'sum') },
        },
        axes: [
          // 24-hour clock times (uPlot's own are 12-hour with am/pm).
          { font: axisFont, values: (_u, splits) => splits.map((s) => hourAndMinute(s * 1000)) },
          // Rounded to the ticks' spacing, and as wide as its widest label: no digit is cut.
          {
            font: axisFont,
            values: (_u, splits) => tickLabels(splits),
            size: (_u, values) => Math.ceil(widestLabel(values ?? [])) + 18,
            // Counts go up in whole steps.
            ...(options.combine === 'sum'
              ? { incrs: [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1_000, 2_000, 2_500, 5_000, 10_000, 20_000, 50_000, 100_000] }
              : {}),
          },
        ],
        series: [
          { value: (_u, v) => (v === null ? '' : hourAndMinute(v * 1000)) },
          ...options.series.map((s) => ({
            label: s.label,
            stroke: s.stroke,
            width: 1.5,
            spanGaps: true,
            value: (/** @type {uPlot} */ _u, /** @type {number | null} */ v) => (v === null ? '—' : String(Math.round(v * 10) / 10)),
            // Points only while there are few, so that a lone bucket shows at all.
            ...(s.bars
              ? { fill: s.stroke, paths: uPlot.paths.bars?.({ size: [s.bars, 60] }), points: { show: false } }
              : { points: { show: (/** @type {uPlot} */ u) => u.data[0].length < 30 } }),
          })),
        ],
      },
      [[]],
      element,
    );
    this.resizing = new ResizeObserver(() => this.plot.setSize({ width: width(), height }));
    this.resizing.observe(element);
  }

  /** Removes the chart from the page and stops its timers. */
  destroy() {
    clearTimeout(this.timer);
    this.resizing.disconnect();
    this.plot.destroy();
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
    const value =
      this.options.combine === 'avg' ? (/** @type {Bucket} */ b) => (b.count ? b.sum / b.count : null) : (/** @type {Bucket} */ b) => b.sum;
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

/**
 * The value axis' range: the data's, padded by a tenth, at least `minSpan` (and more than nothing)
 * wide around its middle, from zero for counts (`fromZero`); [0, 1] with no data.
 * @returns {[number, number]}
 */
function valueRange(
  /** @type {number | null} */ min,
  /** @type {number | null} */ max,
  /** @type {number} */ minSpan,
  /** @type {boolean} */ fromZero,
) {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (fromZero) return [Math.min(0, min), Math.max(max * 1.1, min + Math.max(minSpan, 1))];
  const span = Math.max(minSpan, max - min, Math.abs(max) / 1000, 1e-6);
  const pad = (max - min) / 10;
  let low = min - pad;
  let high = max + pad;
  if (high - low < span) {
    const middle = (min + max) / 2;
    low = middle - span / 2;
    high = middle + span / 2;
  }
  if (min >= 0 && low < 0) [low, high] = [0, high - low];
  return [low, high];
}
