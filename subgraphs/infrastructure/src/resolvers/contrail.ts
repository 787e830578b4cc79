import type { ContrailVirtualMachineInterface } from '#cloud';
import type { ResolversParentTypes, Resolvers } from '../__generated__/resolvers.ts';
import type { InfrastructureContext } from '../context.ts';

type VirtualNetwork = ResolversParentTypes['VirtualNetwork'];

export const contrailResolvers: Resolvers = {
  VirtualNetwork: {
    tenant: (network) => network.project,
  },
  VRouter: {
    virtualNetworks: async (vrouter, _args, ctx) => {
      const [perIpam, interfaces] = await Promise.all([
        ctx.loaders.virtualNetworksByIpam.loadMany(vrouter.networkIpamRefs.map((r) => r.uuid)),
        ctx.loaders.interfacesByHost.load(vrouter.name),
      ]);
      const networks = new Map<string, VirtualNetwork>();
      for (const list of perIpam) {
        if (list instanceof Error) throw list;
        for (const network of list) networks.set(network.uuid, network);
      }
      for (const network of await interfaceNetworks(interfaces, ctx)) if (network) networks.set(network.uuid, network);
      return [...networks.values()];
    },
    interfaces: async (vrouter, _args, ctx) => virtualInterfaces(await ctx.loaders.interfacesByHost.load(vrouter.name), ctx),
  },
};

/** Interfaces as the schema has them, each with the network it is on (when the caller sees it). */
export async function virtualInterfaces(interfaces: readonly ContrailVirtualMachineInterface[], ctx: InfrastructureContext) {
  const networks = await interfaceNetworks(interfaces, ctx);
  return interfaces.map((vmi, i) => ({
    uuid: vmi.uuid,
    name: vmi.name,
    fqName: vmi.fqName,
    tenant: vmi.project,
    virtualNetwork: networks[i] ?? null,
    macAddresses: vmi.macAddresses,
    host: vmi.hostId ?? null,
  }));
}

/** The network each interface is on, in order; null where the caller sees none. */
async function interfaceNetworks(
  interfaces: readonly ContrailVirtualMachineInterface[],
  ctx: InfrastructureContext,
): Promise<Array<VirtualNetwork | null>> {
  const loaded = await ctx.loaders.virtualNetwork.loadMany(interfaces.map((vmi) => vmi.virtualNetworkRefs[0]?.uuid ?? ''));
  return loaded.map((network) => {
    if (network instanceof Error) throw network;
    return network;
  });
}
