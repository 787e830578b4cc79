import { Repeater, type Push, type Stop } from '@repeaterjs/repeater';
import { GraphQLError } from 'graphql';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryLiveBus, MemoryTimeSeriesStore, type Reading, type SeriesQuery } from '#telemetry';
import { SubscriptionFanout } from '../../router/src/plugins/subscriptionFanout.ts';
import { EventQueue } from '../../subgraphs/devices/src/sources/event-queue.ts';
import { BucketStream } from '../../subgraphs/telemetry/src/sources/bucket-stream.ts';
import { flatten, LiveBatches, type LiveReading } from '../../subgraphs/telemetry/src/sources/live-stream.ts';

// The subscription streams on one async-queue primitive (@repeaterjs/repeater): what each must
// keep doing when the consumer returns while it waits, when it overflows, and when it fails.
// No services: in-memory bus and store.

const done = { value: undefined, done: true };
/** Lets pending promise reactions run (a Repeater's cleanup runs a few microtasks after stop). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('EventQueue', () => {
  it('gives the events pushed before the first next(), in order, and ends after them', async () => {
    const onReturn = vi.fn();
    const queue = new EventQueue<number>(onReturn);
    queue.push(1);
    queue.push(2);
    queue.end();
    queue.push(3);
    expect(await queue.next()).toEqual({ value: 1, done: false });
    expect(await queue.next()).toEqual({ value: 2, done: false });
    expect(await queue.next()).toEqual(done);
    expect(onReturn).toHaveBeenCalledTimes(1);
  });

  it('returned while a next() waits: that next() ends and onReturn runs once', async () => {
    const onReturn = vi.fn();
    const queue = new EventQueue<number>(onReturn);
    queue.push(1);
    expect((await queue.next()).value).toBe(1);
    const waiting = queue.next();
    await queue.return();
    await expect(waiting).resolves.toEqual(done);
    expect(onReturn).toHaveBeenCalledTimes(1);
    queue.push(2);
    expect(await queue.next()).toEqual(done);
    await queue.return();
    expect(onReturn).toHaveBeenCalledTimes(1);
  });

  it('returned before it was read: onReturn runs', async () => {
    const onReturn = vi.fn();
    const queue = new EventQueue<number>(onReturn);
    queue.push(1);
    await queue.return();
    expect(onReturn).toHaveBeenCalledTimes(1);
    expect(await queue.next()).toEqual(done);
  });
});

const reading = (sensorId: string, value: number): Reading => ({
  sensorId,
  gatewayId: sensorId.split('.')[0]!,
  tenant: 't',
  quantity: 'CO2',
  time: Date.now(),
  value,
});

/** A memory bus that counts its listeners. */
function countingBus(): { bus: MemoryLiveBus; listening: () => number } {
  const bus = new MemoryLiveBus();
  let listening = 0;
  const subscribe = bus.subscribe.bind(bus);
  bus.subscribe = (listener) => {
    listening++;
    const unsubscribe = subscribe(listener);
    let once = true;
    return () => {
      if (once) listening--;
      once = false;
      unsubscribe();
    };
  };
  return { bus, listening: () => listening };
}

const values = (result: IteratorResult<unknown>) => (result.value as LiveReading[]).map((r) => r.reading.value);

describe('LiveBatches', () => {
  it('listens from construction: batches published before the first next() are given', async () => {
    const { bus } = countingBus();
    const stream = new LiveBatches(bus, { gatewayId: 'gw' }, 100);
    await bus.publish([reading('gw.1.0', 1)]);
    await bus.publish([reading('other.1.0', 9)]);
    await bus.publish([reading('gw.1.0', 2), reading('gw.1.1', 3)]);
    expect(values(await stream.next())).toEqual([1]);
    expect(values(await stream.next())).toEqual([2, 3]);
    await stream.return();
  });

  it('returned while a next() waits: that next() ends and the bus listener is gone', async () => {
    const { bus, listening } = countingBus();
    const stream = new LiveBatches(bus, { gatewayId: 'gw' }, 100);
    expect(listening()).toBe(1);
    const waiting = stream.next();
    await settle();
    await stream.return();
    await expect(waiting).resolves.toEqual(done);
    expect(listening()).toBe(0);
    await bus.publish([reading('gw.1.0', 1)]);
    expect(await stream.next()).toEqual(done);
  });

  it('returned before it was read: the bus listener is gone', async () => {
    const { bus, listening } = countingBus();
    const stream = new LiveBatches(bus, { gatewayId: 'gw' }, 100);
    await bus.publish([reading('gw.1.0', 1)]);
    await stream.return();
    expect(listening()).toBe(0);
    expect(await stream.next()).toEqual(done);
  });

  it('on overflow: drops what waits, gives SLOW_CONSUMER with the last cursor given, then ends and stops listening', async () => {
    const { bus, listening } = countingBus();
    const stream = new LiveBatches(bus, { gatewayId: 'gw' }, 3);
    await bus.publish([reading('gw.1.0', 1)]);
    expect(values(await stream.next())).toEqual([1]);
    await bus.publish([reading('gw.1.0', 2), reading('gw.1.1', 3)]);
    await bus.publish([reading('gw.1.0', 4), reading('gw.1.1', 5)]);
    await settle();
    expect(listening()).toBe(0);
    const failure = await stream.next();
    expect(failure.value).toBeInstanceOf(GraphQLError);
    expect(failure.value).toMatchObject({ extensions: { code: 'SLOW_CONSUMER', resumeAfter: '1:0' } });
    expect(await stream.next()).toEqual(done);
  });

  it('a batch larger than the limit while a next() waits: that next() gives SLOW_CONSUMER', async () => {
    const { bus, listening } = countingBus();
    const stream = new LiveBatches(bus, { gatewayId: 'gw' }, 1);
    const waiting = stream.next();
    await settle();
    await bus.publish([reading('gw.1.0', 1), reading('gw.1.1', 2)]);
    expect((await waiting).value).toMatchObject({ extensions: { code: 'SLOW_CONSUMER', resumeAfter: null } });
    expect(await stream.next()).toEqual(done);
    await settle();
    expect(listening()).toBe(0);
  });

  it('an expired cursor rejects prepare() and stops listening', async () => {
    const { bus, listening } = countingBus();
    await expect(new LiveBatches(bus, { gatewayId: 'gw' }, 100, { position: '1', index: 0 }).prepare()).rejects.toMatchObject({
      extensions: { code: 'CURSOR_EXPIRED' },
    });
    expect(listening()).toBe(0);
  });
});

describe('flatten', () => {
  it('gives the first items, then each reading of each batch; errors of the batches pass as items', async () => {
    const { bus } = countingBus();
    const live = new LiveBatches(bus, { gatewayId: 'gw' }, 100);
    const stream = flatten(live, ['history']);
    await bus.publish([reading('gw.1.0', 1), reading('gw.1.1', 2)]);
    expect((await stream.next()).value).toBe('history');
    expect(((await stream.next()).value as LiveReading).reading.value).toBe(1);
    expect(((await stream.next()).value as LiveReading).reading.value).toBe(2);
    await stream.return!();

    const failure = new GraphQLError('slow');
    const batches = new Repeater<number[] | GraphQLError>((push, stop) => {
      void push([1]);
      void push(failure);
      stop();
    });
    const items = [];
    for await (const item of flatten(batches)) items.push(item);
    expect(items).toEqual([1, failure]);
  });

  it('returned while a next() waits or before the first: the source is returned (the bus listener is gone)', async () => {
    const { bus, listening } = countingBus();
    const waitingOne = flatten(new LiveBatches(bus, { gatewayId: 'gw' }, 100));
    const waiting = waitingOne.next();
    await settle();
    const neverRead = flatten(new LiveBatches(bus, { gatewayId: 'gw' }, 100));
    expect(listening()).toBe(2);
    await waitingOne.return!();
    await expect(waiting).resolves.toEqual(done);
    await neverRead.return!();
    expect(listening()).toBe(0);
  });

  it("gives a source's error after the items before it, then ends", async () => {
    const error = new Error('store down');
    let returned = false;
    const source = new Repeater<number[]>(async (push, stop) => {
      await push([1, 2]);
      stop(error);
      await stop;
      returned = true;
    });
    const stream = flatten(source);
    expect((await stream.next()).value).toBe(1);
    expect((await stream.next()).value).toBe(2);
    await expect(stream.next()).rejects.toBe(error);
    expect(await stream.next()).toEqual(done);
    expect(returned).toBe(true);
  });
});

describe('BucketStream', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const options = (store: MemoryTimeSeriesStore) => ({
    store,
    series: [{ sensorId: 'gw.1.0', tenant: 't' }],
    everySeconds: 60,
    aggregate: 'AVG' as const,
  });

  it('gives a store error to the next() that waits for it, then ends', async () => {
    const store = new MemoryTimeSeriesStore();
    const error = new Error('Graphite down');
    vi.spyOn(store, 'query').mockRejectedValue(error);
    const stream = new BucketStream({ ...options(store), from: Date.now() - 3_600_000 });
    await expect(stream.next()).rejects.toBe(error);
    expect(await stream.next()).toEqual(done);
  });

  it('returned while a next() waits for the store: that next() ends at once', async () => {
    const store = new MemoryTimeSeriesStore();
    let answer: (points: never[][]) => void = () => undefined;
    const asked = vi.spyOn(store, 'query').mockImplementation((_: SeriesQuery) => new Promise((resolve) => (answer = resolve)));
    const stream = new BucketStream({ ...options(store), from: Date.now() - 3_600_000 });
    const waiting = stream.next();
    await settle();
    expect(asked).toHaveBeenCalledTimes(1);
    await stream.return();
    await expect(waiting).resolves.toEqual(done);
    answer([[]]);
    expect(await stream.next()).toEqual(done);
  });

  it('returned while a next() waits for a bucket to close: that next() ends and no timer is left', async () => {
    vi.useFakeTimers({ now: Date.UTC(2030, 0, 1, 0, 0, 30) });
    const store = new MemoryTimeSeriesStore();
    const stream = new BucketStream({ ...options(store), from: Date.now() });
    const waiting = stream.next();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(vi.getTimerCount()).toBe(1);
    await stream.return();
    await expect(waiting).resolves.toEqual(done);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('reads nothing until it is asked, and the next bucket only once the last was taken', async () => {
    vi.useFakeTimers({ now: Date.UTC(2030, 0, 1, 0, 0, 30) });
    const store = new MemoryTimeSeriesStore();
    await store.write([{ ...reading('gw.1.0', 1), time: Date.now() - 120_000 }]);
    const query = vi.spyOn(store, 'query');
    const stream = new BucketStream({ ...options(store), from: Date.now() - 180_000, settleMs: 0 });
    await vi.advanceTimersByTimeAsync(0);
    expect(query).not.toHaveBeenCalled();
    expect((await stream.next()).value).toMatchObject([{ sensorId: 'gw.1.0', value: 1 }]);
    // Two more buckets close while the consumer holds the first: none is read before it asks.
    await vi.advanceTimersByTimeAsync(120_000);
    expect(query).toHaveBeenCalledTimes(1);
    await stream.return();
  });
});

/** An upstream execution the test drives: events pushed, then ended or failed. */
function upstream(): {
  start: () => Repeater<unknown>;
  push: () => Push<unknown>;
  stop: () => Stop;
  returned: () => boolean;
  started: () => number;
} {
  let push: Push<unknown> | undefined;
  let stop: Stop | undefined;
  let returned = false;
  let started = 0;
  return {
    start: () => {
      started++;
      return new Repeater<unknown>(async (p, s) => {
        push = p;
        stop = s;
        await s;
        returned = true;
      });
    },
    push: () => push!,
    stop: () => stop!,
    returned: () => returned,
    started: () => started,
  };
}

describe('SubscriptionFanout', () => {
  it('a subscriber returned while its next() waits leaves; the last one returns the upstream execution', async () => {
    const fanout = new SubscriptionFanout();
    const up = upstream();
    const got: string[] = [];
    const a = fanout.join('k', up.start, { next: (payload) => got.push(`a ${payload.toString()}`) });
    const b = fanout.join('k', up.start, { next: (payload) => got.push(`b ${payload.toString()}`) });
    const aWaits = a.next();
    const bWaits = b.next();
    await settle();
    expect(fanout.stats()).toMatchObject({ upstreams: 1, subscribers: 2 });
    await up.push()({ data: { n: 1 } });
    await settle();
    expect(got).toEqual(['a {"data":{"n":1}}', 'b {"data":{"n":1}}']);
    await a.return();
    await expect(aWaits).resolves.toEqual(done);
    expect(fanout.stats()).toMatchObject({ upstreams: 1, subscribers: 1 });
    expect(up.returned()).toBe(false);
    await b.return();
    await expect(bWaits).resolves.toEqual(done);
    await settle();
    expect(fanout.stats()).toMatchObject({ upstreams: 0, subscribers: 0 });
    expect(up.returned()).toBe(true);
    expect(up.started()).toBe(1);
  });

  it("gives the upstream's error to every subscriber after the events before it, then ends them", async () => {
    const fanout = new SubscriptionFanout();
    const up = upstream();
    const got: string[] = [];
    const subscriber = fanout.join('k', up.start, { next: (payload) => got.push(payload.toString()) });
    const waiting = subscriber.next();
    await settle();
    await up.push()({ data: { n: 1 } });
    const error = new Error('subgraph gone');
    up.stop()(error);
    await expect(waiting).rejects.toBe(error);
    expect(got).toEqual(['{"data":{"n":1}}']);
    expect(await subscriber.next()).toEqual(done);
    expect(fanout.stats()).toMatchObject({ upstreams: 0, subscribers: 0 });
  });

  it('a subscriber returned before its first next() never joins, and starts nothing', async () => {
    const fanout = new SubscriptionFanout();
    const up = upstream();
    const subscriber = fanout.join('k', up.start, { next: () => undefined });
    await subscriber.return();
    await settle();
    expect(up.started()).toBe(0);
    expect(fanout.stats()).toMatchObject({ upstreams: 0, subscribers: 0 });
    expect(await subscriber.next()).toEqual(done);
  });

  it('close() completes every subscriber and returns the upstream execution', async () => {
    const fanout = new SubscriptionFanout();
    const up = upstream();
    const subscriber = fanout.join('k', up.start, { next: () => undefined });
    const waiting = subscriber.next();
    await settle();
    await fanout.close();
    await expect(waiting).resolves.toEqual(done);
    expect(up.returned()).toBe(true);
    expect(fanout.stats()).toMatchObject({ upstreams: 0, subscribers: 0 });
  });
});
