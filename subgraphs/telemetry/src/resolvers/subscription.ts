import { GraphQLError } from 'graphql';
import { requireScope, Scope } from '#auth';
import { ErrorCode, isInstantInBounds, quoteInput, userError } from '#kit';
import { parseSensorId, type GatewayRecord } from '#registry';
import { Aggregate } from '#telemetry';
import type { SubscriptionReadingBatchesArgs, SubscriptionReadingsArgs, SubscriptionResolvers } from '../__generated__/resolvers.ts';
import { canReadGateway, canReadReading, canReadSensor, openTenant } from '../access.ts';
import type { TelemetryContext } from '../context.ts';
import { createLoaders } from '../loaders.ts';
import type { ReadingModel } from '../models.ts';
import { BucketStream } from '../sources/bucket-stream.ts';
import { decodeCursor, flatten, LiveBatches, type LiveReading, type ReadingFilter } from '../sources/live-stream.ts';

const MAX_SENSOR_IDS = 1000;
const MAX_HISTORY_BUCKETS = 10_000;
const MAX_RAW_HISTORY_MS = 6 * 3_600_000;

export const Subscription: SubscriptionResolvers = {
  readings: {
    subscribe: async (_, args, ctx) => {
      const filter = await readingFilter(args, ctx);
      if (args.from || args.every || args.aggregate) return historyThenLive(args, filter, ctx);
      return flatten(await liveBatches(args, filter, ctx));
    },
    resolve: (event: LiveReading | ReadingModel | GraphQLError, _args: unknown, ctx: TelemetryContext): ReadingModel => {
      if (event instanceof GraphQLError) throw event;
      freshLoaders(ctx);
      return 'reading' in event ? toModel(event) : event;
    },
  },
  readingBatches: {
    subscribe: async (_, args, ctx) => liveBatches(args, await readingFilter(args, ctx), ctx),
    resolve: (batch: LiveReading[] | GraphQLError, _args: unknown, ctx: TelemetryContext): ReadingModel[] => {
      if (batch instanceof GraphQLError) throw batch;
      freshLoaders(ctx);
      return batch.map(toModel);
    },
  },
};

/**
 * A subscription's context lives as long as the subscription; each event gets new DataLoaders,
 * so that `latest` is not the first event's and caches do not grow event after event.
 */
function freshLoaders(ctx: TelemetryContext): void {
  ctx.loaders = createLoaders(ctx.sources);
}

function toModel({ reading, cursor }: LiveReading): ReadingModel {
  return { sensorId: reading.sensorId, time: reading.time, value: reading.value, cursor };
}

/**
 * The filters of a live subscription, checked: a subscription to the whole platform is not
 * offered, and what they name must be the caller's. The filter also carries the caller's wall,
 * which every reading passes before it is given out (live or replayed after a cursor).
 */
async function readingFilter(args: SubscriptionReadingBatchesArgs, ctx: TelemetryContext): Promise<ReadingFilter> {
  const { sensorIds, gatewayId, quantity, room } = args;
  if (!sensorIds?.length && !gatewayId)
    throw userError(ErrorCode.BAD_USER_INPUT, 'Give sensorIds or gatewayId: a subscription to every sensor of the platform is not offered');
  if (sensorIds && sensorIds.length > MAX_SENSOR_IDS)
    throw userError(ErrorCode.BAD_USER_INPUT, `At most ${MAX_SENSOR_IDS} sensorIds per subscription`);
  const malformed = sensorIds?.find((id) => !parseSensorId(id));
  if (malformed !== undefined)
    throw userError(ErrorCode.BAD_USER_INPUT, `"${malformed}" is not a sensor id (<gatewayId>.<nodeAddress>.<sensorIndex>)`, {
      field: 'sensorIds',
    });
  await checkAccess(args, ctx);
  const gateways = await gatewaysAtStart(args, ctx);
  const named = new Set(sensorIds ?? []);
  return {
    // Another tenant's open sensors only when named: a gateway's stream is the caller's own nodes'
    // readings (a shared gateway's other tenants publish theirs to whoever asks for them by id).
    readable: (reading) =>
      canReadReading(ctx.caller, reading, (sensorId, gatewayId) =>
        named.has(sensorId) ? openTenant(ctx.sources, sensorId, gateways.get(gatewayId)) : null,
      ),
    ...(sensorIds?.length ? { sensorIds: new Set(sensorIds) } : {}),
    ...(gatewayId ? { gatewayId } : {}),
    ...(quantity ? { quantity } : {}),
    ...(room ? { room } : {}),
  };
}

/**
 * Another tenant's gateway or sensor is NOT_FOUND, with the message an unknown one gets. Sensors
 * published as open data need no scope; a gateway, or any other sensor, `telemetry:read`.
 */
async function checkAccess({ sensorIds, gatewayId }: SubscriptionReadingBatchesArgs, ctx: TelemetryContext): Promise<void> {
  if (gatewayId) {
    requireScope(ctx.caller, Scope.TELEMETRY_READ);
    if (!(await canReadGateway(ctx, gatewayId)))
      throw userError(ErrorCode.NOT_FOUND, `No gateway "${gatewayId}"`, { id: gatewayId, field: 'gatewayId' });
  }
  const ids = sensorIds ?? [];
  const readable = await Promise.all(ids.map((id) => canReadSensor(ctx, id)));
  const hidden = ids.find((_, i) => !readable[i]);
  if (hidden !== undefined) throw userError(ErrorCode.NOT_FOUND, `No sensor "${hidden}"`, { id: hidden, field: 'sensorIds' });
}

/**
 * The registry records of the gateways a subscription names, when it starts: an open sensor's
 * live readings are those of the tenant that published it then (see `canReadReading`).
 */
async function gatewaysAtStart(
  { sensorIds, gatewayId }: SubscriptionReadingBatchesArgs,
  ctx: TelemetryContext,
): Promise<Map<string, GatewayRecord | null>> {
  const ids = [...new Set([...(sensorIds ?? []).map((id) => parseSensorId(id)!.gatewayId), ...(gatewayId ? [gatewayId] : [])])];
  const records = await ctx.loaders.gateway.loadMany(ids);
  return new Map(ids.map((id, i) => [id, records[i] instanceof Error ? null : (records[i] ?? null)]));
}

function liveBatches(
  { after }: SubscriptionReadingBatchesArgs,
  filter: ReadingFilter,
  { sources }: TelemetryContext,
): Promise<LiveBatches> {
  return new LiveBatches(sources.bus, filter, sources.subscriberQueueLimit, after ? decodeCursor(after) : undefined).prepare();
}

/**
 * `from` (and `every`): history from the store, then live. With `every`, every event is a bucket
 * read from the store as `Sensor.readings` reads it; without, raw history then the live readings
 * measured after it.
 */
async function historyThenLive(
  args: SubscriptionReadingsArgs,
  filter: ReadingFilter,
  ctx: TelemetryContext,
): Promise<AsyncIterableIterator<LiveReading | ReadingModel | GraphQLError>> {
  const { sources } = ctx;
  if (!args.sensorIds?.length)
    throw userError(ErrorCode.BAD_USER_INPUT, 'from, every and aggregate need sensorIds (history is read per sensor)', {
      field: 'sensorIds',
    });
  const bucketCursor = args.after === undefined || args.after === null ? undefined : /^bucket:(\d{1,15})$/.exec(args.after);
  if (bucketCursor === null)
    throw userError(
      ErrorCode.BAD_USER_INPUT,
      `after with from/every takes the cursor of a bucket event (bucket:<ms>), not ${quoteInput(args.after!)}`,
      { field: 'after' },
    );
  if (args.aggregate && !args.every)
    throw userError(ErrorCode.BAD_USER_INPUT, 'aggregate needs every (the bucket size)', { field: 'aggregate' });
  const now = Date.now();
  // The DateTime scalar bounds from to 1970-2100; a cursor is checked the same way, so that no
  // bucket is waited for years ahead.
  const from = args.from ? new Date(args.from).getTime() : now;
  if (from > now) throw userError(ErrorCode.BAD_TIME_RANGE, 'from must not be in the future');
  // Each sensor under its node's tenant now: an earlier owner's history is never read.
  const series = (await ctx.loaders.seriesKeys(args.sensorIds)).filter((key) => key !== undefined);
  if (args.every) {
    const cursorTime = bucketCursor ? Number(bucketCursor[1]) : undefined;
    if (cursorTime !== undefined && !(isInstantInBounds(cursorTime) && cursorTime <= now)) {
      throw userError(
        ErrorCode.BAD_USER_INPUT,
        `after ${quoteInput(args.after!)} names no bucket between 1970 and now: give the cursor of a bucket event you received`,
        { field: 'after' },
      );
    }
    const resumeFrom = cursorTime !== undefined ? cursorTime + args.every * 1000 : from;
    if ((now - resumeFrom) / (args.every * 1000) > MAX_HISTORY_BUCKETS)
      throw userError(ErrorCode.BAD_TIME_RANGE, `more than ${MAX_HISTORY_BUCKETS} buckets of history; use a larger every or a later from`);
    return flatten(
      new BucketStream({
        store: sources.store,
        series,
        from: resumeFrom,
        everySeconds: args.every,
        aggregate: args.aggregate ?? Aggregate.AVG,
      }),
    );
  }
  // Listen first, then read history up to now: live readings measured after now follow it.
  if (now - from > MAX_RAW_HISTORY_MS)
    throw userError(
      ErrorCode.BAD_TIME_RANGE,
      `raw history is offered for ${MAX_RAW_HISTORY_MS / 3_600_000} h at most; give every for longer ranges`,
    );
  const live = new LiveBatches(sources.bus, { ...filter, after: now }, sources.subscriberQueueLimit);
  let history;
  try {
    history = series.length ? await sources.store.query({ series, from, until: now }) : [];
  } catch (error) {
    await live.return();
    throw error;
  }
  const past: ReadingModel[] = history
    .flatMap((points, i) => points.map((point) => ({ sensorId: series[i]!.sensorId, ...point })))
    .sort((a, b) => a.time - b.time);
  return flatten(live, past);
}
