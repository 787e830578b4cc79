import { requireScope, Scope } from '#auth';
import type { Resolvers } from '../__generated__/resolvers.ts';
import { virtualInterfaces } from './contrail.ts';

/**
 * `Query.datacenter` (needs `infra:read`) and its three views; each list is fetched once per
 * operation and holds only what the caller's tenant wall lets through (see `tenantWall`).
 */
export const datacenterResolvers: Resolvers = {
  Query: {
    datacenter: (_root, _args, ctx) => {
      requireScope(ctx.caller, Scope.INFRA_READ);
      return {};
    },
  },
  Datacenter: {
    openstack: () => ({}),
    contrail: () => ({}),
    kubernetes: () => ({}),
  },
  OpenStackView: {
    projects: (_view, _args, ctx) => ctx.loaders.lists.projects(),
    servers: (_view, _args, ctx) => ctx.loaders.lists.servers(),
    hypervisors: (_view, _args, ctx) => ctx.loaders.lists.hypervisors(),
    networks: (_view, _args, ctx) => ctx.loaders.lists.networks(),
  },
  ContrailView: {
    virtualNetworks: (_view, _args, ctx) => ctx.loaders.lists.virtualNetworks(),
    vRouters: (_view, _args, ctx) => ctx.loaders.lists.virtualRouters(),
    bgpPeers: (_view, _args, ctx) => ctx.loaders.lists.bgpRouters(),
    virtualInterfaces: async (_view, _args, ctx) => virtualInterfaces(await ctx.loaders.lists.virtualInterfaces(), ctx),
  },
  KubernetesView: {
    nodes: (_view, _args, ctx) => ctx.loaders.lists.nodes(),
    pods: (_view, args, ctx) => (args.namespace ? ctx.loaders.podsByNamespace.load(args.namespace) : ctx.loaders.lists.pods()),
    namespaces: (_view, _args, ctx) => ctx.loaders.lists.namespaces(),
  },
};
