import { requireScope, Scope } from '#auth';
import type { GatewayResolvers, GatewayStatus } from '../__generated__/resolvers.ts';
import type { DevicesContext } from '../context.ts';
import type { GatewayModel } from '../models.ts';

export const Gateway: GatewayResolvers = {
  // Another tenant's gateway resolves to null, as a missing one does (the loader's wall).
  __resolveReference: ({ id }, { loaders, caller }) => {
    requireScope(caller, Scope.DEVICES_READ);
    return loaders.gateway.load(id);
  },
  location: ({ location }) => ({ latitude: location.lat, longitude: location.lon, address: location.address ?? null }),
  lastSeen: ({ id }, _, { sources }) => {
    const seen = sources.iqrf.lastSeen(id);
    return seen === undefined ? null : new Date(seen);
  },
  status: (gateway, _, ctx) => liveStatus(gateway, ctx),
  mesh: ({ id }) => ({ gatewayId: id }),
  sensors: async ({ id }, { quantity }, { loaders }) => {
    const sensors = await loaders.gatewaySensors.load(id);
    return quantity ? sensors.filter((s) => s.quantity === quantity) : sensors;
  },
};

/** The registry's status, corrected by whether the gateway's daemon answered lately. */
function liveStatus(gateway: GatewayModel, { sources }: DevicesContext): GatewayStatus {
  if (gateway.status === 'DECOMMISSIONED') return 'DECOMMISSIONED';
  const seen = sources.iqrf.lastSeen(gateway.id);
  if (seen !== undefined && Date.now() - seen <= sources.onlineWindowMs) return 'ONLINE';
  return gateway.status === 'PROVISIONING' ? 'PROVISIONING' : 'OFFLINE';
}
