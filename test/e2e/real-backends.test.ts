import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '#log';
import { RedisLiveBus, type Reading } from '#telemetry';
import type { Platform } from '../../platform/platform.ts';
import { adminToken } from '../support/auth.ts';
import { eventually, graphql, wsClient } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';
import { GRAPHITE_RESOLUTION_SECONDS, startGraphite, type GraphiteService } from '../support/services/graphite.ts';
import { startMosquitto, type RunningMosquitto } from '../support/services/mosquitto.ts';
import { startRedis, type RedisService } from '../support/services/redis.ts';

const key = (r: { sensorId: string; time: number }) => `${r.sensorId}@${r.time}`;

describe('the platform on Mosquitto, Redis and Graphite', () => {
  let mosquitto: RunningMosquitto;
  let redis: RedisService;
  let graphite: GraphiteService;
  let platform: Platform;
  let url: string;
  /** An operator's: the tests follow every gateway of every tenant. */
  let admin: string;
  const received = new Map<string, Array<{ sensorId: string; time: number; value: number }>>();
  const subscriptions: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    [mosquitto, redis, graphite] = await Promise.all([startMosquitto(), startRedis({ appendonly: true }), startGraphite()]);
    platform = await startTestPlatform({
      mqttUrl: mosquitto.url,
      mqttAdmin: mosquitto.admin,
      backends: { redisUrl: redis.url, graphiteUrl: graphite.graphiteUrl, carbonUrl: graphite.carbonUrl },
      startCollector: false,
      pollIntervalMs: 1_000,
    });
    url = platform.routerUrl;
    admin = await adminToken();
  }, 90_000);

  afterAll(async () => {
    await Promise.all(subscriptions.map((dispose) => dispose()));
    await platform?.close();
    await Promise.all([mosquitto?.stop(), redis?.stop(), graphite?.stop()]);
  });

  it('streams through the router what the collector publishes over Redis, with entity fields', async () => {
    for (const gateway of platform.scenario.gateways) {
      const client = wsClient(url, { token: admin });
      const events: Array<{ sensorId: string; time: number; value: number }> = [];
      received.set(gateway.id, events);
      client.subscribe<{
        readings: { value: number; time: string; sensor: { id: string; gateway: { id: string; node: { ready: boolean } } } };
      }>(
        { query: `subscription { readings(gatewayId: "${gateway.id}") { value time sensor { id gateway { id node { ready } } } } }` },
        {
          next: ({ data }) => {
            const reading = data!.readings;
            expect(reading.sensor.gateway).toEqual({ id: gateway.id, node: { ready: true } });
            events.push({ sensorId: reading.sensor.id, time: Date.parse(reading.time), value: reading.value });
          },
          error: (error) => {
            throw error instanceof Error ? error : new Error(JSON.stringify(error));
          },
          complete: () => undefined,
        },
      );
      subscriptions.push(async () => client.dispose());
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // subscriptions reach Redis
    await platform.collector.start();
    await eventually(async () => [...received.values()].every((events) => events.length > 0), 20_000);
  }, 30_000);

  it('answers history from Graphite through the router', async () => {
    const { data, errors } = await eventually(async () => {
      const response = await graphql(
        url,
        '{ sensor(id: "austin-gw01.21.2") { latest { value time } readings(from: "-5min") { value time } } }',
        undefined,
        { token: admin },
      );
      return response.data?.sensor?.readings?.length ? response : undefined;
    }, 20_000);
    expect(errors).toBeUndefined();
    expect(data!.sensor.latest.value).toBeGreaterThan(300);
    const stored = await platform.store.query({
      series: [{ sensorId: 'austin-gw01.21.2', tenant: 'austin-summit' }],
      from: Date.now() - 300_000,
      until: Date.now(),
    });
    expect(stored[0]!.length).toBeGreaterThan(0);
  });

  it('loses no accepted reading across a Mosquitto restart and a Redis restart', async () => {
    await mosquitto.stop();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await mosquitto.restart();
    await eventually(
      async () =>
        platform.collector.stats.readings > 0 &&
        (await platform.store.latest([{ sensorId: 'austin-gw01.21.2', tenant: 'austin-summit' }]))[0]!.time > Date.now() - 3_000,
      20_000,
    );
    await redis.restart({ whileStopped: () => new Promise((resolve) => setTimeout(resolve, 1_500)) });
    const afterRestarts = platform.collector.stats.readings;
    await eventually(async () => platform.collector.stats.readings > afterRestarts + 200, 30_000);
    await platform.collector.stop();
    await new Promise((resolve) => setTimeout(resolve, 2_000));

    // Every batch the collector published is in the stream: read it all back.
    const bus = new RedisLiveBus({ url: redis.url, logger: silentLogger });
    const published: Reading[] = [];
    for (let after = '0-0'; ;) {
      const entries = await bus.readRange(after, 1_000);
      if (!entries.length) break;
      for (const entry of entries) published.push(...entry.readings);
      after = entries[entries.length - 1]!.position;
    }
    await bus.close();
    expect(published.length).toBe(platform.collector.stats.readings);

    // From the first reading a subscriber got, it gets every later one of its gateway, once. The
    // router may still be working through a backlog (each event fetches entity fields from two
    // subgraphs; a loaded machine is slower at it than the collector is at polling): wait for it.
    const expectedOf = (gatewayId: string, events: Array<{ sensorId: string; time: number; value: number }>) => {
      const ofGateway = published.filter((r) => r.gatewayId === gatewayId);
      const first = ofGateway.findIndex((r) => key(r) === key(events[0]!));
      expect(first, gatewayId).toBeGreaterThanOrEqual(0);
      return ofGateway.slice(first).map(key);
    };
    await eventually(
      async () => [...received].every(([gatewayId, events]) => events.length >= expectedOf(gatewayId, events).length),
      30_000,
    ).catch(() => undefined);
    for (const [gatewayId, events] of received) expect(events.map(key), gatewayId).toEqual(expectedOf(gatewayId, events));

    // And Graphite holds each of them: the value of the last reading in its one-second slot.
    const slot = (time: number) => Math.floor(time / (GRAPHITE_RESOLUTION_SECONDS * 1000)) * GRAPHITE_RESOLUTION_SECONDS * 1000;
    const sample = published.filter((r) => r.gatewayId === 'pisek-gw001');
    const ids = [...new Set(sample.map((r) => r.sensorId))];
    const from = Math.min(...sample.map((r) => r.time)) - 1_000;
    const series = await platform.store.query({
      // Each under its node's tenant: the car parks on this city gateway are the parking operator's.
      series: ids.map((sensorId) => ({ sensorId, tenant: sample.find((r) => r.sensorId === sensorId)!.tenant })),
      from,
      until: Date.now(),
    });
    ids.forEach((id, i) => {
      const lastPerSlot = new Map<number, number>();
      for (const r of sample.filter((s) => s.sensorId === id)) lastPerSlot.set(slot(r.time), r.value);
      const stored = new Map(series[i]!.map((p) => [p.time, p.value]));
      for (const [time, value] of lastPerSlot) expect(stored.get(time), `${id} at ${new Date(time).toISOString()}`).toBe(value);
    });
  }, 90_000);
});
