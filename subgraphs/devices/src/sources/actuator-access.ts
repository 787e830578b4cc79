import { canSeeTenant, hasScope, isAdmin, requireScope, Scope, type Caller } from '#auth';
import { grantCovers, nodeTenant, parseActuatorId, type ActuatorGrantRecord, type ActuatorInfo, type Grantee } from '#registry';
import type { DevicesContext } from '../context.ts';

/**
 * Who may see and command which actuator:
 * - an operator (`admin`) sees and commands every actuator (audited like anyone);
 * - a tenant's callers with `devices:read` see the tenant's actuators (their node's tenant, `nodeTenant`);
 * - commanding needs `actuators:write` and a grant of the actuator's tenant to the caller (a user
 *   of that tenant by its `sub`, a partner API key by its id) whose selection names the actuator;
 * - a grantee sees the actuators granted to it (a partner API key sees nothing else of a tenant);
 * - anonymous callers are UNAUTHENTICATED.
 *
 * The caller's grants are read from the store once per request (a context lives as long as its
 * request; a subscription's, reread every `GRANTS_FRESH_MS`), so a revocation holds from the next request.
 */

/** A subscription's context outlives requests: its grants are read again when older than this. */
const GRANTS_FRESH_MS = 1_000;

/** The grants of a context's caller as a grantee, and when they were read. */
const grantsRead = new WeakMap<DevicesContext, { at: number; grants: Promise<ActuatorGrantRecord[]> }>();

/** Whether the caller sees the actuator: an operator, its tenant's callers with `devices:read`, or a grantee of it. */
export async function canSeeActuator(ctx: DevicesContext, actuator: ActuatorInfo): Promise<boolean> {
  const { caller } = ctx;
  if (isAdmin(caller)) return true;
  if (hasScope(caller, Scope.DEVICES_READ) && canSeeTenant(caller, actuator.tenant)) return true;
  return (await grantsOf(ctx)).some((grant) => grantCovers(grant, actuator));
}

/**
 * Why the caller may not command the actuator (FORBIDDEN, with a message naming it), or undefined
 * when it may. Anonymous callers get the UNAUTHENTICATED error thrown (`requireScope`).
 */
export async function commandRefusal(
  ctx: DevicesContext,
  actuator: ActuatorInfo,
): Promise<{ code: 'FORBIDDEN'; message: string } | undefined> {
  const { caller } = ctx;
  if (caller.kind === 'anonymous') requireScope(caller, Scope.ACTUATORS_WRITE);
  if (isAdmin(caller)) return undefined;
  if (!hasScope(caller, Scope.ACTUATORS_WRITE))
    return { code: 'FORBIDDEN', message: `Commanding actuator "${actuator.id}" needs the "${Scope.ACTUATORS_WRITE}" scope` };
  if ((await grantsOf(ctx)).some((grant) => grantCovers(grant, actuator))) return undefined;
  return { code: 'FORBIDDEN', message: `No grant to command actuator "${actuator.id}"` };
}

/**
 * What a command to an actuator the caller does not see is (`canSeeActuator` false, or no such
 * actuator): for a caller with `actuators:write`, FORBIDDEN naming it, as the schema promises a
 * command without a grant (a partner's key commanding a light not granted to it, or one just
 * revoked). The answer is the same whether the actuator exists or not, so nothing is told of
 * another tenant's. Undefined (the caller's NOT_FOUND stands) for a well-formed id on a node of the
 * caller's own tenant (it does not exist), a malformed id, and callers without `actuators:write`.
 */
export async function unseenCommandRefusal(
  ctx: DevicesContext,
  actuatorId: string,
): Promise<{ code: 'FORBIDDEN'; message: string } | undefined> {
  const { caller } = ctx;
  const parts = parseActuatorId(actuatorId);
  if (!parts || isAdmin(caller) || !hasScope(caller, Scope.ACTUATORS_WRITE)) return undefined;
  if (caller.tenant !== null && hasScope(caller, Scope.DEVICES_READ)) {
    const [gateway] = await ctx.sources.registry.getMany([parts.gatewayId]);
    if (gateway && nodeTenant(gateway, parts.address) === caller.tenant) return undefined;
  }
  return { code: 'FORBIDDEN', message: `No grant to command actuator "${actuatorId}"` };
}

/**
 * The grants given to the caller as a grantee (a user's by its subject, of its own tenant only; a
 * partner API key's by its id): where its granted actuators are. None for operators and anonymous callers.
 */
export async function grantsOf(ctx: DevicesContext): Promise<ActuatorGrantRecord[]> {
  const grantee = granteeOf(ctx.caller);
  if (!grantee) return [];
  const now = Date.now();
  let read = grantsRead.get(ctx);
  if (!read || now - read.at > GRANTS_FRESH_MS) {
    const grants = ctx.sources.actuatorGrants
      .listByGrantee(grantee)
      // A user is granted by its own tenant: a grant naming the same `sub` in another tenant is not its.
      .then((list) => list.filter((grant) => grantee.kind === 'API_KEY' || grant.tenant === ctx.caller.tenant));
    read = { at: now, grants };
    grantsRead.set(ctx, read);
    // A failed read is not kept: the next question asks the store again.
    grants.catch(() => {
      if (grantsRead.get(ctx) === read) grantsRead.delete(ctx);
    });
  }
  return read.grants;
}

/** Whom grants name for this caller: a tenant's user by its subject, an API key by its id; none for the others. */
export function granteeOf(caller: Caller): Grantee | undefined {
  if (caller.kind === 'apiKey') return { kind: 'API_KEY', id: caller.subject };
  if (caller.kind === 'user' && caller.tenant !== null) return { kind: 'USER', id: caller.subject };
  return undefined;
}

/**
 * Whether the caller sees every command of a tenant's actuators, and who asked for each: an
 * operator, or the tenant's own callers with `devices:read`. Anyone else (a grantee, a partner
 * API key) sees its own commands by name only.
 */
export function seesCommandsOf(caller: Caller, tenant: string): boolean {
  return isAdmin(caller) || (caller.tenant === tenant && hasScope(caller, Scope.DEVICES_READ));
}

/** What `ActuatorCommand.requestedBy` says of someone else's command to a caller that may not know who. */
export const ANOTHER_CALLER = 'another caller';

/**
 * Who a command is by, in the audit trail and the logs: a token's `sub`, or `apiKey:<id>` for a
 * partner API key. One caller's name is never another's: a `sub` that itself starts like a key's
 * (`apiKey:...`), or like an escaped one (`user:...`), is written `user:<sub>`, so a token cannot
 * pass for a partner's key (and see its commands by name).
 */
export function commandSubject(caller: Caller): string {
  if (caller.kind === 'apiKey') return `apiKey:${caller.subject}`;
  return /^(apiKey|user):/.test(caller.subject) ? `user:${caller.subject}` : caller.subject;
}
