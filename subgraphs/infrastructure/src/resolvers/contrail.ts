import type { Resolvers } from '../__generated__/resolvers.ts';

export const contrailResolvers: Resolvers = {
  VirtualNetwork: {
    tenant: (network) => network.project,
  },
  VRouter: {
    virtualNetworks: async (vrouter, _args, ctx) => {
      const perIpam = await ctx.loaders.virtualNetworksByIpam.loadMany(vrouter.networkIpamRefs.map((r) => r.uuid));
      const networks = new Map<string, Exclude<(typeof perIpam)[number], Error>[number]>();
      for (const list of perIpam) {
        if (list instanceof Error) throw list;
        for (const network of list) networks.set(network.uuid, network);
      }
      return [...networks.values()];
    },
  },
};
