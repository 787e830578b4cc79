import { requireScope, Scope } from '#auth';
import type { MeshNetworkResolvers, MeshNodeResolvers } from '../__generated__/resolvers.ts';
import type { DevicesContext } from '../context.ts';
import { requireGateway, type MeshIndex } from '../loaders.ts';
import { observationOf } from './gateway.ts';
import type { MeshNodeModel } from '../models.ts';

export const MeshNetwork: MeshNetworkResolvers = {
  gateway: ({ gatewayId }, _, { loaders, caller }) => requireGateway(loaders, caller, gatewayId),
  coordinator: async ({ gatewayId }, _, ctx) =>
    (await meshIndex(gatewayId, ctx)).byAddress.get(0) ?? { gatewayId, address: 0, parent: null, hops: 0 },
  nodes: async ({ gatewayId }, _, ctx) => (await meshIndex(gatewayId, ctx)).bonded,
  size: async ({ gatewayId }, _, ctx) => (await meshIndex(gatewayId, ctx)).bonded.length,
  observation: async ({ gatewayId }, _, { loaders }) => observationOf(await loaders.mesh.load(gatewayId))!,
};

export const MeshNode: MeshNodeResolvers = {
  __resolveReference: async ({ id }, ctx) => {
    requireScope(ctx.caller, Scope.DEVICES_READ);
    const [gatewayId, address] = splitNodeId(id);
    // A node of a gateway the caller may not see (another tenant's, or none) is not asked for.
    if (gatewayId === undefined || !(await ctx.loaders.gateway.load(gatewayId))) return null;
    return (await meshIndex(gatewayId, ctx)).byAddress.get(address) ?? null;
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

const noNodes: MeshIndex = { bonded: [], byAddress: new Map() };

/** The mesh of a gateway as node models with parents and hop counts, by address (walled by the loader; one per request). */
async function meshIndex(gatewayId: string, { loaders }: DevicesContext): Promise<MeshIndex> {
  return (await loaders.meshIndex.load(gatewayId)) ?? noNodes;
}

/** A node with its parent and hops: as given when it came from its mesh, else looked up in it. */
async function resolved(node: MeshNodeModel, ctx: DevicesContext): Promise<MeshNodeModel> {
  if (node.hops !== undefined) return node;
  return (await meshIndex(node.gatewayId, ctx)).byAddress.get(node.address) ?? node;
}

function splitNodeId(id: string): [string | undefined, number] {
  const dot = id.lastIndexOf('.');
  return dot > 0 ? [id.slice(0, dot), Number(id.slice(dot + 1))] : [undefined, Number.NaN];
}
