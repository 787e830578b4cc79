import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '#log';
import { RedisLiveBus, type Reading } from '#telemetry';
import type { Platform } from '../../platform/platform.ts';
import { composeSupergraph } from '#supergraph';
import { developmentRouterAuth } from '../../router/src/plugins/auth.ts';
import { startRouter, type RunningRouter } from '../../router/src/gateway.ts';
import { wireTelemetry } from '../../subgraphs/telemetry/src/index.ts';
import type { RunningSubgraph } from '#kit';
import { tokenFor } from '../support/auth.ts';
import { take, wsClient } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';
import { startRedis, type RedisService } from '../support/services/redis.ts';

type Event = { readings: { cursor: string; time: string; sensor: { id: string; name: string } } };

describe('two routers and two telemetry instances over one Redis', () => {
  let redis: RedisService;
  let platform: Platform;
  let telemetry2: RunningSubgraph;
  let bus2: RedisLiveBus;
  let router2: RunningRouter;
  /** pisek-gw003 is pisek-city's. */
  let token: string;

  beforeAll(async () => {
    token = await tokenFor('pisek-city');
    redis = await startRedis();
    platform = await startTestPlatform({ backends: { redisUrl: redis.url }, pollIntervalMs: 300 });
    bus2 = new RedisLiveBus({ url: redis.url, logger: silentLogger });
    telemetry2 = await wireTelemetry({
      port: 0,
      logger: silentLogger,
      trust: { secret: platform.subgraphSecret },
      sources: { store: platform.store, bus: bus2, registry: platform.registry, openSensorIds: new Set(), subscriberQueueLimit: 10_000 },
    });
    const urls = {
      ...Object.fromEntries(Object.entries(platform.subgraphs).map(([name, s]) => [name, s.url])),
      telemetry: telemetry2.url,
    } as Parameters<typeof composeSupergraph>[0];
    router2 = await startRouter({
      supergraph: await composeSupergraph(urls),
      port: 0,
      logger: silentLogger,
      auth: developmentRouterAuth(platform.subgraphSecret),
    });
  });

  afterAll(async () => {
    await router2?.close();
    await telemetry2?.close();
    await bus2?.close();
    await platform?.close();
    await redis?.stop();
  });

  it('gives each subscriber each matching reading exactly once, whichever instance serves it', async () => {
    const query = 'subscription { readings(gatewayId: "pisek-gw003") { cursor time sensor { id name } } }';
    const [a, b] = [wsClient(platform.routerUrl, { token }), wsClient(router2.url, { token })];
    const [viaA, viaB] = await Promise.all([take<Event>(a, query, 80, 20_000), take<Event>(b, query, 80, 20_000)]);
    await Promise.all([a.dispose(), b.dispose()]);

    // What was published for that gateway, in order, straight from the stream.
    const published: Array<{ reading: Reading; cursor: string }> = [];
    for (let after = '0-0'; ;) {
      const entries = await bus2.readRange(after, 1_000);
      if (!entries.length) break;
      for (const entry of entries)
        entry.readings.forEach(
          (reading, index) => reading.gatewayId === 'pisek-gw003' && published.push({ reading, cursor: `${entry.position}:${index}` }),
        );
      after = entries.at(-1)!.position;
    }
    for (const events of [viaA, viaB]) {
      const cursors = events.map((e) => e.data!.readings.cursor);
      expect(new Set(cursors).size).toBe(cursors.length);
      const start = published.findIndex((p) => p.cursor === cursors[0]);
      expect(start).toBeGreaterThanOrEqual(0);
      expect(cursors).toEqual(published.slice(start, start + cursors.length).map((p) => p.cursor));
      expect(events.every((e) => e.data!.readings.sensor.name)).toBe(true);
    }
    // The two instances saw the same stream: where they overlap, they agree reading for reading.
    const fromB = new Set(viaB.map((e) => e.data!.readings.cursor));
    expect(viaA.filter((e) => fromB.has(e.data!.readings.cursor)).length).toBeGreaterThan(20);
  }, 40_000);

  it('resumes on the other instance from a cursor one instance gave', async () => {
    const query = 'subscription($after: String) { readings(gatewayId: "pisek-gw003", after: $after) { cursor } }';
    const a = wsClient(platform.routerUrl, { token });
    const first = await take<{ readings: { cursor: string } }>(a, query, 10);
    await a.dispose();
    await new Promise((resolve) => setTimeout(resolve, 700));
    const b = wsClient(router2.url, { token });
    const resumed = await take<{ readings: { cursor: string } }>(b, query, 30, 15_000, { after: first.at(-1)!.data!.readings.cursor });
    await b.dispose();
    const published: string[] = [];
    for (let after = '0-0'; ;) {
      const entries = await bus2.readRange(after, 1_000);
      if (!entries.length) break;
      for (const entry of entries)
        entry.readings.forEach((reading, index) => reading.gatewayId === 'pisek-gw003' && published.push(`${entry.position}:${index}`));
      after = entries.at(-1)!.position;
    }
    const all = [...first, ...resumed].map((e) => e.data!.readings.cursor);
    const start = published.indexOf(all[0]!);
    expect(all).toEqual(published.slice(start, start + all.length));
  });
});
