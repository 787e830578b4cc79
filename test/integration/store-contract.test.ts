import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '#log';
import {
  Aggregate,
  GraphiteTimeSeriesStore,
  MemoryTimeSeriesStore,
  type Point,
  type Reading,
  type SeriesKey,
  type TimeSeriesStore,
} from '#telemetry';
import {
  GRAPHITE_RESOLUTION_SECONDS,
  GRAPHITE_RETENTION_SECONDS,
  startGraphite,
  type GraphiteService,
} from '../support/services/graphite.ts';

/**
 * Both `TimeSeriesStore`s must answer the same history. The memory store gets Graphite's first
 * retention archive (`1s:6h`); readings lie ten minutes in the past, minute-aligned, so every slot
 * and bucket is well inside that archive and nothing depends on the wall clock within a minute.
 */
const TENANT = 'contract';
const base = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;
const at = (seconds: number) => base + seconds * 1000;
const reading = (sensorId: string, time: number, value: number, tenant = TENANT): Reading => ({
  sensorId,
  gatewayId: sensorId.split('.')[0]!,
  tenant,
  quantity: 'CO2',
  time,
  value,
});
/** The series of these sensors under `tenant`: a store reads exactly those. */
const keys = (sensorIds: readonly string[], tenant = TENANT): SeriesKey[] => sensorIds.map((sensorId) => ({ sensorId, tenant }));
const point = (seconds: number, value: number): Point => ({ time: at(seconds), value });

let graphite: GraphiteService | undefined;
const graphiteStores: GraphiteTimeSeriesStore[] = [];
function graphiteStore(options: Partial<ConstructorParameters<typeof GraphiteTimeSeriesStore>[0]> = {}): GraphiteTimeSeriesStore {
  if (!graphite) throw new Error('graphite did not start');
  const store = new GraphiteTimeSeriesStore({
    graphiteUrl: graphite.graphiteUrl,
    carbonUrl: graphite.carbonUrl,
    logger: silentLogger,
    flushIntervalMs: 20,
    ...options,
  });
  graphiteStores.push(store);
  return store;
}

beforeAll(async () => {
  graphite = await startGraphite();
}, 60_000);

afterAll(async () => {
  await Promise.all(graphiteStores.map((store) => store.close()));
  await graphite?.stop();
});

/** Waits until the store shows, for each sensor, its newest slot with the value written last into it. */
async function visible(store: TimeSeriesStore, readings: readonly Reading[]): Promise<void> {
  const newest = new Map<string, { key: SeriesKey; point: Point }>();
  for (const { sensorId, tenant, time, value } of readings) {
    const slot = Math.floor(time / 1000) * 1000;
    const name = `${tenant}/${sensorId}`;
    if (slot >= (newest.get(name)?.point.time ?? -Infinity)) newest.set(name, { key: { sensorId, tenant }, point: { time: slot, value } });
  }
  const series = [...newest.values()];
  await expect
    .poll(() => store.latest(series.map(({ key }) => key)), { timeout: 20_000, interval: 100 })
    .toEqual(series.map(({ point }) => point));
}

async function writeVisible(store: TimeSeriesStore, readings: readonly Reading[]): Promise<void> {
  await store.write(readings);
  await visible(store, readings);
}

describe.each([
  [
    'memory',
    () => new MemoryTimeSeriesStore({ resolutionSeconds: GRAPHITE_RESOLUTION_SECONDS, retentionSeconds: GRAPHITE_RETENTION_SECONDS }),
  ],
  ['graphite', () => graphiteStore()],
] as Array<[string, () => TimeSeriesStore]>)('TimeSeriesStore contract: %s', (_name, create) => {
  let store: TimeSeriesStore;
  beforeAll(() => {
    store = create();
  });
  afterAll(() => store.close());

  it('returns raw points in time order, one series per id in key order, empty for unknown ids', async () => {
    const a = 'gw-raw.1.0';
    const b = 'gw-raw.2.0';
    await writeVisible(store, [
      reading(a, at(5), 5),
      reading(a, at(0), 0.1),
      reading(b, at(3), -3),
      reading(a, at(2.5), 2.5),
      reading(a, at(1), 1e21),
    ]);
    const series = await store.query({ series: keys([b, 'gw-raw.9.0', a, 'not-a-sensor-id', b]), from: at(0), until: at(10) });
    expect(series).toEqual([[point(3, -3)], [], [point(0, 0.1), point(1, 1e21), point(2, 2.5), point(5, 5)], [], [point(3, -3)]]);
  });

  it('keeps one point per slot, the one written last', async () => {
    const id = 'gw-slot.1.0';
    await writeVisible(store, [reading(id, at(1.9), 1), reading(id, at(1.1), 2), reading(id, at(2), 20)]);
    // Overwrite a slot that is already stored (for Graphite, possibly already in the whisper file).
    await store.write([reading(id, at(1.5), 3)]);
    await expect
      .poll(() => store.query({ series: keys([id]), from: at(0), until: at(10) }), { timeout: 20_000 })
      .toEqual([[point(1, 3), point(2, 20)]]);
  });

  it('includes both bounds, as slot starts within [from, until]', async () => {
    const id = 'gw-bounds.1.0';
    await writeVisible(
      store,
      Array.from({ length: 10 }, (_, s) => reading(id, at(s), s)),
    );
    const values = async (from: number, until: number) => (await store.query({ series: keys([id]), from, until }))[0]!.map((p) => p.value);
    expect(await values(at(2), at(5))).toEqual([2, 3, 4, 5]);
    expect(await values(at(2) + 1, at(5) - 1)).toEqual([3, 4]);
    expect(await values(at(2) - 1, at(5) + 999)).toEqual([2, 3, 4, 5]);
    expect(await values(at(4), at(4))).toEqual([4]);
    expect(await values(at(4) + 1, at(4) + 999)).toEqual([]);
    expect(await values(at(6), at(3))).toEqual([]);
    expect(await values(at(-60), at(60))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('summarizes into epoch-aligned buckets with every aggregate, leaving empty buckets out', async () => {
    const id = 'gw-sum.1.0';
    const input: Array<[number, number]> = [
      [0, 4],
      [3, 1],
      [7, 7],
      [12, 2.5],
      [31, 10],
      [35, -3],
    ];
    await writeVisible(
      store,
      input.map(([s, v]) => reading(id, at(s), v)),
    );
    const buckets = async (aggregate: Aggregate | undefined, from = at(0)) =>
      await store.query({ series: keys([id, 'gw-sum.9.9']), from, until: at(59), everySeconds: 10, aggregate });
    const expected: Record<Aggregate, [number, number, number]> = {
      AVG: [4, 2.5, 3.5],
      MIN: [1, 2.5, -3],
      MAX: [7, 2.5, 10],
      SUM: [12, 2.5, 7],
      COUNT: [3, 1, 2],
      LAST: [7, 2.5, -3],
    };
    for (const aggregate of Object.values(Aggregate)) {
      const [first, second, third] = expected[aggregate];
      expect(await buckets(aggregate), aggregate).toEqual([[point(0, first), point(10, second), point(30, third)], []]);
    }
    expect(await buckets(undefined)).toEqual(await buckets(Aggregate.AVG));
    // A range that starts inside a bucket: the bucket keeps its epoch-aligned start, with the points in range.
    expect((await buckets(Aggregate.SUM, at(3) - 500))[0]).toEqual([point(0, 8), point(10, 2.5), point(30, 7)]);
    expect(
      (await store.query({ series: keys([id]), from: at(0), until: at(59), everySeconds: 60, aggregate: Aggregate.COUNT }))[0],
    ).toEqual([point(0, 6)]);
  });

  it("reads each tenant's series of one sensor id apart: a gateway id registered again by another tenant starts empty", async () => {
    const id = 'gw-epoch.1.0';
    await writeVisible(store, [
      reading(id, at(1), 1, 'first-owner'),
      reading(id, at(2), 2, 'first-owner'),
      reading(id, at(3), 30, 'second-owner'),
    ]);
    expect(
      await store.query({
        series: [
          { sensorId: id, tenant: 'second-owner' },
          { sensorId: id, tenant: 'first-owner' },
          { sensorId: id, tenant: 'third-owner' },
        ],
        from: at(0),
        until: at(10),
      }),
    ).toEqual([[point(3, 30)], [point(1, 1), point(2, 2)], []]);
    const summarized = await store.query({
      series: keys([id], 'first-owner'),
      from: at(0),
      until: at(59),
      everySeconds: 60,
      aggregate: Aggregate.SUM,
    });
    expect(summarized).toEqual([[point(0, 3)]]);
    expect(
      await store.latest([
        { sensorId: id, tenant: 'first-owner' },
        { sensorId: id, tenant: 'second-owner' },
        { sensorId: id, tenant: 'third-owner' },
      ]),
    ).toEqual([point(2, 2), point(3, 30), undefined]);
    // A tenant that is no path part (a glob, a dot) names no series, rather than several.
    expect(await store.query({ series: keys([id], '*'), from: at(0), until: at(10) })).toEqual([[]]);
    expect(await store.latest(keys([id], 'first-owner.gw-epoch'))).toEqual([undefined]);
  });

  it('answers latest in key order, undefined for sensors without points', async () => {
    const a = 'gw-latest.1.0';
    const b = 'gw-latest.2.0';
    await writeVisible(store, [reading(a, at(8), 8), reading(a, at(4), 4), reading(b, at(2), 2)]);
    expect(await store.latest(keys([b, 'gw-latest.3.0', a, 'bad id']))).toEqual([point(2, 2), undefined, point(8, 8), undefined]);
  });
});

describe('GraphiteTimeSeriesStore against carbon and graphite-web', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('loses no point when carbon restarts or is down between writes', async () => {
    const store = graphiteStore();
    const id = 'gw-restart.1.0';
    const batch = (from: number) => Array.from({ length: 5 }, (_, i) => reading(id, at(from + i), from + i));
    await writeVisible(store, batch(0));
    await graphite!.restart();
    await writeVisible(store, batch(5));
    await graphite!.stopCarbon();
    await store.write(batch(10));
    expect(store.stats.buffered).toBeGreaterThan(0);
    await graphite!.startCarbon();
    await visible(store, batch(10));
    const [series] = await store.query({ series: keys([id]), from: at(0), until: at(60) });
    expect(series!.map((p) => p.value)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(store.stats.reconnects).toBeGreaterThanOrEqual(2);
    expect(store.stats.buffered).toBe(0);
  }, 60_000);

  it('loses no point of a steady stream while carbon restarts under it', async () => {
    const store = graphiteStore({ flushIntervalMs: 5 });
    const id = 'gw-stream.1.0';
    const readings = Array.from({ length: 240 }, (_, i) => reading(id, at(i), i));
    const restarting = sleep(300).then(() => graphite!.restart());
    for (const r of readings) {
      await store.write([r]);
      await sleep(20);
    }
    await restarting;
    await visible(store, readings);
    const [series] = await store.query({ series: keys([id]), from: at(0), until: at(300) });
    expect(series!.map((p) => p.value)).toEqual(readings.map((r) => r.value));
    expect(store.stats.reconnects).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('makes write wait while carbon is down and its buffer is full, and completes once carbon is back', async () => {
    await graphite!.stopCarbon();
    const store = graphiteStore({ maxBufferedPoints: 5 });
    const id = 'gw-pressure.1.0';
    const readings = Array.from({ length: 12 }, (_, i) => reading(id, at(i), i));
    let done = false;
    const writing = store.write(readings).then(() => (done = true));
    await sleep(700);
    expect(done).toBe(false);
    expect(store.stats.buffered).toBe(5);
    await graphite!.startCarbon();
    await writing;
    await visible(store, readings);
    const [series] = await store.query({ series: keys([id]), from: at(0), until: at(60) });
    expect(series!.map((p) => p.value)).toEqual(readings.map((r) => r.value));
  }, 60_000);

  it('sends buffered points on close, then refuses writes', async () => {
    const store = graphiteStore({ flushIntervalMs: 60_000 });
    const id = 'gw-close.1.0';
    const readings = Array.from({ length: 3 }, (_, i) => reading(id, at(i), i));
    await store.write(readings);
    expect(store.stats.buffered).toBe(3);
    await store.close();
    expect(store.stats).toMatchObject({ buffered: 0, written: 3, connected: false });
    await expect(store.write(readings)).rejects.toThrow('write after close');
    await visible(graphiteStore(), readings);
  });

  it('splits reads of many sensors into requests under 8 KB and maps every series back', async () => {
    const urls: string[] = [];
    const proxy = await serve(async (path) => {
      urls.push(path);
      const response = await fetch(`${graphite!.graphiteUrl}${path}`);
      return { status: response.status, body: await response.text() };
    });
    try {
      const writer = graphiteStore();
      const ids = Array.from({ length: 300 }, (_, i) => `gw-many-${String(i).padStart(3, '0')}.${(i % 239) + 1}.0`);
      await writeVisible(
        writer,
        ids.map((id, i) => reading(id, at(i % 60), i)),
      );
      const reader = graphiteStore({ graphiteUrl: proxy.url });
      const series = await reader.query({ series: keys(ids), from: at(0), until: at(60) });
      expect(series).toEqual(ids.map((_, i) => [point(i % 60, i)]));
      expect(urls.length).toBeGreaterThan(1);
      expect(urls.length).toBeLessThan(5);
      for (const url of urls) expect(url.length).toBeLessThanOrEqual(8_000);
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it('rejects a malformed render answer with an error naming Graphite, the path and the fault', async () => {
    let reply = { status: 200, body: '' };
    const server = await serve(async () => reply);
    try {
      const store = graphiteStore({ graphiteUrl: `${server.url}/graphite` });
      const ask = () => store.query({ series: keys(['gw-bad.1.0'], 't'), from: at(0), until: at(10) });
      reply = { status: 200, body: '<html>surprise</html>' };
      await expect(ask()).rejects.toThrow(/^Graphite \/graphite\/render: the answer is not JSON/);
      reply = { status: 200, body: '{"series": []}' };
      await expect(ask()).rejects.toThrow('Graphite /graphite/render: expected a JSON array of series, got an object');
      reply = { status: 200, body: '[{"target": "iot.t.gw-bad.1.0.co2", "datapoints": [[1, 1700000000], ["7", 1700000001]]}]' };
      await expect(ask()).rejects.toThrow(
        'Graphite /graphite/render: series 0 (iot.t.gw-bad.1.0.co2) datapoint 1 is ["7",1700000001], not [number|null, epochSeconds]',
      );
      reply = { status: 200, body: '[{"target": "carbon.agents.x", "datapoints": []}]' };
      await expect(store.latest(keys(['gw-bad.1.0'], 't'))).rejects.toThrow(
        'Graphite /graphite/render: series "carbon.agents.x" is not a path',
      );
      reply = { status: 500, body: 'Traceback (most recent call last): ...' };
      await expect(ask()).rejects.toThrow('Graphite /graphite/render: HTTP 500 Internal Server Error: Traceback');
      // The store is still usable afterwards.
      reply = {
        status: 200,
        body: '[{"target": "iot.t.gw-bad.1.0.co2", "tags": {"name": "iot.t.gw-bad.1.0.co2"}, "datapoints": [[null, 1700000000], [4, 1700000001]]}]',
      };
      expect(await ask()).toEqual([[{ time: 1_700_000_001_000, value: 4 }]]);
    } finally {
      await server.close();
    }
  });
});

/** A tiny HTTP server on a free port answering every request with `handler(path)`. */
async function serve(
  handler: (path: string) => Promise<{ status: number; body: string }>,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    handler(request.url ?? '/').then(
      ({ status, body }) => response.writeHead(status, { 'content-type': 'application/json' }).end(body),
      (error: unknown) => response.writeHead(502).end(String(error)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
