import { requireScope, Scope } from '#auth';
import type { SensorResolvers } from '../__generated__/resolvers.ts';
import { requireGateway } from '../loaders.ts';

export const Sensor: SensorResolvers = {
  // Another tenant's sensor resolves to null, as a missing one does (the loader's wall); a
  // sensor open data publishes (a crossing's counter) is described to every caller.
  __resolveReference: ({ id }, { loaders, caller, sources }) => {
    if (sources.openSensorIds.has(id)) return loaders.openSensor.load(id);
    requireScope(caller, Scope.DEVICES_READ);
    return loaders.sensor.load(id);
  },
  room: ({ room }) => room ?? null,
  // An open sensor's gateway is its owner's: only that tenant (or an operator) sees it.
  gateway: ({ gatewayId }, _, { loaders, caller }) => requireGateway(loaders, caller, gatewayId),
  // The node's fields but its id are its gateway's, walled as the gateway is (`MeshNode`).
  node: ({ gatewayId, address }) => ({ gatewayId, address }),
};
