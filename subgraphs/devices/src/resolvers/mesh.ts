import { requireScope, Scope, type Caller } from '#auth';
import { nodeTenant, type NodeMeta } from '#registry';
import type { MeshNetworkResolvers, MeshNodeResolvers } from '../__generated__/resolvers.ts';
import type { DevicesContext } from '../context.ts';
import { canSeeNode, requireGateway, type DevicesLoaders, type MeshIndex } from '../loaders.ts';
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

/**
 * A node of a mesh the caller sees. On a shared gateway, another tenant's node is only a routing
 * hop to the caller (`role: HOP`): its id, address, parent and hops, which the tree needs, and
 * nothing else (no name, room, tenant, sensors or actuators). Operators see every node.
 */
export const MeshNode: MeshNodeResolvers = {
  __resolveReference: async ({ id }, ctx) => {
    requireScope(ctx.caller, Scope.DEVICES_READ);
    const [gatewayId, address] = splitNodeId(id);
    if (gatewayId === undefined) return null;
    // A node of a gateway the caller may not see (another tenant's, or none) is not asked for;
    // nor is another tenant's node of a shared gateway: as an entity it is not the caller's.
    const gateway = await ctx.loaders.visibleGateway.load(gatewayId);
    if (!gateway || !canSeeNode(ctx.caller, gateway, address)) return null;
    return (await meshIndex(gatewayId, ctx)).byAddress.get(address) ?? null;
  },
  id: ({ gatewayId, address }) => `${gatewayId}.${address}`,
  // Beyond its id, a node is its gateway's: reached from an open-data sensor (`Sensor.node`) of
  // a gateway the caller may not see, every field is that gateway's error (`requireGateway`).
  role: async (node, _, ctx) => {
    const { loaders, caller } = ctx;
    const gateway = await requireGateway(loaders, caller, node.gatewayId);
    if (node.address === 0) return 'COORDINATOR';
    if (!canSeeNode(caller, gateway, node.address)) return 'HOP';
    const sensors = await loaders.gatewaySensors.load(node.gatewayId);
    if (sensors.some((s) => s.address === node.address)) return 'SENSOR';
    const peripherals = (await loaders.mesh.load(node.gatewayId))?.actuators?.[node.address];
    return peripherals && peripherals.binaryOutputs + peripherals.lights > 0 ? 'ACTUATOR' : 'ROUTER';
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
  name: async ({ gatewayId, address }, _, { loaders, caller }) => (await ownNode(loaders, caller, gatewayId, address))?.name ?? null,
  room: async ({ gatewayId, address }, _, { loaders, caller }) => (await ownNode(loaders, caller, gatewayId, address))?.room ?? null,
  tenant: async ({ gatewayId, address }, _, { loaders, caller }) => {
    const gateway = await requireGateway(loaders, caller, gatewayId);
    return canSeeNode(caller, gateway, address) ? nodeTenant(gateway, address) : null;
  },
  gateway: ({ gatewayId }, _, { loaders, caller }) => requireGateway(loaders, caller, gatewayId),
  // Only the caller's own sensors are loaded (`gatewaySensors`): a HOP has none.
  sensors: async ({ gatewayId, address }, _, { loaders, caller }) => {
    await requireGateway(loaders, caller, gatewayId);
    return (await loaders.gatewaySensors.load(gatewayId)).filter((s) => s.address === address);
  },
};

/** What the registry knows of a node the caller sees as its own (undefined for a HOP or an unnamed node). */
async function ownNode(loaders: DevicesLoaders, caller: Caller, gatewayId: string, address: number): Promise<NodeMeta | undefined> {
  const gateway = await requireGateway(loaders, caller, gatewayId);
  return canSeeNode(caller, gateway, address) ? gateway.nodes[address] : undefined;
}

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
