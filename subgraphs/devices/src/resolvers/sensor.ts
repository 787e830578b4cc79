import { hasScope, requireScope, Scope } from '#auth';
import type { SensorResolvers } from '../__generated__/resolvers.ts';
import { requireGateway } from '../loaders.ts';

export const Sensor: SensorResolvers = {
  // Another tenant's sensor resolves to null, as a missing one does (the loader's wall), also on a
  // gateway the caller shares with that tenant; a sensor open data publishes (a crossing's
  // counter) is described to every caller while its node is its publisher's.
  __resolveReference: async ({ id }, { loaders, caller, sources }) => {
    if (sources.openSensorIds.has(id)) {
      const open = await loaders.openSensor.load(id);
      if (open || !hasScope(caller, Scope.DEVICES_READ)) return open;
    }
    requireScope(caller, Scope.DEVICES_READ);
    return loaders.sensor.load(id);
  },
  room: ({ room }) => room ?? null,
  // An open sensor's gateway is its owner's: only its tenants (or an operator) see it.
  gateway: ({ gatewayId }, _, { loaders, caller }) => requireGateway(loaders, caller, gatewayId),
  // The node's fields but its id are its tenant's, walled as the gateway and its nodes are (`MeshNode`).
  node: ({ gatewayId, address }) => ({ gatewayId, address }),
};
