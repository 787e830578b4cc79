import type { SensorResolvers } from '../__generated__/resolvers.ts';

export const Sensor: SensorResolvers = {
  __resolveReference: ({ id }, { loaders }) => loaders.sensor.load(id),
  room: ({ room }) => room ?? null,
  gateway: async ({ gatewayId }, _, { loaders }) => (await loaders.gateway.load(gatewayId))!,
  node: ({ gatewayId, address }) => ({ gatewayId, address }),
};
