import { isAdmin, requireScope, Scope } from '#auth';
import type { Resolvers } from '../__generated__/resolvers.ts';

/** `Gateway` as extended here: its node, pods and vRouter, all named after the gateway id. */
export const gatewayResolvers: Resolvers = {
  Gateway: {
    /**
     * The data center knows a gateway's tenant by its Kubernetes node's label, and a shared
     * gateway's guests by their collector pods and interfaces there (`tenantWall`): for a tenant's
     * caller, a gateway whose node it sees neither as owner nor as guest (another tenant's, or
     * none) resolves to null and the router drops it. Operators get every id, with null node and
     * vRouter when unknown.
     */
    __resolveReference: async (reference, ctx) => {
      requireScope(ctx.caller, Scope.INFRA_READ);
      if (isAdmin(ctx.caller) || (await ctx.loaders.nodeByGateway.load(reference.id))) return { id: reference.id };
      return null;
    },
    node: (gateway, _args, ctx) => ctx.loaders.nodeByGateway.load(gateway.id),
    pods: (gateway, _args, ctx) => ctx.loaders.podsByNode.load(gateway.id),
    vrouter: (gateway, _args, ctx) => ctx.loaders.vrouterByName.load(gateway.id),
  },
};
