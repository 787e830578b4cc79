import { canSeeTenant, hasScope, Scope } from '#auth';
import type { ActuatorGrantRecord, ActuatorInfo } from '#registry';
import type { DevicesContext } from '../context.ts';

/**
 * Who may see and command which actuator. PROVISIONAL (issue 13, item 3 replaces the bodies,
 * keeping the signatures): the actuator's tenant's callers see it, and command it with
 * `actuators:write`; grants are not consulted yet.
 */

/** Whether the caller sees the actuator: its tenant's callers with `devices:read`, an operator, or a grantee of it. */
export async function canSeeActuator(ctx: DevicesContext, actuator: ActuatorInfo): Promise<boolean> {
  return hasScope(ctx.caller, Scope.DEVICES_READ) && canSeeTenant(ctx.caller, actuator.tenant);
}

/** Why the caller may not command the actuator (FORBIDDEN, with a message naming it), or undefined when it may. */
export async function commandRefusal(
  ctx: DevicesContext,
  actuator: ActuatorInfo,
): Promise<{ code: 'FORBIDDEN'; message: string } | undefined> {
  if (hasScope(ctx.caller, Scope.ACTUATORS_WRITE) && canSeeTenant(ctx.caller, actuator.tenant)) return undefined;
  return { code: 'FORBIDDEN', message: `No grant to command actuator "${actuator.id}"` };
}

/** The grants given to the caller as a grantee (a user's by its subject, a partner API key's by its id): where its granted actuators are. */
export async function grantsOf(_ctx: DevicesContext): Promise<ActuatorGrantRecord[]> {
  return [];
}
