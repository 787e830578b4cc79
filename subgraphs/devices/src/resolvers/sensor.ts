import { hasScope, requireScope, Scope } from '#auth';
import { ErrorCode, userError } from '#kit';
import type { SensorResolvers } from '../__generated__/resolvers.ts';

export const Sensor: SensorResolvers = {
  // Another tenant's sensor resolves to null, as a missing one does (the loader's wall); a
  // sensor open data publishes (a crossing's counter) is described to every open-data caller.
  __resolveReference: ({ id }, { loaders, caller, sources }) => {
    if (sources.openSensorIds.has(id) && hasScope(caller, Scope.OPENDATA_READ)) return loaders.openSensor.load(id);
    requireScope(caller, Scope.DEVICES_READ);
    return loaders.sensor.load(id);
  },
  room: ({ room }) => room ?? null,
  // An open sensor's gateway is its owner's: only that tenant (or an operator) sees it.
  gateway: async ({ gatewayId }, _, { loaders, caller }) => {
    const gateway = await loaders.gateway.load(gatewayId);
    if (gateway) return gateway;
    requireScope(caller, Scope.DEVICES_READ);
    throw userError(ErrorCode.NOT_FOUND, `No gateway "${gatewayId}"`, { id: gatewayId });
  },
  node: ({ gatewayId, address }) => ({ gatewayId, address }),
};
