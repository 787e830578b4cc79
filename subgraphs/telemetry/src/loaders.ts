import DataLoader from 'dataloader';
import { nodeTenant, parseSensorId, type GatewayRecord } from '#registry';
import { readOwnedLatest, readOwnedSeries, type Aggregate, type Point, type SeriesKey } from '#telemetry';
import type { TelemetrySources } from './context.ts';

export type TelemetryLoaders = ReturnType<typeof createLoaders>;

/** One history query: the same range for many sensors is one store call. */
export interface HistoryKey {
  sensorId: string;
  from: number;
  until: number;
  everySeconds?: number;
  aggregate?: Aggregate;
}

/** Per-operation DataLoaders over the time-series store and the registry. */
export function createLoaders({ store, registry }: TelemetrySources) {
  /** A gateway's registry record (its owner, its nodes' tenants); null when the registry has no such gateway. */
  const gateway = new DataLoader<string, GatewayRecord | null>(async (ids) =>
    (await registry.getMany(ids)).map((record) => record ?? null),
  );

  /**
   * The series a sensor's readings are read from: its node's current tenant's (on a shared
   * gateway each node's readings are its tenant's; `nodeTenant`). Readings taken while another
   * tenant owned the gateway id or the node are in another series, never read here. Null when no
   * gateway of that id is registered.
   */
  const seriesKey = new DataLoader<string, SeriesKey | null>(async (sensorIds) => {
    const parsed = sensorIds.map(parseSensorId);
    const records = await gateway.loadMany(parsed.map((p) => p?.gatewayId ?? ''));
    return sensorIds.map((sensorId, i) => {
      const record = records[i];
      const key = parsed[i];
      if (record instanceof Error) return record;
      return record && key ? { sensorId, tenant: nodeTenant(record, key.address) } : null;
    });
  });
  const seriesKeys = async (sensorIds: readonly string[]): Promise<Array<SeriesKey | undefined>> =>
    (await seriesKey.loadMany(sensorIds)).map((key) => {
      if (key instanceof Error) throw key;
      return key ?? undefined;
    });

  const latest = new DataLoader<string, Point | undefined>(async (ids) => readOwnedLatest(store, await seriesKeys(ids)));

  const series = new DataLoader<HistoryKey, Point[], string>(
    async (keys) => {
      // Sensors asked for the same range and bucketing share one store query.
      const groups = new Map<string, { keys: HistoryKey[]; positions: number[] }>();
      keys.forEach((key, position) => {
        const range = rangeKey(key);
        const group = groups.get(range) ?? { keys: [], positions: [] };
        group.keys.push(key);
        group.positions.push(position);
        groups.set(range, group);
      });
      const results: Point[][] = new Array(keys.length);
      await Promise.all(
        [...groups.values()].map(async ({ keys: members, positions }) => {
          const { from, until, everySeconds, aggregate } = members[0]!;
          const series = await readOwnedSeries(store, await seriesKeys(members.map((k) => k.sensorId)), {
            from,
            until,
            everySeconds,
            aggregate,
          });
          positions.forEach((position, i) => (results[position] = series[i]!));
        }),
      );
      return results;
    },
    { cacheKeyFn: (key) => `${key.sensorId}|${rangeKey(key)}` },
  );

  return { gateway, seriesKey, seriesKeys, latest, series };
}

function rangeKey({ from, until, everySeconds, aggregate }: HistoryKey): string {
  return `${from}|${until}|${everySeconds ?? ''}|${aggregate ?? ''}`;
}
