import { requireScope, Scope } from '#auth';
import { canSeeGateway, tenantsSeenBy } from '../loaders.ts';
import { clipInput, ErrorCode, quoteInput, userError } from '#kit';
import type { QueryResolvers } from '../__generated__/resolvers.ts';
import { liveStatus } from './gateway.ts';

/**
 * Every root field needs `devices:read`; lists hold only the gateways the caller's tenant owns or
 * has nodes on (all for `admin`), and of those only its own nodes' sensors.
 */
export const Query: QueryResolvers = {
  async gateways(_, { tenant, status }, ctx) {
    const { sources, caller } = ctx;
    requireScope(caller, Scope.DEVICES_READ);
    const all = await sources.registry.list();
    return (
      all
        .filter((g) => canSeeGateway(caller, g))
        // Among the tenants the caller may know of (`Gateway.tenants`): naming another guest of a
        // shared gateway finds nothing, as naming any other tenant does.
        .filter((g) => (tenant ? tenantsSeenBy(caller, g).includes(tenant) : true))
        // The status the list shows: ONLINE and OFFLINE are the heartbeat's, not stored.
        .filter((g) => (status ? liveStatus(g, ctx) === status : true))
        .sort((a, b) => a.id.localeCompare(b.id))
    );
  },
  async gateway(_, { id }, { loaders, caller }) {
    requireScope(caller, Scope.DEVICES_READ);
    const gateway = await loaders.visibleGateway.load(id);
    if (!gateway) throw userError(ErrorCode.NOT_FOUND, `No gateway ${quoteInput(id)}`, { id: clipInput(id) });
    return gateway;
  },
  // Another tenant's sensor, on a gateway the caller shares with it too, is NOT_FOUND as an unknown one.
  async sensor(_, { id }, { loaders, caller }) {
    requireScope(caller, Scope.DEVICES_READ);
    const sensor = await loaders.sensor.load(id);
    if (!sensor)
      throw userError(ErrorCode.NOT_FOUND, `No sensor ${quoteInput(id)} (ids look like <gatewayId>.<nodeAddress>.<sensorIndex>)`, {
        id: clipInput(id),
      });
    return sensor;
  },
  async sensors(_, { gatewayId, quantity }, { sources, loaders, caller }) {
    requireScope(caller, Scope.DEVICES_READ);
    let gatewayIds: string[];
    if (gatewayId) {
      if (!(await loaders.visibleGateway.load(gatewayId)))
        throw userError(ErrorCode.NOT_FOUND, `No gateway ${quoteInput(gatewayId)}`, { id: clipInput(gatewayId) });
      gatewayIds = [gatewayId];
    } else {
      gatewayIds = (await sources.registry.list()).filter((g) => canSeeGateway(caller, g)).map((g) => g.id);
    }
    const lists = await loaders.gatewaySensors.loadMany(gatewayIds);
    return lists.flatMap((list) => (list instanceof Error ? [] : list)).filter((s) => !quantity || s.quantity === quantity);
  },
};
