/**
 * Preloaded into a collector process by the fault tests (`node --import tsx --import <this>
 * collector/src/main.ts`): writes the collector's counters to `COLLECTOR_COUNTS_FILE`, one JSON
 * line each time one changes, with a synchronous write in the same turn as the change. A test that
 * kills the collector with SIGKILL so still knows every reading it counted as accepted (delivered
 * to the store and the bus), which an in-memory counter would take with it.
 *
 * It reads the `Collector`'s counters only: it wraps `start` to find the instance and turns each
 * field of its `counters` object (the one its poller, decoder and deliverer share and count in)
 * into an accessor that reports every change. Nothing the collector does changes.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { Collector } from '../../collector/src/collector.ts';

const file = process.env.COLLECTOR_COUNTS_FILE;
if (!file) throw new Error('collector-counts: set COLLECTOR_COUNTS_FILE');
const fd = openSync(file, 'a');
process.once('exit', () => closeSync(fd));

type Counters = Record<string, number>;
const watched = new WeakSet<object>();

/** One line: the collector's whole `stats` (its counters and its rejected answers). */
function report(collector: Collector): void {
  writeSync(fd, `${JSON.stringify(collector.stats)}\n`);
}

const start = Collector.prototype.start;
Collector.prototype.start = function (this: Collector, ...args: Parameters<Collector['start']>) {
  if (!watched.has(this)) {
    watched.add(this);
    const self = this as unknown as { counters: Counters };
    if (typeof self.counters?.readings !== 'number')
      throw new Error('collector-counts: the Collector no longer keeps its counters in `counters`');
    // In place: the collector's parts hold this very object.
    for (const [key, initial] of Object.entries(self.counters)) {
      let value = initial;
      Object.defineProperty(self.counters, key, {
        enumerable: true,
        get: () => value,
        set: (next: number) => {
          value = next;
          report(this);
        },
      });
    }
    report(this);
  }
  return start.apply(this, args);
};
