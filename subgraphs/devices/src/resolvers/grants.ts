import { canSeeTenant, hasScope, isAdmin, requireScope, Scope, type Caller } from '#auth';
import { ErrorCode, quoteInput, userError } from '#kit';
import {
  gatewayTenants,
  grantCovers,
  nodeTenant,
  parseActuatorId,
  type ActuatorGrantRecord,
  type ActuatorInfo,
  type ActuatorSelection,
  type GatewayRecord,
  type Grantee,
} from '#registry';
import type { ActuatorSelectionInput, GranteeInput, Resolvers } from '../__generated__/resolvers.ts';
import type { DevicesContext } from '../context.ts';
import { runMutation } from '../run-mutation.ts';
import { grantsOf } from '../sources/actuator-access.ts';
import { badInput, MutationFailure } from '../user-errors.ts';

const TENANT = /^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$/;
const API_KEY_ID = /^[a-z0-9-]{3,40}$/;
/** Token subjects are the identity provider's: any printable text of reasonable length. */
const USER_ID = /^[\x21-\x7e][\x20-\x7e]{0,199}$/;
/** Actuators one grant may list (larger groups: a gateway, room or kind). */
const MAX_LISTED = 500;

/**
 * `grantActuatorAccess`, `revokeActuatorAccess`, `Query.actuatorGrants`. A tenant grants command
 * rights on its actuators to one of its users or to a partner API key; `actuator-access.ts` reads
 * them at every command. Grants and revocations are logged (who, what; never a key's secret).
 */
export const grantResolvers: Resolvers = {
  Query: {
    async actuatorGrants(_, { grantee, actuatorId }, ctx) {
      const { caller, sources } = ctx;
      if (caller.kind === 'anonymous') requireScope(caller, Scope.DEVICES_READ);
      const wanted = grantee ? granteeFilter(grantee) : undefined;
      const visible = await visibleGrants(ctx);
      let covering: ActuatorInfo | undefined;
      if (actuatorId) {
        const parsed = parseActuatorId(actuatorId);
        if (!parsed)
          throw userError(
            ErrorCode.BAD_USER_INPUT,
            `${quoteInput(actuatorId)} is not an actuator id (<gatewayId>.<node>.output<i> or .light<i>)`,
            {
              field: 'actuatorId',
            },
          );
        const [gateway] = await sources.registry.getMany([parsed.gatewayId]);
        if (!gateway) return [];
        covering = actuatorOf(gateway, actuatorId);
        if (!covering) return [];
      }
      return visible
        .filter((grant) => !wanted || (grant.grantee.kind === wanted.kind && grant.grantee.id === wanted.id))
        .filter((grant) => !covering || grantCovers(grant, covering));
    },
  },

  Mutation: {
    async grantActuatorAccess(_, { input }, ctx) {
      const { caller } = ctx;
      requireScope(caller, Scope.DEVICES_WRITE);
      const tenant = grantingTenant(caller, input.tenant);
      return runMutation(ctx, 'grantActuatorAccess', input, { grant: null }, async () => {
        const grantee = validGrantee(input.grantee);
        const selection = await validSelection(ctx, tenant, input.select);
        const grant = await ctx.sources.actuatorGrants.grant({ tenant, grantee, ...selection, grantedBy: caller.subject });
        ctx.services.logger.info(
          { grantId: grant.id, tenant, grantee, select: selection, by: caller.subject },
          'actuator command rights granted',
        );
        return { grant };
      });
    },

    async revokeActuatorAccess(_, { input }, ctx) {
      const { caller, sources } = ctx;
      requireScope(caller, Scope.DEVICES_WRITE);
      return runMutation(ctx, 'revokeActuatorAccess', input, { revokedGrantId: null }, async () => {
        const grant = await sources.actuatorGrants.get(input.grantId);
        // Another tenant's grant is worded as one that does not exist.
        if (!grant || !canSeeTenant(caller, grant.tenant))
          throw new MutationFailure('NOT_FOUND', `No grant ${quoteInput(input.grantId)}`, ['input', 'grantId']);
        const revoked = await sources.actuatorGrants.revoke(grant.id);
        if (!revoked) throw new MutationFailure('NOT_FOUND', `No grant ${quoteInput(input.grantId)}`, ['input', 'grantId']);
        ctx.services.logger.info(
          { grantId: grant.id, tenant: grant.tenant, grantee: grant.grantee, by: caller.subject },
          'actuator command rights revoked',
        );
        return { revokedGrantId: grant.id };
      });
    },
  },
};

/**
 * The grants a caller may list: an operator every tenant's; a tenant's callers with
 * `devices:read` their tenant's; and any caller those given to it.
 */
async function visibleGrants(ctx: DevicesContext): Promise<ActuatorGrantRecord[]> {
  const { caller, sources } = ctx;
  if (isAdmin(caller)) return sources.actuatorGrants.listByTenant();
  const own =
    hasScope(caller, Scope.DEVICES_READ) && caller.tenant !== null ? await sources.actuatorGrants.listByTenant(caller.tenant) : [];
  const ownIds = new Set(own.map((grant) => grant.id));
  return [...own, ...(await grantsOf(ctx)).filter((grant) => !ownIds.has(grant.id))];
}

/** The tenant that grants: the caller's own; an operator names it. A tenant naming another is FORBIDDEN. */
function grantingTenant(caller: Caller, tenant: string | null | undefined): string {
  if (isAdmin(caller)) {
    if (!tenant || !TENANT.test(tenant))
      throw userError(
        ErrorCode.BAD_USER_INPUT,
        `An operator names the granting tenant: ${tenant ? `${quoteInput(tenant)} is not a tenant id` : 'tenant is missing'}`,
        {
          field: 'tenant',
        },
      );
    return tenant;
  }
  if (tenant && tenant !== caller.tenant)
    throw userError(
      ErrorCode.FORBIDDEN,
      `Your token is for tenant "${caller.tenant ?? '(none)'}": it may not grant rights on the actuators of tenant ${quoteInput(tenant)}`,
      { field: 'tenant' },
    );
  // A user with devices:write always has a tenant (tokens without one are admin tokens).
  return caller.tenant!;
}

/** Exactly one of a user's subject or an API key's id, well formed; BAD_USER_INPUT on `input.grantee` otherwise. */
function validGrantee(input: GranteeInput): Grantee {
  const given = granteeOf(input);
  if (!given) throw badInput('grantee', 'Name exactly one grantee: userId (a token subject of the tenant) or apiKeyId');
  if (given.kind === 'API_KEY' && !API_KEY_ID.test(given.id))
    throw badInput('grantee.apiKeyId', `apiKeyId ${quoteInput(given.id)} must be 3-40 lowercase letters, digits or dashes`);
  if (given.kind === 'USER' && !USER_ID.test(given.id))
    throw badInput('grantee.userId', 'userId must be 1-200 printable characters, not starting with a space');
  return given;
}

/** The grantee filter of `actuatorGrants`: exactly one of the two, or a BAD_USER_INPUT error. */
function granteeFilter(input: GranteeInput): Grantee {
  const given = granteeOf(input);
  if (!given) throw userError(ErrorCode.BAD_USER_INPUT, 'Filter by exactly one grantee: userId or apiKeyId', { field: 'grantee' });
  return given;
}

function granteeOf({ userId, apiKeyId }: GranteeInput): Grantee | undefined {
  if ((userId ?? undefined) !== undefined && (apiKeyId ?? undefined) === undefined) return { kind: 'USER', id: userId! };
  if ((apiKeyId ?? undefined) !== undefined && (userId ?? undefined) === undefined) return { kind: 'API_KEY', id: apiKeyId! };
  return undefined;
}

/**
 * A selection of the tenant's actuators: at least `actuatorIds` or `gatewayId`; ids well formed,
 * on gateways the tenant has nodes on, of nodes that are the tenant's now; the gateway one the
 * tenant has nodes on. Another tenant's gateway or actuator is NOT_FOUND, like one that does not exist.
 */
async function validSelection(ctx: DevicesContext, tenant: string, input: ActuatorSelectionInput): Promise<ActuatorSelection> {
  const ids = [...new Set(input.actuatorIds ?? [])];
  if (ids.length === 0 && !input.gatewayId)
    throw badInput('select', 'Select actuators: actuatorIds, or a gatewayId (with a room and kind if you like)');
  if (ids.length > MAX_LISTED)
    throw badInput('select.actuatorIds', `At most ${MAX_LISTED} actuators are listed in one grant; select a gateway, room or kind instead`);
  const parsed = ids.map((id) => ({ id, parts: parseActuatorId(id) }));
  const malformed = parsed.find(({ parts }) => !parts);
  if (malformed)
    throw badInput(
      'select.actuatorIds',
      `${quoteInput(malformed.id)} is not an actuator id (<gatewayId>.<node>.output<i> or <gatewayId>.<node>.light<i>)`,
    );
  const gatewayIds = [...new Set([...(input.gatewayId ? [input.gatewayId] : []), ...parsed.map(({ parts }) => parts!.gatewayId)])];
  const records = await ctx.sources.registry.getMany(gatewayIds);
  const gateways = new Map(records.filter((g) => g !== undefined).map((g) => [g.id, g]));
  if (input.gatewayId && !servesTenant(gateways.get(input.gatewayId), tenant))
    throw new MutationFailure('NOT_FOUND', `No gateway ${quoteInput(input.gatewayId)}`, ['input', 'select', 'gatewayId']);
  for (const { id, parts } of parsed) {
    const gateway = gateways.get(parts!.gatewayId);
    if (!gateway || !servesTenant(gateway, tenant) || nodeTenant(gateway, parts!.address) !== tenant)
      throw new MutationFailure('NOT_FOUND', `No actuator ${quoteInput(id)} of tenant "${tenant}"`, ['input', 'select', 'actuatorIds']);
    if (input.gatewayId && parts!.gatewayId !== input.gatewayId)
      throw badInput(
        'select.actuatorIds',
        `Actuator ${quoteInput(id)} is not on gateway ${quoteInput(input.gatewayId)}: the selection would match nothing`,
      );
    if (input.kind && parts!.kind !== input.kind)
      throw badInput('select.actuatorIds', `Actuator ${quoteInput(id)} is not a ${input.kind}: the selection would match nothing`);
  }
  let room: string | undefined;
  if (input.room !== null && input.room !== undefined) {
    room = input.room.trim();
    if (!room || room.length > 120) throw badInput('select.room', 'room must be 1-120 characters');
  }
  return {
    ...(ids.length ? { actuatorIds: ids } : {}),
    ...(input.gatewayId ? { gatewayId: input.gatewayId } : {}),
    ...(room ? { room } : {}),
    ...(input.kind ? { kind: input.kind } : {}),
  };
}

/** Whether `tenant` has nodes on the gateway (owns it, or shares it). */
function servesTenant(gateway: GatewayRecord | undefined, tenant: string): gateway is GatewayRecord {
  return !!gateway && gateway.status !== 'DECOMMISSIONED' && gatewayTenants(gateway).includes(tenant);
}

/** What a grant is matched against, from the registry alone (the tenant and room of its node): no daemon is asked. */
function actuatorOf(gateway: GatewayRecord, id: string): ActuatorInfo | undefined {
  const parts = parseActuatorId(id);
  if (!parts || parts.gatewayId !== gateway.id) return undefined;
  const room = gateway.nodes[parts.address]?.room;
  return { id, ...parts, tenant: nodeTenant(gateway, parts.address), name: id, ...(room ? { room } : {}) };
}
