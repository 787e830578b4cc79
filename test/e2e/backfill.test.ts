import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '#log';
import { buildScenario, backfillHistory, type BackfillGateway } from '#simulator';
import { GraphiteTimeSeriesStore, MemoryTimeSeriesStore, type TimeSeriesStore } from '#telemetry';
import type { Platform } from '../../platform/platform.ts';
import { occupancy } from '../../simulator/src/signals.ts';
import { adminToken } from '../support/auth.ts';
import { eventually, graphql } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';
import { startGraphite, type GraphiteService } from '../support/services/graphite.ts';

const HOUR = 3_600_000;
const CO2 = `query { gateway(id: "austin-gw01") { sensors(quantity: CO2) { id readings(from: "-24h", every: "1h") { time value } } } }`;

describe('history on a fresh start', () => {
  let platform: Platform;
  let token: string;
  beforeAll(async () => {
    token = await adminToken();
    platform = await startTestPlatform({ historyBackfillMs: 24 * HOUR });
  }, 60_000);
  afterAll(() => platform?.close());

  it("gives a sensor 24 hourly values of the simulator's day curve at once", async () => {
    const readings = await eventually(
      async () => {
        const sensor = (await graphql(platform.routerUrl, CO2, undefined, { token })).data?.gateway?.sensors?.[0];
        return sensor?.readings?.length >= 23 ? (sensor.readings as Array<{ time: string; value: number }>) : undefined;
      },
      30_000,
      200,
    );
    expect(readings.length).toBeLessThanOrEqual(25);
    const hourOf = (time: string) => new Date(time).getUTCHours() + 0.5;
    const busy = readings.filter((r) => occupancy(hourOf(r.time)) > 0.6).map((r) => r.value);
    const empty = readings.filter((r) => occupancy(hourOf(r.time)) === 0).map((r) => r.value);
    expect(busy.length).toBeGreaterThan(3);
    expect(empty.length).toBeGreaterThan(3);
    // Occupied hours are far above the night's outdoor level, as the curve has it.
    expect(Math.min(...busy)).toBeGreaterThan(Math.max(...empty) + 300);
  }, 60_000);

  it('shows the crossing traffic of the past day with its rush hours', async () => {
    const { data } = await graphql(
      platform.routerUrl,
      `
        {
          intersections {
            traffic(from: "-24h", every: "1h") {
              time
              vehicles
            }
          }
        }
      `,
      undefined,
      { token },
    );
    const traffic = data?.intersections?.[0]?.traffic as Array<{ time: string; vehicles: number }>;
    expect(traffic.length).toBeGreaterThanOrEqual(23);
    const at = (hour: number) => traffic.find((t) => new Date(t.time).getUTCHours() === hour)?.vehicles;
    // An hour of the morning rush counts several times a night hour (the live hour may be partial).
    const [rush, night] = [at(7), at(2)];
    if (rush !== undefined && night !== undefined) expect(rush).toBeGreaterThan(3 * night);
    expect(traffic.filter((t) => t.vehicles > 0).length).toBeGreaterThanOrEqual(22);
  });
});

describe('with HISTORY_BACKFILL=0', () => {
  it('writes no history', async () => {
    const platform = await startTestPlatform({ historyBackfillMs: 0 });
    try {
      const token = await adminToken();
      // Live readings arrive, and nothing older than the start.
      const readings = await eventually(async () => {
        const sensor = (await graphql(platform.routerUrl, CO2.replace('every: "1h"', 'every: "1min"'), undefined, { token })).data?.gateway
          ?.sensors?.[0];
        return sensor?.readings?.length ? (sensor.readings as Array<{ time: string }>) : undefined;
      }, 20_000);
      expect(readings.every((r) => Date.parse(r.time) > Date.now() - 10 * 60_000)).toBe(true);
    } finally {
      await platform.close();
    }
  }, 60_000);
});

describe('backfillHistory', () => {
  const gateway: BackfillGateway = {
    id: 'austin-gw01',
    tenant: 'austin-summit',
    nodes: buildScenario('demo', 2016).gateways.find((g) => g.id === 'austin-gw01')!.nodes,
  };
  const co2 = gateway.nodes
    .flatMap((node) => node.sensors.map((s, index) => ({ s, id: `${gateway.id}.${node.address}.${index}` })))
    .find(({ s }) => s.quantity === 'CO2')!.id;

  it('never writes over readings the store has, and a second run (a restart) writes nothing', async () => {
    const now = Date.now();
    const store = new MemoryTimeSeriesStore({ rollup: { resolutionSeconds: 600, retentionSeconds: 25 * 3600 } });
    const real = {
      sensorId: co2,
      gatewayId: gateway.id,
      tenant: gateway.tenant,
      quantity: 'CO2' as const,
      time: now - 3 * HOUR,
      value: 12345,
    };
    await store.write([real as never]);
    const first = await backfillHistory({ store, gateways: [gateway], windowMs: 24 * HOUR, until: now, seed: 1, logger: silentLogger });
    expect(first.filled).toBeGreaterThan(10);
    const [points] = await store.query({ series: [{ sensorId: co2, tenant: gateway.tenant }], from: now - 4 * HOUR, until: now });
    const realSlot = Math.floor(real.time / 10_000) * 10_000;
    expect(points!.filter((p) => p.time >= realSlot)).toEqual([{ time: realSlot, value: 12345 }]);
    expect(points!.filter((p) => p.time < realSlot).length).toBeGreaterThan(5);
    // Another tenant's series of the same sensor id is its own: the wall between epochs holds.
    const [other] = await store.query({ series: [{ sensorId: co2, tenant: 'pisek-city' }], from: now - 24 * HOUR, until: now });
    expect(other).toEqual([]);

    const again = await backfillHistory({
      store,
      gateways: [gateway],
      windowMs: 24 * HOUR,
      until: now + 60_000,
      seed: 1,
      logger: silentLogger,
    });
    expect(again).toMatchObject({ filled: 0, points: 0 });
    expect(again.skipped).toBe(first.filled);
  });

  describe('through Graphite', () => {
    let graphite: GraphiteService;
    let store: TimeSeriesStore;
    beforeAll(async () => {
      graphite = await startGraphite();
      store = new GraphiteTimeSeriesStore({ graphiteUrl: graphite.graphiteUrl, carbonUrl: graphite.carbonUrl, logger: silentLogger });
    }, 120_000);
    afterAll(async () => {
      await store?.close();
      await graphite?.stop();
    });

    it('is readable from graphite-web', async () => {
      const now = Date.now();
      const result = await backfillHistory({
        store,
        gateways: [gateway],
        windowMs: 2 * HOUR,
        until: now,
        stepMs: 600_000,
        seed: 1,
        logger: silentLogger,
      });
      expect(result.points).toBeGreaterThan(0);
      const points = await eventually(
        async () => {
          const [series] = await store.query({ series: [{ sensorId: co2, tenant: gateway.tenant }], from: now - 2 * HOUR, until: now });
          return series && series.length >= 11 ? series : undefined;
        },
        60_000,
        500,
      );
      expect(points.length).toBeLessThanOrEqual(12);
      expect(points.every((p) => p.value >= 380 && p.value <= 1500)).toBe(true);
    }, 90_000);
  });
});
