import { requireScope, Scope } from '#auth';
import { ErrorCode, quoteInput, userError } from '#kit';
import type {
  CollectorDeploymentResolvers,
  MeshDiscoveryEventResolvers,
  MeshDiscoveryResolvers,
  SubscriptionResolvers,
} from '../__generated__/resolvers.ts';
import type { DevicesContext } from '../context.ts';
import { createLoaders, requireGateway } from '../loaders.ts';
import type { MeshDiscoveryEventModel, MeshDiscoveryModel } from '../models.ts';

export const Subscription: SubscriptionResolvers = {
  meshDiscovery: {
    subscribe: async (_, { gatewayId, discoveryId }, ctx) => {
      requireScope(ctx.caller, Scope.DEVICES_READ);
      // The loader's tenant wall: another tenant's gateway is not found, like an unknown one.
      if (!(await ctx.loaders.gateway.load(gatewayId)))
        throw userError(ErrorCode.NOT_FOUND, `No gateway ${quoteInput(gatewayId)}`, { field: 'gatewayId' });
      const events = ctx.services.discoveries.events(gatewayId, discoveryId ?? undefined);
      if (!events)
        throw userError(
          ErrorCode.NOT_FOUND,
          `No mesh discovery ${quoteInput(discoveryId ?? '')} of gateway ${quoteInput(gatewayId)} (runs are kept 10 minutes after they end)`,
          { field: 'discoveryId' },
        );
      // The wall is checked again with each event: a subscription outlives its check, and the
      // gateway may be decommissioned and its id registered by another tenant meanwhile.
      return whileVisible(events, async () => (await createLoaders(ctx.sources, ctx.caller).gateway.load(gatewayId)) !== null);
    },
    resolve: (event: MeshDiscoveryEventModel, _args: unknown, ctx: DevicesContext): MeshDiscoveryEventModel => {
      // The context lives as long as the subscription: each event reads the mesh afresh.
      ctx.loaders = createLoaders(ctx.sources, ctx.caller);
      return event;
    },
  },
};

/** A run's fields: live while it is known, else as `discoverMesh` stored them. */
export const MeshDiscovery: MeshDiscoveryResolvers = {
  gateway: ({ gatewayId }, _, { loaders, caller }) => requireGateway(loaders, caller, gatewayId),
  state: (run, _, ctx) => live(run, ctx).state,
  finishedAt: (run, _, ctx) => live(run, ctx).finishedAt,
  error: (run, _, ctx) => live(run, ctx).error,
  newNodes: (run, _, ctx) => live(run, ctx).newNodes.map((address) => ({ gatewayId: run.gatewayId, address })),
};

export const MeshDiscoveryEvent: MeshDiscoveryEventResolvers = {
  discovery: ({ discoveryId }, _, { services }) => services.discoveries.get(discoveryId)!,
  newNodes: ({ gatewayId, newNodes }) => newNodes.map((address) => ({ gatewayId, address })),
};

export const CollectorDeployment: CollectorDeploymentResolvers = {
  podName: ({ name }) => name,
  nodeSelector: ({ nodeSelector }) => Object.entries(nodeSelector).map(([name, value]) => ({ name, value })),
};

function live(run: MeshDiscoveryModel, { services }: DevicesContext): MeshDiscoveryModel {
  return services.discoveries.get(run.id) ?? run;
}

/**
 * `events` until one arrives while `visible()` is false: the subscription then ends, without it.
 * Unsubscribing returns `events` at once (as `EventQueue` does), even while an event is awaited.
 */
function whileVisible<T>(events: AsyncIterableIterator<T>, visible: () => Promise<boolean>): AsyncIterableIterator<T> {
  const done = async (): Promise<IteratorResult<T>> => (await events.return?.()) ?? { done: true, value: undefined };
  return {
    async next() {
      const result = await events.next();
      return result.done || (await visible()) ? result : done();
    },
    return: done,
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
