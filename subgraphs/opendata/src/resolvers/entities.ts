import { Aggregate } from '#telemetry';
import { ErrorCode, userError } from '#kit';
import type { DatasetResolvers, IntersectionResolvers, ParkingLotResolvers } from '../__generated__/resolvers.ts';
import { datasetContent, type GeoPoint } from '#opendata-catalog';

const DEFAULT_RANGE_MS = 24 * 3600_000;
const MAX_BUCKETS = 10_000;

export const Dataset: DatasetResolvers = {
  __resolveReference: ({ id }, { loaders }) => loaders.dataset.load(id),
  distributions: (dataset, _, { sources }) => {
    const url = (path: string) => new URL(path, sources.catalog.publicUrl).toString();
    const listed = dataset.distributions.map(({ accessPath, ...rest }) => ({ ...rest, accessUrl: url(accessPath) }));
    // Datasets with data to download also have the CSV and JSON downloads of /opendata.
    const downloads = datasetContent(dataset)
      ? [
          { title: `${dataset.title} (CSV)`, format: 'CSV', mediaType: 'text/csv', accessUrl: url(`/opendata/datasets/${dataset.id}.csv`) },
          {
            title: `${dataset.title} (JSON)`,
            format: 'JSON',
            mediaType: 'application/json',
            accessUrl: url(`/opendata/datasets/${dataset.id}.json`),
          },
        ]
      : [];
    return [...listed, ...downloads];
  },
  modified: ({ modified }) => new Date(modified),
  accrualPeriodicity: ({ accrualPeriodicity }) => accrualPeriodicity ?? null,
};

export const Intersection: IntersectionResolvers = {
  __resolveReference: ({ id }, { loaders }) => loaders.intersection.load(id),
  location: ({ location }) => geo(location),
  counters: ({ vehicleSensorId, pedestrianSensorId }) => [{ id: vehicleSensorId }, { id: pedestrianSensorId }],
  traffic: async ({ vehicleSensorId, pedestrianSensorId }, args, { loaders }) => {
    // from, until and every come bounded by the DateTime and Duration scalars (1970-2100, 1 s to 1 year).
    const until = args.until ? new Date(args.until).getTime() : Date.now();
    const from = args.from ? new Date(args.from).getTime() : until - DEFAULT_RANGE_MS;
    const everySeconds = args.every ?? 3600;
    if (from >= until) throw userError(ErrorCode.BAD_TIME_RANGE, 'from must be before until');
    if ((until - from) / (everySeconds * 1000) > MAX_BUCKETS)
      throw userError(ErrorCode.BAD_TIME_RANGE, `more than ${MAX_BUCKETS} buckets; use a larger every`);
    const [vehicles = [], pedestrians = []] = await loaders.published.query([vehicleSensorId, pedestrianSensorId], {
      from,
      until,
      everySeconds,
      aggregate: Aggregate.SUM,
    });
    const buckets = new Map<number, { time: Date; vehicles: number; pedestrians: number }>();
    const bucket = (time: number) =>
      buckets.get(time) ?? buckets.set(time, { time: new Date(time), vehicles: 0, pedestrians: 0 }).get(time)!;
    for (const point of vehicles) bucket(point.time).vehicles = Math.round(point.value);
    for (const point of pedestrians) bucket(point.time).pedestrians = Math.round(point.value);
    return [...buckets.values()].sort((a, b) => a.time.getTime() - b.time.getTime());
  },
};

export const ParkingLot: ParkingLotResolvers = {
  __resolveReference: ({ id }, { loaders }) => loaders.parkingLot.load(id),
  location: ({ location }) => geo(location),
  occupied: async ({ sensorId, capacity }, _, { loaders }) => {
    const point = await loaders.latest.load(sensorId);
    return point ? Math.min(capacity, Math.round(point.value)) : null;
  },
  free: async ({ sensorId, capacity }, _, { loaders }) => {
    const point = await loaders.latest.load(sensorId);
    return point ? Math.max(0, capacity - Math.round(point.value)) : null;
  },
  updatedAt: async ({ sensorId }, _, { loaders }) => {
    const point = await loaders.latest.load(sensorId);
    return point ? new Date(point.time) : null;
  },
  sensor: ({ sensorId }) => ({ id: sensorId }),
};

function geo(location: GeoPoint & { address?: string }) {
  return { latitude: location.lat, longitude: location.lon, address: location.address ?? null };
}
