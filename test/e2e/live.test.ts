import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryLiveBus, type Reading } from '#telemetry';
import type { Platform } from '../../platform/platform.ts';
import { LiveBatches } from '../../subgraphs/telemetry/src/sources/live-stream.ts';
import { tokenFor } from '../support/auth.ts';
import { graphql, take, wsClient } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

type Event = { sensor: { id: string }; time: string; value: number; cursor: string };
const reading = (sensorId: string, value: number): Reading => ({
  sensorId,
  gatewayId: sensorId.split('.')[0]!,
  tenant: 't',
  quantity: 'CO2',
  time: Date.now(),
  value,
});

describe('live readings through the router', () => {
  let platform: Platform;
  let url: string;
  /** Each test is about one tenant's gateway: austin-gw01 is austin-summit's, pisek-gw002 pisek-city's. */
  let austin: string;
  let pisek: string;
  const published: Reading[] = [];

  beforeAll(async () => {
    platform = await startTestPlatform({ backends: { memoryResolutionSeconds: 1 }, pollIntervalMs: 300 });
    url = platform.routerUrl;
    [austin, pisek] = await Promise.all([tokenFor('austin-summit'), tokenFor('pisek-city')]);
    platform.bus.subscribe((readings) => published.push(...readings));
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('resumes with a cursor: every reading missed while away, then live, none twice', async () => {
    const query = 'subscription($after: String) { readings(gatewayId: "pisek-gw002", after: $after) { value time cursor sensor { id } } }';
    const client = wsClient(url, { token: pisek });
    const before = await take<{ readings: Event }>(client, query, 30);
    await client.dispose();
    const lastCursor = before.at(-1)!.data!.readings.cursor;
    // Away for a few poll rounds.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const again = wsClient(url, { token: pisek });
    const resumed = await take<{ readings: Event }>(again, query, 60, 15_000, { after: lastCursor });
    await again.dispose();

    const got = [...before, ...resumed].map((e) => `${e.data!.readings.sensor.id}@${Date.parse(e.data!.readings.time)}`);
    const ofGateway = published.filter((r) => r.gatewayId === 'pisek-gw002').map((r) => `${r.sensorId}@${r.time}`);
    const start = ofGateway.indexOf(got[0]!);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(got).toEqual(ofGateway.slice(start, start + got.length));
    expect(new Set(got).size).toBe(got.length);
  });

  it('says when a cursor is older than the live bus keeps, or is no cursor at all', async () => {
    const client = wsClient(url, { token: austin });
    const [expired] = await take(client, 'subscription { readings(gatewayId: "austin-gw01", after: "0:0") { value } }', 1);
    expect(expired!.errors, JSON.stringify(expired)).toMatchObject([{ extensions: { code: 'CURSOR_EXPIRED' } }]);
    const [garbage] = await take(client, 'subscription { readings(gatewayId: "austin-gw01", after: "yesterday") { value } }', 1);
    expect(garbage!.errors).toMatchObject([{ extensions: { code: 'BAD_USER_INPUT', field: 'after' } }]);
    await client.dispose();
  });

  it('filters by room', async () => {
    const client = wsClient(url, { token: austin });
    const events = await take<{ readings: { sensor: { room: string; id: string } } }>(
      client,
      'subscription { readings(gatewayId: "austin-gw01", room: "402") { sensor { id room } } }',
      9,
    );
    await client.dispose();
    expect(new Set(events.map((e) => e.data!.readings.sensor.room))).toEqual(new Set(['402']));
    expect(new Set(events.map((e) => e.data!.readings.sensor.id))).toEqual(
      new Set(['austin-gw01.32.0', 'austin-gw01.32.1', 'austin-gw01.32.2']),
    );
  });

  it('delivers one event per collected batch with readingBatches', async () => {
    const client = wsClient(url, { token: austin });
    const events = await take<{ readingBatches: Array<{ cursor: string; sensor: { id: string; room: string } }> }>(
      client,
      'subscription { readingBatches(gatewayId: "austin-gw01", quantity: CO2) { cursor sensor { id room } } }',
      3,
    );
    await client.dispose();
    for (const event of events) {
      const batch = event.data!.readingBatches;
      expect(batch).toHaveLength(20); // one FRC answer: the CO2 of all 20 rooms
      expect(new Set(batch.map((r) => r.cursor.split(':')[0])).size).toBe(1);
      expect(batch.every((r) => r.sensor.room)).toBe(true);
    }
  });

  it('sends history then live buckets with the bucketing and aggregation of Sensor.readings', async () => {
    const sensor = 'austin-gw01.21.2';
    await new Promise((resolve) => setTimeout(resolve, 4_000)); // some history
    const client = wsClient(url, { token: austin });
    const events = await take<{ readings: Event }>(
      client,
      `subscription { readings(sensorIds: ["${sensor}"], from: "-10s", every: "2s", aggregate: MAX) { time value cursor } }`,
      7,
      20_000,
    );
    await client.dispose();
    const times = events.map((e) => Date.parse(e.data!.readings.time));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(times.every((t) => t % 2000 === 0)).toBe(true);
    const { data } = await graphql(
      url,
      `{ sensor(id: "${sensor}") { readings(from: "${new Date(times[0]!).toISOString()}", until: "${new Date(times.at(-1)! + 1999).toISOString()}", every: "2s", aggregate: MAX) { time value } } }`,
      undefined,
      { token: austin },
    );
    const history = new Map<number, number>(
      data!.sensor.readings.map((r: { time: string; value: number }) => [Date.parse(r.time), r.value]),
    );
    for (const event of events) expect(event.data!.readings.value).toBe(history.get(Date.parse(event.data!.readings.time)));
    expect(events.at(-1)!.data!.readings.cursor).toBe(`bucket:${times.at(-1)}`);
  }, 30_000);
});

describe('a live stream that a subscriber does not read', () => {
  it('ends it with SLOW_CONSUMER and the cursor to resume from, instead of queueing without bound', async () => {
    const bus = new MemoryLiveBus();
    const stream = new LiveBatches(bus, { gatewayId: 'gw' }, 5);
    await bus.publish([reading('gw.1.0', 1), reading('gw.1.1', 2)]);
    const first = await stream.next();
    expect(first.value).toHaveLength(2);
    for (let i = 0; i < 4; i++) await bus.publish([reading('gw.1.0', i), reading('gw.1.1', i)]);
    const last = await stream.next();
    expect(last.value).toMatchObject({ extensions: { code: 'SLOW_CONSUMER', resumeAfter: '1:1' } });
    expect((await stream.next()).done).toBe(true);
  });

  it('replays a long gap page by page, in order, then goes live', async () => {
    const bus = new MemoryLiveBus();
    for (let i = 1; i <= 1_200; i++) await bus.publish([reading('gw.1.0', i)]);
    const stream = await new LiveBatches(bus, { gatewayId: 'gw' }, 100, { position: '1', index: 0 }).prepare();
    const values: number[] = [];
    while (values.length < 1_199) values.push(...((await stream.next()).value as Array<{ reading: Reading }>).map((r) => r.reading.value));
    await bus.publish([reading('gw.1.0', 1_201)]);
    values.push(...((await stream.next()).value as Array<{ reading: Reading }>).map((r) => r.reading.value));
    expect(values).toEqual(Array.from({ length: 1_200 }, (_, i) => i + 2));
    await stream.return();
  });

  it('replays from a cursor, then goes live, and expires cursors the bus no longer keeps', async () => {
    const bus = new MemoryLiveBus(3);
    for (let i = 1; i <= 5; i++) await bus.publish([reading('gw.1.0', i), reading('other.1.0', i)]);
    await expect(new LiveBatches(bus, { gatewayId: 'gw' }, 100, { position: '1', index: 0 }).prepare()).rejects.toMatchObject({
      extensions: { code: 'CURSOR_EXPIRED' },
    });
    const resumed = new LiveBatches(bus, { gatewayId: 'gw' }, 100, { position: '3', index: 0 });
    const values: number[] = [];
    const take = async () => values.push(...((await resumed.next()).value as Array<{ reading: Reading }>).map((r) => r.reading.value));
    await take();
    await bus.publish([reading('gw.1.0', 6)]);
    await take();
    await take();
    expect(values).toEqual([4, 5, 6]);
    await resumed.return();
  });
});
