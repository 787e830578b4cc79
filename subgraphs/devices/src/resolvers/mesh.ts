import { requireScope, Scope } from '#auth';
import type { TopologyDevice } from '#iqrf';
import type { MeshNetworkResolvers, MeshNodeResolvers } from '../__generated__/resolvers.ts';
import type { DevicesContext } from '../context.ts';
import { requireGateway } from '../loaders.ts';
import { observationOf } from './gateway.ts';
import type { MeshNodeModel } from '../models.ts';

export const MeshNetwork: MeshNetworkResolvers = {
  gateway: ({ gatewayId }, _, { loaders, caller }) => requireGateway(loaders, caller, gatewayId),
  coordinator: async ({ gatewayId }, _, ctx) =>
    (await meshNodes(gatewayId, ctx)).find((n) => n.address === 0) ?? { gatewayId, address: 0, parent: null, hops: 0 },
  nodes: async ({ gatewayId }, _, ctx) => (await meshNodes(gatewayId, ctx)).filter((n) => n.address !== 0),
  size: async ({ gatewayId }, _, ctx) => (await meshNodes(gatewayId, ctx)).filter((n) => n.address !== 0).length,
  observation: async ({ gatewayId }, _, { loaders }) => observationOf(await loaders.mesh.load(gatewayId))!,
};

export const MeshNode: MeshNodeResolvers = {
  __resolveReference: async ({ id }, ctx) => {
    requireScope(ctx.caller, Scope.DEVICES_READ);
    const [gatewayId, address] = splitNodeId(id);
    // A node of a gateway the caller may not see (another tenant's, or none) is not asked for.
    if (gatewayId === undefined || !(await ctx.loaders.gateway.load(gatewayId))) return null;
    return (await meshNodes(gatewayId, ctx)).find((n) => n.address === address) ?? null;
  },
  id: ({ gatewayId, address }) => `${gatewayId}.${address}`,
  // Beyond its id, a node is its gateway's: reached from an open-data sensor (`Sensor.node`) of
  // a gateway the caller may not see, every field is that gateway's error (`requireGateway`).
  role: async (node, _, { loaders, caller }) => {
    await requireGateway(loaders, caller, node.gatewayId);
    if (node.address === 0) return 'COORDINATOR';
    const sensors = await loaders.gatewaySensors.load(node.gatewayId);
    return sensors.some((s) => s.address === node.address) ? 'SENSOR' : 'ROUTER';
  },
  parent: async (node, _, ctx) => {
    await requireGateway(ctx.loaders, ctx.caller, node.gatewayId);
    const parent = (await resolved(node, ctx)).parent;
    return parent === null || parent === undefined ? null : { gatewayId: node.gatewayId, address: parent };
  },
  hops: async (node, _, ctx) => {
    await requireGateway(ctx.loaders, ctx.caller, node.gatewayId);
    return (await resolved(node, ctx)).hops ?? 0;
  },
  name: async ({ gatewayId, address }, _, { loaders, caller }) =>
    (await requireGateway(loaders, caller, gatewayId)).nodes[address]?.name ?? null,
  room: async ({ gatewayId, address }, _, { loaders, caller }) =>
    (await requireGateway(loaders, caller, gatewayId)).nodes[address]?.room ?? null,
  gateway: ({ gatewayId }, _, { loaders, caller }) => requireGateway(loaders, caller, gatewayId),
  sensors: async ({ gatewayId, address }, _, { loaders, caller }) => {
    await requireGateway(loaders, caller, gatewayId);
    return (await loaders.gatewaySensors.load(gatewayId)).filter((s) => s.address === address);
  },
};

/** The mesh of a gateway as node models with parents and hop counts from the daemon's topology (walled by the loader). */
export async function meshNodes(gatewayId: string, { loaders }: DevicesContext): Promise<MeshNodeModel[]> {
  const mesh = await loaders.mesh.load(gatewayId);
  return mesh ? withHops(gatewayId, mesh.topology) : [];
}

function withHops(gatewayId: string, devices: readonly TopologyDevice[]): MeshNodeModel[] {
  const byAddress = new Map(devices.map((d) => [d.address, d]));
  const hops = (device: TopologyDevice): number => {
    let count = 0;
    // Bounded walk: a malformed topology with a cycle must not hang the request.
    for (
      let current: TopologyDevice | undefined = device;
      current && current.parent !== null && count <= 240;
      current = byAddress.get(current.parent)
    )
      count++;
    return count;
  };
  return devices
    .map((d) => ({ gatewayId, address: d.address, parent: d.address === 0 ? null : d.parent, hops: hops(d) }))
    .sort((a, b) => a.address - b.address);
}

async function resolved(node: MeshNodeModel, ctx: DevicesContext): Promise<MeshNodeModel> {
  if (node.hops !== undefined) return node;
  return (await meshNodes(node.gatewayId, ctx)).find((n) => n.address === node.address) ?? node;
}

function splitNodeId(id: string): [string | undefined, number] {
  const dot = id.lastIndexOf('.');
  return dot > 0 ? [id.slice(0, dot), Number(id.slice(dot + 1))] : [undefined, Number.NaN];
}
