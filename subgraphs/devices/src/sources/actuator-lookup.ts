import { isAdmin } from '#auth';
import { clipInput, ErrorCode, quoteInput, userError } from '#kit';
import { describeActuator, gatewayTenants, parseActuatorId, selectionMatches, type ActuatorInfo, type ActuatorSelection } from '#registry';
import type { DevicesContext } from '../context.ts';
import { canSeeActuator, grantsOf } from './actuator-access.ts';

/**
 * An actuator described from its id and the registry alone (no mesh): what an event or an audit
 * entry names must resolve even while its gateway's mesh cannot be read. `tenant` overrides the
 * node's tenant now (an event's, when it happened). Null for an id that is not one, or of no gateway.
 */
export async function actuatorFromId(ctx: DevicesContext, id: string, tenant?: string): Promise<ActuatorInfo | null> {
  const key = parseActuatorId(id);
  if (!key) return null;
  const record = await ctx.loaders.actuatorGateway.load(key.gatewayId);
  return record ? describeActuator(record, key.address, key.kind, key.index, tenant) : null;
}

/** The NOT_FOUND of an actuator that does not exist or that the caller may not see (the two are not told apart). */
export function actuatorNotFound(id: string) {
  return userError(
    ErrorCode.NOT_FOUND,
    `No actuator ${quoteInput(id)} (ids look like <gatewayId>.<nodeAddress>.output<index> or .light<index>)`,
    {
      id: clipInput(id),
    },
  );
}

/**
 * The actuator with this id as its mesh enumerated it, if the caller may see it: NOT_FOUND
 * otherwise. Visibility is checked before the mesh is read, so another tenant's gateway's
 * failure is never told.
 */
export async function requireActuator(ctx: DevicesContext, id: string): Promise<ActuatorInfo> {
  const described = await actuatorFromId(ctx, id);
  if (!described || !(await canSeeActuator(ctx, described))) throw actuatorNotFound(id);
  const actuator = await ctx.loaders.actuator.load(id);
  if (!actuator) throw actuatorNotFound(id);
  return actuator;
}

/**
 * Gateways where the caller may see actuators: every one for an operator; for a tenant's caller
 * those its tenant has nodes on; for a grantee (a partner API key) those its grants name.
 */
export async function actuatorGatewayIds(ctx: DevicesContext, only?: string): Promise<string[]> {
  const { caller, sources } = ctx;
  const ids = new Set<string>();
  const grants = await grantsOf(ctx);
  for (const grant of grants) {
    if (grant.gatewayId) ids.add(grant.gatewayId);
    for (const id of grant.actuatorIds ?? []) {
      const key = parseActuatorId(id);
      if (key) ids.add(key.gatewayId);
    }
  }
  if (isAdmin(caller) || caller.tenant !== null) {
    for (const record of await sources.registry.list())
      if (isAdmin(caller) || gatewayTenants(record).includes(caller.tenant!)) ids.add(record.id);
  }
  return [...ids].filter((id) => only === undefined || id === only).sort();
}

/**
 * The actuators the caller may see that `selection` names (any of a gateway, room and kind
 * when it names no ids), from the meshes of the gateways it may see actuators on. Gateways whose
 * mesh cannot be known are left out.
 */
export async function visibleActuators(ctx: DevicesContext, selection: ActuatorSelection): Promise<ActuatorInfo[]> {
  const fromIds = new Set((selection.actuatorIds ?? []).flatMap((id) => parseActuatorId(id)?.gatewayId ?? []));
  const gatewayIds = selection.actuatorIds?.length
    ? (await actuatorGatewayIds(ctx)).filter((id) => fromIds.has(id))
    : await actuatorGatewayIds(ctx, selection.gatewayId);
  const lists = await ctx.loaders.gatewayActuators.loadMany(gatewayIds);
  const candidates = lists.flatMap((list) => (list instanceof Error ? [] : list));
  const matching = candidates.filter((actuator) =>
    selectionMatches({ ...selection, ...(selection.actuatorIds?.length ? {} : { gatewayId: actuator.gatewayId }) }, actuator),
  );
  const visible = await Promise.all(matching.map((actuator) => canSeeActuator(ctx, actuator)));
  return matching.filter((_, i) => visible[i]);
}
