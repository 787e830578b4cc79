import { meshChangedTopics } from '#iqrf';
import { ErrorCode, userError } from '#kit';
import type { GatewayRecord } from '#registry';
import type { MutationResolvers, RegisterGatewayInput } from '../__generated__/resolvers.ts';
import type { DevicesContext } from '../context.ts';
import { toGraphQLError } from '../errors.ts';

const GATEWAY_ID = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const TENANT = /^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$/;

export const Mutation: MutationResolvers = {
  async registerGateway(_, { input }, { sources }) {
    const record = validateRegistration(input, sources.tenants);
    if ((await sources.registry.getMany([record.id]))[0]) {
      throw userError(ErrorCode.ALREADY_EXISTS, `Gateway "${record.id}" is already registered`, { field: 'id' });
    }
    // Data-center side first: if it fails, nothing was registered; if registering fails, undo it.
    try {
      await sources.provisioner.provision({ id: record.id, tenant: record.tenant, arch: record.arch.toLowerCase() as 'amd64' | 'arm' | 'arm64' });
    } catch (error) {
      throw userError(ErrorCode.UPSTREAM_ERROR, `Provisioning gateway "${record.id}" failed: ${(error as Error).message}`);
    }
    let added: boolean;
    try {
      added = await sources.registry.add(record);
    } catch (error) {
      await sources.provisioner.deprovision(record.id);
      throw error;
    }
    if (!added) {
      await sources.provisioner.deprovision(record.id);
      throw userError(ErrorCode.ALREADY_EXISTS, `Gateway "${record.id}" is already registered`, { field: 'id' });
    }
    return { gateway: record };
  },

  async bondNode(_, { input }, ctx) {
    const gateway = await existingGateway(input.gatewayId, ctx);
    const address = input.address ?? 0;
    if (input.address !== null && input.address !== undefined && !isNodeAddress(address)) {
      throw userError(ErrorCode.BAD_USER_INPUT, `address must be 1-239, got ${address}`, { field: 'address' });
    }
    const { sources } = ctx;
    let assigned: number;
    try {
      const data = await sources.iqrf.request<{ assignedAddr: number }>(gateway.id, 'iqmeshNetwork_BondNodeLocal', { deviceAddr: address }, { timeoutMs: 30_000 });
      assigned = data.rsp.assignedAddr;
    } catch (error) {
      throw toGraphQLError(error);
    } finally {
      await meshChanged(gateway.id, ctx);
    }
    if (input.name || input.room) {
      await sources.registry.update(gateway.id, (g) => ({
        ...g,
        nodes: { ...g.nodes, [assigned]: { ...g.nodes[assigned], ...(input.name ? { name: input.name } : {}), ...(input.room ? { room: input.room } : {}) } },
      }));
      ctx.loaders.gateway.clear(gateway.id);
    }
    return { node: { gatewayId: gateway.id, address: assigned } };
  },

  async unbondNode(_, { input }, ctx) {
    const gateway = await existingGateway(input.gatewayId, ctx);
    if (!isNodeAddress(input.address)) throw userError(ErrorCode.BAD_USER_INPUT, `address must be 1-239, got ${input.address}`, { field: 'address' });
    const { sources } = ctx;
    try {
      const bonded = await sources.catalog.bondedNodes(gateway.id);
      if (!bonded.includes(input.address)) {
        throw userError(ErrorCode.NOT_FOUND, `No node ${input.address} is bonded to gateway "${gateway.id}"`, { field: 'address' });
      }
      await sources.iqrf.request(gateway.id, 'iqmeshNetwork_RemoveBond', { deviceAddr: input.address, hwpId: 0xffff, wholeNetwork: false }, { timeoutMs: 30_000 });
    } catch (error) {
      throw toGraphQLError(error);
    } finally {
      await meshChanged(gateway.id, ctx);
    }
    const updated =
      (await sources.registry.update(gateway.id, (g) => {
        const { [input.address]: _removed, ...nodes } = g.nodes;
        return { ...g, nodes };
      })) ?? gateway;
    return { gateway: updated, removedAddress: input.address };
  },
};

/** Forgets the mesh here and tells the collectors to forget it too (they then poll new nodes at once). */
async function meshChanged(gatewayId: string, { sources }: DevicesContext): Promise<void> {
  sources.catalog.invalidate(gatewayId);
  await sources.iqrf.mqttClient.publishAsync(meshChangedTopics.of(gatewayId), '', { qos: 1 }).catch(() => undefined);
}

async function existingGateway(id: string, { loaders }: DevicesContext): Promise<GatewayRecord> {
  const gateway = await loaders.gateway.load(id);
  if (!gateway) throw userError(ErrorCode.NOT_FOUND, `No gateway "${id}"`, { field: 'gatewayId' });
  return gateway;
}

/** Checks every field of a registration and returns the record to store, or throws BAD_USER_INPUT. */
function validateRegistration(input: RegisterGatewayInput, tenants: ReadonlySet<string>): GatewayRecord {
  const bad = (field: string, message: string) => userError(ErrorCode.BAD_USER_INPUT, message, { field });
  if (!GATEWAY_ID.test(input.id)) throw bad('id', `id "${input.id}" must be 3-63 lowercase letters, digits or dashes, starting and ending with a letter or digit`);
  const name = input.name.trim();
  if (!name || name.length > 120) throw bad('name', 'name must be 1-120 characters');
  if (!TENANT.test(input.tenant)) throw bad('tenant', `tenant "${input.tenant}" is not a valid tenant id`);
  if (!tenants.has(input.tenant)) throw bad('tenant', `unknown tenant "${input.tenant}"; known tenants: ${[...tenants].sort().join(', ')}`);
  const { latitude, longitude, address } = input.location;
  if (!(latitude >= -90 && latitude <= 90)) throw bad('location.latitude', `latitude must be within -90..90, got ${latitude}`);
  if (!(longitude >= -180 && longitude <= 180)) throw bad('location.longitude', `longitude must be within -180..180, got ${longitude}`);
  return {
    id: input.id,
    name,
    tenant: input.tenant,
    arch: input.arch,
    status: 'PROVISIONING',
    location: { lat: latitude, lon: longitude, ...(address ? { address } : {}) },
    registeredAt: new Date().toISOString(),
    nodes: {},
  };
}

function isNodeAddress(address: number): boolean {
  return Number.isInteger(address) && address >= 1 && address <= 239;
}
