import DataLoader from 'dataloader';
import { parseSensorId } from '#registry';
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
  /** The tenant of a gateway; null when the registry has no such gateway. */
  const gatewayTenant = new DataLoader<string, string | null>(async (ids) =>
    (await registry.getMany(ids)).map((record) => record?.tenant ?? null),
  );

  /**
   * The series a sensor's readings are read from: its gateway's current owner's. Readings taken
   * while another tenant owned the gateway id are in another series, never read here. Null when
   * no gateway of that id is registered.
   */
  const seriesKey = new DataLoader<string, SeriesKey | null>(async (sensorIds) => {
    const tenants = await gatewayTenant.loadMany(sensorIds.map((id) => parseSensorId(id)?.gatewayId ?? ''));
    return sensorIds.map((sensorId, i) => {
      const tenant = tenants[i];
      if (tenant instanceof Error) return tenant;
      return tenant && parseSensorId(sensorId) ? { sensorId, tenant } : null;
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

  return { gatewayTenant, seriesKey, seriesKeys, latest, series };
}

function rangeKey({ from, until, everySeconds, aggregate }: HistoryKey): string {
  return `${from}|${until}|${everySeconds ?? ''}|${aggregate ?? ''}`;
}
