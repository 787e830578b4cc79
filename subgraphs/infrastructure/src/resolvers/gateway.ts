import type { Resolvers } from '../__generated__/resolvers.ts';

/** `Gateway` as extended here: its node, pods and vRouter, all named after the gateway id. */
export const gatewayResolvers: Resolvers = {
  Gateway: {
    // Nothing to fetch for the reference itself: each field below loads (batched) what it needs.
    __resolveReference: (reference) => ({ id: reference.id }),
    node: (gateway, _args, ctx) => ctx.loaders.nodeByGateway.load(gateway.id),
    pods: (gateway, _args, ctx) => ctx.loaders.podsByNode.load(gateway.id),
    vrouter: (gateway, _args, ctx) => ctx.loaders.vrouterByName.load(gateway.id),
  },
};
