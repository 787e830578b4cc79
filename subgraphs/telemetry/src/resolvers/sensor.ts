import { Aggregate } from '#telemetry';
import { ErrorCode, userError } from '#kit';
import type { SensorResolvers } from '../__generated__/resolvers.ts';
import { canReadSensor } from '../access.ts';

/** Most buckets one sensor's history may return. */
const MAX_POINTS = 10_000;
const DEFAULT_RANGE_MS = 24 * 3600_000;
/** Raw readings are offered for this long a range (8640 points at 10 s); longer ones need `every`. */
const MAX_RAW_RANGE_MS = 24 * 3600_000;

export const Sensor: SensorResolvers = {
  // Another tenant's sensor resolves to null, as one of an unknown gateway does: the router drops it.
  __resolveReference: async ({ id }, ctx) => ((await canReadSensor(ctx, id)) ? { id } : null),
  latest: async ({ id }, _, { loaders }) => {
    const point = await loaders.latest.load(id);
    return point ? { sensorId: id, ...point } : null;
  },
  readings: async ({ id }, args, { loaders }) => {
    const until = args.until ? toDate(args.until).getTime() : Date.now();
    const from = args.from ? toDate(args.from).getTime() : until - DEFAULT_RANGE_MS;
    if (from >= until)
      throw userError(
        ErrorCode.BAD_TIME_RANGE,
        `from (${new Date(from).toISOString()}) must be before until (${new Date(until).toISOString()})`,
      );
    const everySeconds = args.every ?? undefined;
    if (everySeconds && (until - from) / (everySeconds * 1000) > MAX_POINTS) {
      throw userError(
        ErrorCode.BAD_TIME_RANGE,
        `from..until in buckets of ${everySeconds}s gives more than ${MAX_POINTS} buckets; use a larger every or a shorter range`,
      );
    }
    if (!everySeconds && until - from > MAX_RAW_RANGE_MS) {
      throw userError(
        ErrorCode.BAD_TIME_RANGE,
        `raw readings cover ${MAX_RAW_RANGE_MS / 3_600_000} h at most; give every (e.g. "10min") for a longer range`,
      );
    }
    const aggregate = everySeconds ? (args.aggregate ?? Aggregate.AVG) : undefined;
    if (args.aggregate && !everySeconds) throw userError(ErrorCode.BAD_USER_INPUT, 'aggregate needs every (the bucket size)');
    const points = await loaders.series.load({ sensorId: id, from, until, everySeconds, aggregate });
    return points.map((point) => ({ sensorId: id, ...point }));
  },
};

function toDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value);
}
