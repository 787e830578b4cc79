// Where history ends and live readings begin, per sensor.

/** @typedef {import('./api.js').Reading} Reading */

/**
 * Keeps live readings away from a chart until its history is in, then lets through only those
 * newer than what the history covered (per sensor), so no reading counts twice.
 */
export class HistoryBoundary {
  constructor() {
    /** @type {Map<string, number> | null} */ this.until = null;
    /** @type {Reading[]} */ this.buffer = [];
  }
  /** @param {Reading} reading @param {(r: Reading) => void} apply */
  offer(reading, apply) {
    if (!this.until) this.buffer.push(reading);
    else if (Date.parse(reading.time) > (this.until.get(reading.sensor.id) ?? -Infinity)) apply(reading);
  }
  /** @param {Map<string, number>} until @param {(r: Reading) => void} apply */
  open(until, apply) {
    this.until = until;
    const buffered = this.buffer;
    this.buffer = [];
    for (const reading of buffered) this.offer(reading, apply);
  }
  /** Holds live readings again, until the next `open` (history is read again). */
  close() {
    this.until = null;
  }
}
