import { requireScope, Scope } from '#auth';
import type { SensorResolvers } from '../__generated__/resolvers.ts';

export const Sensor: SensorResolvers = {
  // Another tenant's sensor resolves to null, as a missing one does (the loader's wall).
  __resolveReference: ({ id }, { loaders, caller }) => {
    requireScope(caller, Scope.DEVICES_READ);
    return loaders.sensor.load(id);
  },
  room: ({ room }) => room ?? null,
  gateway: async ({ gatewayId }, _, { loaders }) => (await loaders.gateway.load(gatewayId))!,
  node: ({ gatewayId, address }) => ({ gatewayId, address }),
};
