import DataLoader from 'dataloader';
import type { Aggregate, Point } from '#telemetry';
import type { TelemetrySources } from './context.ts';

export type TelemetryLoaders = ReturnType<typeof createLoaders>;

/** One history query: the same range for many sensors is one store call. */
export interface SeriesKey {
  sensorId: string;
  from: number;
  until: number;
  everySeconds?: number;
  aggregate?: Aggregate;
}

/** Per-operation DataLoaders over the time-series store and the registry. */
export function createLoaders({ store, registry }: TelemetrySources) {
  /** The tenant of a gateway; null when the registry has no such gateway. */
  const gatewayTenant = new DataLoader<string, string | null>(async (ids) => (await registry.getMany(ids)).map((record) => record?.tenant ?? null));

  const latest = new DataLoader<string, Point | undefined>((ids) => store.latest(ids));

  const series = new DataLoader<SeriesKey, Point[], string>(
    async (keys) => {
      // Sensors asked for the same range and bucketing share one store query.
      const groups = new Map<string, { keys: SeriesKey[]; positions: number[] }>();
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
          const series = await store.query({ sensorIds: members.map((k) => k.sensorId), from, until, everySeconds, aggregate });
          positions.forEach((position, i) => (results[position] = series[i]!));
        }),
      );
      return results;
    },
    { cacheKeyFn: (key) => `${key.sensorId}|${rangeKey(key)}` },
  );

  return { gatewayTenant, latest, series };
}

function rangeKey({ from, until, everySeconds, aggregate }: SeriesKey): string {
  return `${from}|${until}|${everySeconds ?? ''}|${aggregate ?? ''}`;
}
