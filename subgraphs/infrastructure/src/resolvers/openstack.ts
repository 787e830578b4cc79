import type { Resolvers } from '../__generated__/resolvers.ts';

export const openStackResolvers: Resolvers = {
  Hypervisor: {
    servers: (hypervisor, _args, ctx) => ctx.loaders.serversByHypervisor.load(hypervisor.hostname),
  },
  Network: {
    subnetIds: (network) => network.subnets,
  },
};
