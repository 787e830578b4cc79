import { ErrorCode, userError } from '#kit';
import { parseSensorId } from '#registry';
import type { Reading } from '#telemetry';
import type { SubscriptionResolvers } from '../__generated__/resolvers.ts';
import { liveReadings } from '../sources/live-stream.ts';
import type { ReadingModel } from '../models.ts';

const MAX_SENSOR_IDS = 1000;

export const Subscription: SubscriptionResolvers = {
  readings: {
    subscribe: (_, { sensorIds, gatewayId, quantity }, { sources }) => {
      if (!sensorIds?.length && !gatewayId) throw userError(ErrorCode.BAD_USER_INPUT, 'Give sensorIds or gatewayId: a subscription to every sensor of the platform is not offered');
      if (sensorIds && sensorIds.length > MAX_SENSOR_IDS) throw userError(ErrorCode.BAD_USER_INPUT, `At most ${MAX_SENSOR_IDS} sensorIds per subscription`);
      const malformed = sensorIds?.find((id) => !parseSensorId(id));
      if (malformed !== undefined) throw userError(ErrorCode.BAD_USER_INPUT, `"${malformed}" is not a sensor id (<gatewayId>.<nodeAddress>.<sensorIndex>)`, { field: 'sensorIds' });
      const filter = {
        ...(sensorIds?.length ? { sensorIds: new Set(sensorIds) } : {}),
        ...(gatewayId ? { gatewayId } : {}),
        ...(quantity ? { quantity } : {}),
      };
      return liveReadings(sources.bus, filter, sources.subscriberQueueLimit);
    },
    resolve: (reading: Reading): ReadingModel => ({ sensorId: reading.sensorId, time: reading.time, value: reading.value }),
  },
};
