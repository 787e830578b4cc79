import { requireScope, Scope } from '#auth';
import { runSteps, type Step } from '#cloud';
import { GatewayUnavailableError } from '#iqrf';
import { quoteInput } from '#kit';
import { gatewayTenants, type GatewayRecord, type GatewayRegistry, type NodeMeta } from '#registry';
import type { Resolvers } from '../__generated__/resolvers.ts';
import type { DevicesContext } from '../context.ts';
import { forgetGateway, tenantsSeenBy } from '../loaders.ts';
import { runMutation } from '../run-mutation.ts';
import { announceMeshChange } from '../sources/mesh-change.ts';
import { badInput, MutationFailure } from '../user-errors.ts';
import { guestRemoval, isNodeAddress, TENANT, toProvision, visibleGateway } from './mutation.ts';

/**
 * Shared gateways: `Mutation.assignNodes` and `removeGatewayTenant` (operators only, `admin`: a
 * top-level FORBIDDEN for anyone else), and `Gateway.tenants`. A tenant's parts on a gateway it
 * does not own (its collector pod and vRouter interface) are made and removed by the provisioner,
 * with the registry's record of the nodes' tenants last under the same rollback.
 */
export const tenancyResolvers: Resolvers = {
  Mutation: {
    async assignNodes(_, { input }, ctx) {
      requireScope(ctx.caller, Scope.ADMIN);
      return runMutation(ctx, 'assignNodes', input, { gateway: null, collector: null, removedTenants: [] }, async () => {
        const gateway = await visibleGateway(input.gatewayId, ctx);
        const { tenant } = input;
        if (!TENANT.test(tenant)) throw badInput('tenant', `tenant ${quoteInput(tenant)} is not a valid tenant id`);
        const addresses = [...new Set(input.addresses)];
        if (!addresses.length) throw badInput('addresses', 'addresses must name at least one node');
        const outOfRange = addresses.find((address) => !isNodeAddress(address));
        if (outOfRange !== undefined) throw badInput('addresses', `addresses must be 1-239, got ${outOfRange}`);
        const bonded = await bondedNodes(ctx, gateway);
        const unbonded = addresses.filter((address) => !bonded.includes(address));
        if (unbonded.length) throw badInput('addresses', `No node ${unbonded.join(', ')} is bonded to gateway ${quoteInput(gateway.id)}`);

        const { added, removed } = tenantChanges(gateway, addresses, tenant);
        const { provisioner, registry } = ctx.sources;
        const target = toProvision(gateway);
        const steps = [
          ...removed.map((t) => guestRemoval(provisioner, target, t)),
          recordTenant(registry, gateway, tenant, (current) => {
            // Planned on the record read at the start: the data center was changed for that plan.
            const now = tenantChanges(current, addresses, tenant);
            if (now.added !== added || now.removed.join() !== removed.join()) throw changedMeanwhile(gateway.id);
            return addresses;
          }),
        ];
        let collector = null;
        try {
          if (added) collector = await provisioner.addTenant(target, added, steps);
          else
            await runSteps(
              `Assigning nodes of gateway "${gateway.id}" to tenant "${tenant}"`,
              steps,
              ctx.services.logger.child({ gatewayId: gateway.id }),
            );
        } finally {
          await settled(ctx, gateway.id);
        }
        ctx.services.logger.info({ gatewayId: gateway.id, addresses, tenant, added, removed }, 'nodes assigned');
        return { gateway: await current(ctx, gateway), collector, removedTenants: removed };
      });
    },

    async removeGatewayTenant(_, { input }, ctx) {
      requireScope(ctx.caller, Scope.ADMIN);
      return runMutation(ctx, 'removeGatewayTenant', input, { gateway: null }, async () => {
        const gateway = await visibleGateway(input.gatewayId, ctx);
        const { tenant } = input;
        if (tenant === gateway.tenant)
          throw badInput('tenant', `tenant ${quoteInput(tenant)} owns gateway ${quoteInput(gateway.id)}: decommission the gateway instead`);
        if (!gatewayTenants(gateway).includes(tenant))
          throw new MutationFailure('NOT_FOUND', `Tenant ${quoteInput(tenant)} has no nodes on gateway ${quoteInput(gateway.id)}`, [
            'input',
            'tenant',
          ]);
        try {
          // Every node of the tenant when its record is written, those assigned to it meanwhile too:
          // its parts are gone, so none may stay its.
          await ctx.sources.provisioner.removeTenant(toProvision(gateway), tenant, [
            recordTenant(ctx.sources.registry, gateway, gateway.tenant, (current) => nodesOf(current, tenant)),
          ]);
        } finally {
          await settled(ctx, gateway.id);
        }
        return { gateway: await current(ctx, gateway) };
      });
    },
  },

  Gateway: {
    /** Operators see every tenant; a tenant the owner and itself (when it has nodes there), never the other guests. */
    tenants: (gateway, _args, ctx) => tenantsSeenBy(ctx.caller, gateway),
  },
};

/** The gateway's bonded nodes: from its daemon, or the last mesh it reported when it does not answer. */
async function bondedNodes({ sources }: DevicesContext, gateway: GatewayRecord): Promise<number[]> {
  try {
    return (await sources.catalog.mesh(gateway)).bonded;
  } catch (error) {
    if (!(error instanceof GatewayUnavailableError)) throw error;
    throw new MutationFailure(
      'GATEWAY_UNAVAILABLE',
      `The mesh of gateway ${quoteInput(gateway.id)} is not known (its daemon does not answer): its nodes cannot be assigned now`,
      ['input', 'gatewayId'],
    );
  }
}

/**
 * What giving `addresses` to `tenant` changes of the gateway's tenants: the one it adds (a new
 * guest, which gets its parts) and those it leaves with no node (which lose theirs).
 */
function tenantChanges(gateway: GatewayRecord, addresses: readonly number[], tenant: string): { added?: string; removed: string[] } {
  // The owner takes its nodes back: they carry no tenant of their own then.
  const nodes = withTenant(gateway.nodes, addresses, tenant === gateway.tenant ? undefined : tenant);
  const before = gatewayTenants(gateway);
  const after = gatewayTenants({ ...gateway, nodes });
  const added = after.find((t) => !before.includes(t));
  return { ...(added ? { added } : {}), removed: before.filter((t) => !after.includes(t)) };
}

/** The addresses of the nodes assigned to `tenant` on `gateway`. */
function nodesOf(gateway: GatewayRecord, tenant: string): number[] {
  return Object.entries(gateway.nodes)
    .filter(([, meta]) => meta.tenant === tenant)
    .map(([address]) => Number(address));
}

/** Another operation changed the gateway's nodes' tenants since this one read them. */
function changedMeanwhile(gatewayId: string): MutationFailure {
  return new MutationFailure(
    'CONFLICT',
    `The nodes' tenants of gateway ${quoteInput(gatewayId)} changed meanwhile (another assignNodes or removeGatewayTenant); nothing was changed: try again`,
    ['input', 'gatewayId'],
  );
}

/** The nodes with `addresses` given to `tenant` (undefined: to the gateway's owner). */
function withTenant(nodes: GatewayRecord['nodes'], addresses: readonly number[], tenant: string | undefined): GatewayRecord['nodes'] {
  const changed: GatewayRecord['nodes'] = { ...nodes };
  for (const address of addresses) {
    const { tenant: _earlier, ...meta } = nodes[address] ?? {};
    const next: NodeMeta = tenant ? { ...meta, tenant } : meta;
    if (Object.keys(next).length) changed[address] = next;
    else delete changed[address];
  }
  return changed;
}

/**
 * Records the nodes' tenant in the registry (the owner: their assignment is cleared); its undo
 * puts back what those nodes had, leaving other changes made meanwhile alone.
 *
 * It is the last step, after the data center was changed for what the gateway's record said at
 * the start; the record may have changed since (a concurrent assignment, on this or another API
 * instance; a decommissioned gateway whose id was registered again). So the write is a
 * compare-and-set (`GatewayRegistry.update` retries its change on the current record):
 * `addressesOf` reads the nodes to record from the current record, or throws CONFLICT when the
 * plan no longer holds, and the whole operation is rolled back rather than leave a tenant with
 * nodes and no collector, or parts with no nodes.
 */
function recordTenant(
  registry: GatewayRegistry,
  gateway: GatewayRecord,
  tenant: string,
  addressesOf: (current: GatewayRecord) => readonly number[],
): Step {
  let before: GatewayRecord['nodes'] = {};
  let addresses: readonly number[] = [];
  return {
    name: `recording the nodes' tenant`,
    run: async () => {
      const updated = await registry.update(gateway.id, (g) => {
        if (g.tenant !== gateway.tenant || g.registeredAt !== gateway.registeredAt)
          throw new MutationFailure('CONFLICT', `Gateway ${quoteInput(gateway.id)} was decommissioned meanwhile; nothing was changed`, [
            'input',
            'gatewayId',
          ]);
        addresses = addressesOf(g);
        before = g.nodes;
        return { ...g, nodes: withTenant(g.nodes, addresses, tenant === g.tenant ? undefined : tenant) };
      });
      if (!updated) throw new MutationFailure('NOT_FOUND', `No gateway ${quoteInput(gateway.id)}`, ['input', 'gatewayId']);
    },
    undo: async () =>
      void (await registry.update(gateway.id, (g) => {
        const nodes = { ...g.nodes };
        for (const address of addresses) {
          const earlier = before[address];
          if (earlier) nodes[address] = earlier;
          else delete nodes[address];
        }
        return { ...g, nodes };
      })),
  };
}

/** After a change of the nodes' tenants, done or undone: caches here, in the collectors and other API instances are refreshed. */
async function settled(ctx: DevicesContext, gatewayId: string): Promise<void> {
  await announceMeshChange(ctx.sources, gatewayId);
  forgetGateway(ctx.loaders, gatewayId);
}

/** The gateway as the registry has it now. */
async function current({ sources }: DevicesContext, gateway: GatewayRecord): Promise<GatewayRecord> {
  return (await sources.registry.getMany([gateway.id]))[0] ?? gateway;
}
