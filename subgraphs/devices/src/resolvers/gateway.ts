import { requireScope, Scope } from '#auth';
import type { GatewayResolvers, GatewayStatus, MeshObservation } from '../__generated__/resolvers.ts';
import type { DevicesContext } from '../context.ts';
import type { GatewayModel } from '../models.ts';
import type { ObservedMesh } from '#iqrf';

export const Gateway: GatewayResolvers = {
  // Another tenant's gateway resolves to null, as a missing one does (the loader's wall); a shared
  // gateway resolves for every tenant with nodes on it.
  __resolveReference: ({ id }, { loaders, caller }) => {
    requireScope(caller, Scope.DEVICES_READ);
    return loaders.visibleGateway.load(id);
  },
  location: ({ location }) => ({ latitude: location.lat, longitude: location.lon, address: location.address ?? null }),
  lastSeen: ({ id }, _, { sources }) => {
    const seen = sources.iqrf.lastSeen(id);
    return seen === undefined ? null : new Date(seen);
  },
  status: (gateway, _, ctx) => liveStatus(gateway, ctx),
  // A mesh that cannot be known (its daemon fails and was never observed) is this gateway's error
  // alone: the field is nullable, so a list of gateways keeps every other one.
  mesh: async ({ id }, _, { loaders }) => {
    await loaders.mesh.load(id);
    return { gatewayId: id };
  },
  // The caller's own nodes' sensors only (the loader's wall): on a shared gateway, not the other tenants'.
  sensors: async ({ id }, { quantity }, { loaders }) => {
    const sensors = await loaders.gatewaySensors.load(id);
    return quantity ? sensors.filter((s) => s.quantity === quantity) : sensors;
  },
  // The error, if any, is told once, on `mesh` and `sensors`.
  observation: ({ id }, _, { loaders }) => loaders.mesh.load(id).then(observationOf, () => null),
};

/** Freshness and time of a mesh as the API tells them. */
export function observationOf(mesh: ObservedMesh | null): MeshObservation | null {
  return mesh && { freshness: mesh.freshness, observedAt: mesh.observedAt };
}

/**
 * The registry's status, corrected by the gateway's liveness: ONLINE when its daemon answered
 * (a heartbeat, anything) within the online window, OFFLINE when not. Until the subgraph has been
 * up for one window it may not have heard a gateway yet: the registry's status stands meanwhile.
 */
export function liveStatus(gateway: GatewayModel, { sources, services }: DevicesContext): GatewayStatus {
  if (gateway.status === 'DECOMMISSIONED') return 'DECOMMISSIONED';
  const seen = sources.iqrf.lastSeen(gateway.id);
  const now = Date.now();
  if (seen !== undefined && now - seen <= sources.onlineWindowMs) return 'ONLINE';
  if (seen === undefined && now - services.startedAt <= sources.onlineWindowMs) return gateway.status;
  return gateway.status === 'PROVISIONING' ? 'PROVISIONING' : 'OFFLINE';
}
