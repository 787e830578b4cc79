import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { silentLogger } from '#log';
import { RedisLiveBus } from '#telemetry';
import type { Platform } from '../../platform/platform.ts';
import { adminToken } from '../support/auth.ts';
import { eventually } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';
import { startRedis, type RedisService } from '../support/services/redis.ts';
import { streamCursors } from '../support/stream.ts';

const GATEWAY = 'austin-gw01';
const resumable = /* GraphQL */ `
  subscription Live($gatewayId: ID!, $after: String) {
    readings(gatewayId: $gatewayId, after: $after) {
      cursor
    }
  }
`;

describe('sharing never changes what a client receives', () => {
  let redis: RedisService;
  let platform: Platform;
  let bus: RedisLiveBus;
  let client: Client;

  beforeAll(async () => {
    redis = await startRedis();
    platform = await startTestPlatform({ backends: { redisUrl: redis.url }, pollIntervalMs: 200 });
    bus = new RedisLiveBus({ url: redis.url, logger: silentLogger });
    const token = await adminToken();
    client = createClient({
      url: platform.routerUrl.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: true,
      connectionParams: { authorization: `Bearer ${token}` },
    });
  });

  afterAll(async () => {
    await client?.dispose();
    await bus?.close();
    await platform?.close();
    await redis?.stop();
  });

  /** A subscriber: what it received, and how to leave. */
  const subscribe = (after: string | null) => {
    const received: string[] = [];
    const errors: unknown[] = [];
    const leave = client.subscribe<{ readings: { cursor: string } }>(
      { query: resumable, variables: { gatewayId: GATEWAY, after } },
      {
        next: (result) => (result.errors ? errors.push(result.errors) : received.push(result.data!.readings.cursor)),
        error: (error) => void errors.push(error),
        complete: () => {},
      },
    );
    return { after, received, errors, leave };
  };

  it('gives every subscriber, live or resuming, joining or leaving in any order, the stream after its start', async () => {
    const { fanout } = platform.router.subscriptions;
    // Live, then a second live one that shares it.
    const live1 = subscribe(null);
    await eventually(async () => live1.received.length >= 6, 20_000);
    const live2 = subscribe(null);
    await eventually(async () => live2.received.length >= 2, 20_000);
    const cursor = live1.received[1]!;
    // Two resumes from the same cursor while identical live ones run, the second while the first runs.
    const resume1 = subscribe(cursor);
    await eventually(async () => resume1.received.length >= 1, 20_000);
    const resume2 = subscribe(cursor);
    await eventually(async () => resume2.received.length >= 1, 20_000);
    const whileAllRan = fanout.stats();
    // The first of each pair leaves; the others go on; then one more of each kind joins.
    live1.leave();
    resume1.leave();
    const live3 = subscribe(null);
    const resume3 = subscribe(cursor);
    const all = [live1, live2, live3, resume1, resume2, resume3];
    const target = live1.received.length + 20;
    await eventually(async () => all.every((s) => s === live1 || s === resume1 || s.received.length >= target), 30_000);
    for (const s of all) s.leave();

    const stream = await streamCursors(bus, GATEWAY);
    for (const [name, s] of Object.entries({ live1, live2, live3, resume1, resume2, resume3 })) {
      expect(s.errors, name).toEqual([]);
      const found = stream.indexOf(s.after ?? s.received[0]!);
      expect(found, name).toBeGreaterThanOrEqual(0);
      const start = s.after === null ? found : found + 1;
      // Printed so a failing run shows what went missing.
      const expected = stream.slice(start, start + s.received.length);
      if (s.received.join() !== expected.join())
        console.log(name, 'received', s.received.length, 'first', s.received[0], 'expected first', expected[0]);
      expect(s.received, name).toEqual(expected);
    }
    // The two live ones shared an execution; each resume ran on its own, outside the fanout.
    expect(whileAllRan).toMatchObject({ upstreams: 1, subscribers: 2 });
  }, 60_000);
});
