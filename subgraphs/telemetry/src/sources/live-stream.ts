import { ErrorCode, userError } from '#kit';
import type { LiveBus, Reading } from '#telemetry';

export interface ReadingFilter {
  sensorIds?: ReadonlySet<string>;
  gatewayId?: string;
  quantity?: string;
}

export function matches(filter: ReadingFilter, reading: Reading): boolean {
  return (
    (!filter.sensorIds || filter.sensorIds.has(reading.sensorId)) &&
    (!filter.gatewayId || filter.gatewayId === reading.gatewayId) &&
    (!filter.quantity || filter.quantity === reading.quantity)
  );
}

/**
 * The readings of the bus that match `filter`, as an async iterator for a GraphQL subscription.
 * Readings wait in a queue of at most `queueLimit`; a subscriber that falls further behind is
 * ended with a SLOW_CONSUMER error instead of growing the server's memory.
 */
export function liveReadings(bus: LiveBus, filter: ReadingFilter, queueLimit: number): AsyncIterableIterator<Reading> {
  const queue: Reading[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  let done = false;
  const unsubscribe = bus.subscribe((readings) => {
    if (done || failure) return;
    for (const reading of readings) if (matches(filter, reading)) queue.push(reading);
    if (queue.length > queueLimit) {
      failure = userError(ErrorCode.SLOW_CONSUMER, `More than ${queueLimit} readings waited for this subscriber; it was ended. Subscribe again with a narrower filter or read faster.`);
      queue.length = 0;
      unsubscribe();
    }
    wake?.();
  });
  const finish = () => {
    done = true;
    unsubscribe();
    wake?.();
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next(): Promise<IteratorResult<Reading>> {
      while (true) {
        const reading = queue.shift();
        if (reading) return { value: reading, done: false };
        if (failure) {
          const error = failure;
          finish();
          throw error;
        }
        if (done) return { value: undefined, done: true };
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    },
    async return(): Promise<IteratorResult<Reading>> {
      finish();
      return { value: undefined, done: true };
    },
  };
}
