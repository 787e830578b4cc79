import { createServer, connect, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '#log';
import { RedisGatewayRegistry, type GatewayRecord } from '#registry';
import { LiveBusBacklogError, RedisLiveBus, type RedisLiveBusOptions, type Reading } from '#telemetry';
import { startRedis, type RedisService } from '../support/services/redis.ts';

// Real redis-server processes: one plain, one with an append-only file for the restart tests.
let redis: RedisService;
let durableRedis: RedisService;
let raw: Redis;
const disposals: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  [redis, durableRedis] = await Promise.all([startRedis(), startRedis({ appendonly: true })]);
  raw = new Redis(redis.url);
});

afterAll(async () => {
  for (const dispose of disposals.reverse()) await dispose().catch(() => {});
  raw?.disconnect();
  await Promise.all([redis?.stop(), durableRedis?.stop()]);
});

let streams = 0;
const nextStream = () => `test:readings:${++streams}`;

/** A bus closed after all tests; on a stream of its own unless told. */
function bus(options: Partial<RedisLiveBusOptions> = {}): RedisLiveBus {
  const created = new RedisLiveBus({ url: redis.url, logger: silentLogger, stream: nextStream(), blockMs: 200, ...options });
  disposals.push(() => created.close());
  return created;
}

/** A batch whose one reading carries `n` as its value. */
const batch = (n: number): Reading[] => [
  { sensorId: `gw-1/${n % 7}/0`, gatewayId: 'gw-1', tenant: 'pisek', quantity: 'CO2', time: 1_700_000_000_000 + n, value: n },
];

interface Received {
  values: number[];
  positions: string[];
}

function collect(target: RedisLiveBus): Received & { unsubscribe: () => void } {
  const received: Received = { values: [], positions: [] };
  const unsubscribe = target.subscribe((readings, position) => {
    for (const reading of readings) received.values.push(reading.value);
    received.positions.push(position);
  });
  return Object.assign(received, { unsubscribe });
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** True when stream ids strictly increase. */
function increasing(positions: readonly string[]): boolean {
  const key = (id: string) => id.split('-').map(BigInt) as [bigint, bigint];
  return positions.every((id, i) => {
    if (i === 0) return true;
    const [ms, seq] = key(id);
    const [prevMs, prevSeq] = key(positions[i - 1]!);
    return ms > prevMs || (ms === prevMs && seq > prevSeq);
  });
}

/** A pino logger whose lines end up in `lines`. */
function recordingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

/**
 * A TCP relay to Redis that can swallow Redis' replies and cut every connection: a reply lost
 * after Redis executed the command, the case where a client resends it.
 */
async function faultyRelay(port: number): Promise<{ url: string; dropReplies: boolean; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const relay = {
    url: '',
    dropReplies: false,
    cut: () => sockets.forEach((socket) => socket.destroy()),
    close: () => new Promise<void>((resolve) => (relay.cut(), server.close(() => resolve()))),
  };
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => (sockets.delete(socket), client.destroy(), upstream.destroy()));
      socket.on('error', () => {});
    }
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => relay.dropReplies || client.write(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.url = `redis://127.0.0.1:${(server.address() as { port: number }).port}`;
  disposals.push(() => relay.close());
  return relay;
}

describe('RedisLiveBus', () => {
  it('delivers batches in publish order with the stream entry ids as positions', async () => {
    const stream = nextStream();
    const live = bus({ stream });
    const received = collect(live);
    await live.listening();
    for (const n of range(0, 10)) await live.publish(batch(n));
    await Promise.all(range(10, 30).map((n) => live.publish(batch(n))));
    await until(() => received.values.length === 30, '30 batches');

    expect(received.values).toEqual(range(0, 30));
    const entries = await raw.xrange(stream, '-', '+');
    expect(received.positions).toEqual(entries.map(([id]) => id));
    expect(increasing(received.positions)).toBe(true);
    expect(entries[0]![1]).toEqual(['r', JSON.stringify(batch(0))]);
  });

  it('gives every batch exactly once to each of two instances sharing the stream', async () => {
    const stream = nextStream();
    const a = bus({ stream });
    const b = bus({ stream });
    const atA = collect(a);
    const atB = collect(b);
    await Promise.all([a.listening(), b.listening()]);
    await Promise.all([...range(0, 25).map((n) => a.publish(batch(n))), ...range(25, 50).map((n) => b.publish(batch(n)))]);
    await until(() => atA.positions.length >= 50 && atB.positions.length >= 50, '50 batches at both');
    await sleep(300); // room for a duplicate to show up

    expect(atA.positions).toHaveLength(50);
    expect(new Set(atA.positions).size).toBe(50);
    expect(atB.positions).toEqual(atA.positions);
    expect(atB.values).toEqual(atA.values);
    expect([...atA.values].sort((x, y) => x - y)).toEqual(range(0, 50));
    // Each publisher's batches keep their order.
    expect(atA.values.filter((n) => n < 25)).toEqual(range(0, 25));
    expect(atA.values.filter((n) => n >= 25)).toEqual(range(25, 50));
  });

  it('stops delivering to an unsubscribed listener, stops reading with none left, and restarts at the end of the stream', async () => {
    // Database 3 is this bus's alone, so its reader connection is the only one there.
    const live = bus({ url: `${redis.url}/3` });
    const readerBlocked = async () =>
      String(await raw.client('LIST'))
        .split('\n')
        .some((line) => line.includes(' db=3 ') && line.includes('name=iot-live-bus-reader') && / flags=\S*b/.test(line));
    const first = collect(live);
    const second = collect(live);
    await live.listening();
    await live.publish(batch(1));
    await until(() => first.values.length === 1 && second.values.length === 1, 'batch 1 at both');
    expect(await readerBlocked()).toBe(true);

    first.unsubscribe();
    await live.publish(batch(2));
    await until(() => second.values.length === 2, 'batch 2');
    second.unsubscribe();
    await sleep(600); // > blockMs: the loop notices it has no listener left
    expect(await readerBlocked()).toBe(false);

    await live.publish(batch(3)); // published while nobody listens: not delivered later
    const third = collect(live);
    await live.listening();
    await live.publish(batch(4));
    await until(() => third.values.length === 1, 'batch 4');
    await sleep(300);

    expect(first.values).toEqual([1]);
    expect(second.values).toEqual([1, 2]);
    expect(third.values).toEqual([4]);
  });

  it('trims the stream to about maxLen entries', async () => {
    const stream = nextStream();
    const live = bus({ stream, maxLen: 50 });
    for (const n of range(0, 500)) await live.publish(batch(n));
    const length = await raw.xlen(stream);
    // Approximate trimming removes whole stream nodes (at most 100 entries each), never below maxLen.
    expect(length).toBeGreaterThanOrEqual(50);
    expect(length).toBeLessThanOrEqual(150);
    expect((await live.readRange('0-0', 1_000)).at(-1)?.readings[0]?.value).toBe(499);
  });

  it('trims entries older than retentionMs', async () => {
    const stream = nextStream();
    const live = bus({ stream, retentionMs: 500 });
    for (const n of range(0, 300)) await live.publish(batch(n));
    const before = await raw.xlen(stream);
    await sleep(700);
    await live.publish(batch(300));
    const after = await raw.xlen(stream);

    expect(before).toBe(300);
    expect(after).toBeLessThanOrEqual(101); // the node holding the new entry may keep some old ones
    expect((await live.readRange('0-0', 1_000)).at(-1)?.readings[0]?.value).toBe(300);
  });

  it('reads back exactly the batches after a position, and the oldest position', async () => {
    const stream = nextStream();
    const live = bus({ stream });
    expect(await live.oldestPosition()).toBeUndefined();
    expect(await live.readRange('0-0', 10)).toEqual([]);
    for (const n of range(0, 10)) await live.publish(batch(n));
    const positions = (await raw.xrange(stream, '-', '+')).map(([id]) => id);

    expect(await live.oldestPosition()).toBe(positions[0]);
    const after3 = await live.readRange(positions[3]!, 100);
    expect(after3.map((entry) => entry.position)).toEqual(positions.slice(4));
    expect(after3.map((entry) => entry.readings)).toEqual(range(4, 10).map(batch));
    expect((await live.readRange(positions[3]!, 2)).map((entry) => entry.readings[0]?.value)).toEqual([4, 5]);
    expect(await live.readRange(positions[9]!, 10)).toEqual([]);
  });

  it('logs and skips malformed entries, then delivers the next batches', async () => {
    const { logger, lines } = recordingLogger();
    const stream = nextStream();
    const live = bus({ stream, logger });
    const received = collect(live);
    await live.listening();
    await live.publish(batch(1));
    const [[start]] = (await raw.xrange(stream, '-', '+')) as [[string, string[]]];
    await raw.xadd(stream, '*', 'r', 'not json');
    await raw.xadd(stream, '*', 'r', '{"sensorId":"a"}');
    await raw.xadd(stream, '*', 'other', 'field');
    await raw.xadd(stream, '*', 'r', JSON.stringify([{ ...batch(0)[0], value: 'high' }]));
    await raw.xadd(stream, '*', 'r', JSON.stringify([{ ...batch(0)[0], quantity: 'LOUDNESS' }]));
    await live.publish(batch(2));
    await live.publish(batch(3));
    await until(() => received.values.length === 3, 'batches 1 to 3');

    expect(received.values).toEqual([1, 2, 3]);
    const reasons = lines.filter((line) => line.msg === 'live bus skipped a malformed stream entry').map((line) => line.reason);
    expect(reasons).toEqual([
      'field r is not JSON',
      'field r is not a JSON array',
      'no field r',
      'reading 0: value is not a finite number',
      'reading 0: unknown quantity "LOUDNESS"',
    ]);
    // Paging passes over malformed entries too.
    expect((await live.readRange(start, 2)).map((entry) => entry.readings[0]?.value)).toEqual([2, 3]);
  });

  it('loses and repeats no batch while Redis restarts under a continuous publisher', async () => {
    const total = 400;
    const options = { url: durableRedis.url, logger: silentLogger, stream: 'test:restart', blockMs: 200 };
    const subscriber = new RedisLiveBus(options);
    const publisher = new RedisLiveBus(options);
    disposals.push(
      () => subscriber.close(),
      () => publisher.close(),
    );
    const received = collect(subscriber);
    await subscriber.listening();

    let published = 0;
    let publishedWhileDown = 0;
    let down = false;
    const publishes: Array<Promise<unknown>> = [];
    const publishing = (async () => {
      while (published < total) {
        publishes.push(publisher.publish(batch(published++)));
        if (down) publishedWhileDown++;
        await sleep(2);
      }
    })();

    await until(() => received.values.length >= 100, '100 batches before the restart');
    await durableRedis.restart({
      whileStopped: async () => {
        down = true;
        await sleep(400);
        down = false;
      },
    });
    await publishing;
    await Promise.all(publishes);
    await until(() => received.values.length >= total, `${total} batches`, 20_000);
    await sleep(400); // room for a duplicate to show up

    expect(publishedWhileDown).toBeGreaterThan(10);
    expect(received.values).toEqual(range(0, total));
    expect(increasing(received.positions)).toBe(true);
    const check = new Redis(durableRedis.url);
    expect(await check.xlen('test:restart')).toBe(total);
    check.disconnect();
  });

  it('appends a batch once when its reply was lost and ioredis resent it', async () => {
    const stream = nextStream();
    const relay = await faultyRelay(redis.port);
    const publisher = bus({ stream, url: relay.url });
    await publisher.publish(batch(0));

    relay.dropReplies = true;
    const publishing = publisher.publish(batch(1));
    await until(async () => (await raw.xlen(stream)) === 2, 'Redis to append batch 1');
    relay.cut();
    relay.dropReplies = false;
    await publishing;
    await publisher.publish(batch(2));

    expect((await publisher.readRange('0-0', 10)).map((entry) => entry.readings[0]?.value)).toEqual([0, 1, 2]);
  });

  it('holds publishes made while Redis is down until it is back, and refuses them past maxPendingBytes', async () => {
    // Room for a few one-reading batches (each counts its JSON plus 1 KiB), not for eight.
    const publisher = new RedisLiveBus({ url: durableRedis.url, logger: silentLogger, stream: 'test:down', maxPendingBytes: 6_000 });
    disposals.push(() => publisher.close());
    await publisher.publish(batch(0));

    const outcomes: Array<Promise<unknown>> = [];
    let resolved = 0;
    let resolvedWhileDown = -1;
    await durableRedis.restart({
      whileStopped: async () => {
        for (const n of range(1, 9)) {
          outcomes.push(
            publisher.publish(batch(n)).then(
              () => (resolved++, 'sent'),
              (error: unknown) => error,
            ),
          );
        }
        await sleep(500);
        resolvedWhileDown = resolved;
      },
    });
    const results = await Promise.all(outcomes);
    const sent = results.filter((result) => result === 'sent').length;

    expect(resolvedWhileDown).toBe(0); // still waiting when Redis came back
    expect(sent).toBeGreaterThanOrEqual(2);
    expect(sent).toBeLessThan(8);
    expect(results.slice(0, sent)).toEqual(Array(sent).fill('sent'));
    for (const refusal of results.slice(sent)) {
      expect(refusal).toBeInstanceOf(LiveBusBacklogError);
      expect(refusal).toMatchObject({ code: 'LIVE_BUS_BACKLOG_FULL', message: expect.stringContaining('maxPendingBytes (6000)') });
    }
    expect((await publisher.readRange('0-0', 100)).map((entry) => entry.readings[0]?.value)).toEqual(range(0, sent + 1));
  });
});

describe('RedisGatewayRegistry', () => {
  const gateway = (id: string, name = `Gateway ${id}`): GatewayRecord => ({
    id,
    name,
    tenant: 'pisek',
    arch: 'ARM',
    status: 'ONLINE',
    location: { lat: 49.309, lon: 14.147, address: 'Kollarova x Zizkova' },
    registeredAt: '2016-04-25T10:00:00.000Z',
    nodes: { 1: { name: 'CO2 room 301', room: '301' } },
  });
  const registry = (key: string, url = redis.url) => {
    const created = new RedisGatewayRegistry({ url, logger: silentLogger, key });
    disposals.push(() => created.close());
    return created;
  };

  it('adds, reads, updates, lists and removes gateways', async () => {
    const gateways = registry('test:gateways:crud');
    expect(await gateways.add(gateway('gw-1'))).toBe(true);
    expect(await gateways.add(gateway('gw-2'))).toBe(true);
    expect(await gateways.add(gateway('gw-1', 'Someone else'))).toBe(false);

    expect(await gateways.getMany(['gw-2', 'nope', 'gw-1'])).toEqual([gateway('gw-2'), undefined, gateway('gw-1')]);
    expect(await gateways.getMany([])).toEqual([]);
    const updated = await gateways.update('gw-1', (record) => ({ ...record, status: 'OFFLINE' }));
    expect(updated).toEqual({ ...gateway('gw-1'), status: 'OFFLINE' });
    expect(await gateways.update('nope', (record) => record)).toBeUndefined();
    expect((await gateways.list()).sort((x, y) => x.id.localeCompare(y.id))).toEqual([
      { ...gateway('gw-1'), status: 'OFFLINE' },
      gateway('gw-2'),
    ]);

    expect(await gateways.remove('gw-2')).toBe(true);
    expect(await gateways.remove('gw-2')).toBe(false);
    expect(await gateways.list()).toEqual([{ ...gateway('gw-1'), status: 'OFFLINE' }]);
  });

  it('keeps its gateways for the next registry instance', async () => {
    const before = new RedisGatewayRegistry({ url: redis.url, logger: silentLogger, key: 'test:gateways:restart' });
    await before.add(gateway('gw-7'));
    await before.close();
    const after = registry('test:gateways:restart');
    expect(await after.list()).toEqual([gateway('gw-7')]);
    expect(await after.add(gateway('gw-7'))).toBe(false);
  });

  it('loses no update when two instances update the same gateway at once', async () => {
    const a = registry('test:gateways:concurrent');
    const b = registry('test:gateways:concurrent');
    await a.add({ ...gateway('gw-1'), nodes: {} });
    const addNode = (address: number) => (record: GatewayRecord) => ({
      ...record,
      nodes: { ...record.nodes, [address]: { name: `node ${address}` } },
    });
    await Promise.all(range(1, 41).map((address) => (address % 2 ? a : b).update('gw-1', addNode(address))));
    const [stored] = await b.getMany(['gw-1']);
    expect(
      Object.keys(stored!.nodes)
        .map(Number)
        .sort((x, y) => x - y),
    ).toEqual(range(1, 41));
  });

  it('keeps last known meshes for every instance, and forgets them with their gateway', async () => {
    const a = registry('test:gateways:meshes');
    const b = registry('test:gateways:meshes');
    await a.add(gateway('gw-1'));
    const snapshot = (observedAt: string) =>
      ({
        incarnation: 'pisek|2016-04-25T10:00:00.000Z',
        topology: [
          { address: 0, parent: null },
          { address: 1, parent: 0 },
        ],
        bonded: [1],
        sensors: { 1: [{ type: 2, name: 'CO2', unit: 'ppm' }] },
        observedAt,
      }) as never;
    await a.saveMesh('gw-1', snapshot('2026-12-07T10:05:00.000Z'));
    // An older observation (a fetch that ended late) does not replace a newer one.
    await b.saveMesh('gw-1', snapshot('2026-12-07T10:00:00.000Z'));
    expect(await b.lastKnownMeshes(['gw-1', 'nope'])).toEqual([snapshot('2026-12-07T10:05:00.000Z'), undefined]);
    expect(await b.remove('gw-1')).toBe(true);
    expect(await a.lastKnownMeshes(['gw-1'])).toEqual([undefined]);
    // A fetch that ends after the gateway was removed keeps nothing.
    await a.saveMesh('gw-1', snapshot('2026-12-07T10:10:00.000Z'));
    expect(await a.lastKnownMeshes(['gw-1'])).toEqual([undefined]);
  });

  it('answers again after Redis restarts, with its data', async () => {
    const gateways = registry('test:gateways:durable', durableRedis.url);
    await gateways.add(gateway('gw-9'));
    await durableRedis.restart();
    expect(await gateways.getMany(['gw-9'])).toEqual([gateway('gw-9')]);
  });
});
