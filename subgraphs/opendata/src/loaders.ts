import DataLoader from 'dataloader';
import type { Point } from '#telemetry';
import type { OpendataSources } from './context.ts';
import type { DatasetRecord, IntersectionRecord, ParkingLotRecord } from '#opendata-catalog';
import { PublishedSeries } from './sources/published-series.ts';

export type OpenDataLoaders = ReturnType<typeof createLoaders>;

/** Per-operation DataLoaders over the catalogue and the counters' readings (as their gateways' current owners took them). */
export function createLoaders({ catalog, store, registry }: OpendataSources) {
  const published = new PublishedSeries(store, registry, catalog);
  const byId = <T extends { id: string }>(items: readonly T[]) => {
    const index = new Map(items.map((item) => [item.id, item]));
    return new DataLoader<string, T | null>(async (ids) => ids.map((id) => index.get(id) ?? null));
  };
  return {
    dataset: byId<DatasetRecord>(catalog.datasets),
    intersection: byId<IntersectionRecord>(catalog.intersections),
    parkingLot: byId<ParkingLotRecord>(catalog.parkingLots),
    latest: new DataLoader<string, Point | undefined>((sensorIds) => published.latest(sensorIds)),
    /** History of published sensors (traffic counts). */
    published,
  };
}
