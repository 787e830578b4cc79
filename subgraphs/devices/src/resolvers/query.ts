import { canSeeTenant, requireScope, Scope } from '#auth';
import { clipInput, ErrorCode, quoteInput, userError } from '#kit';
import type { QueryResolvers } from '../__generated__/resolvers.ts';
import { liveStatus } from './gateway.ts';

/** Every root field needs `devices:read`; lists hold only the caller's tenant's gateways (all for `admin`). */
export const Query: QueryResolvers = {
  async gateways(_, { tenant, status }, ctx) {
    const { sources, caller } = ctx;
    requireScope(caller, Scope.DEVICES_READ);
    const all = await sources.registry.list();
    return (
      all
        .filter((g) => canSeeTenant(caller, g.tenant))
        .filter((g) => (tenant ? g.tenant === tenant : true))
        // The status the list shows: ONLINE and OFFLINE are the heartbeat's, not stored.
        .filter((g) => (status ? liveStatus(g, ctx) === status : true))
        .sort((a, b) => a.id.localeCompare(b.id))
    );
  },
  async gateway(_, { id }, { loaders, caller }) {
    requireScope(caller, Scope.DEVICES_READ);
    const gateway = await loaders.gateway.load(id);
    if (!gateway) throw userError(ErrorCode.NOT_FOUND, `No gateway ${quoteInput(id)}`, { id: clipInput(id) });
    return gateway;
  },
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
      if (!(await loaders.gateway.load(gatewayId)))
        throw userError(ErrorCode.NOT_FOUND, `No gateway ${quoteInput(gatewayId)}`, { id: clipInput(gatewayId) });
      gatewayIds = [gatewayId];
    } else {
      gatewayIds = (await sources.registry.list()).filter((g) => canSeeTenant(caller, g.tenant)).map((g) => g.id);
    }
    const lists = await loaders.gatewaySensors.loadMany(gatewayIds);
    return lists.flatMap((list) => (list instanceof Error ? [] : list)).filter((s) => !quantity || s.quantity === quantity);
  },
};
