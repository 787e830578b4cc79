import type { ActuatorKind } from './actuators.ts';

/** Who a grant is for: a user of the tenant (a token's `sub`) or a partner API key (its id). */
export interface Grantee {
  kind: 'USER' | 'API_KEY';
  id: string;
}

/** Which actuators a grant (or a group command) covers: the listed ones, or those of a gateway, room and kind. */
export interface ActuatorSelection {
  actuatorIds?: string[];
  gatewayId?: string;
  room?: string;
  kind?: ActuatorKind;
}

/** A right to command actuators of `tenant`, given to `grantee`. */
export interface ActuatorGrantRecord extends ActuatorSelection {
  id: string;
  tenant: string;
  grantee: Grantee;
  /** Who granted it: a token's `sub`. */
  grantedBy: string;
  /** ISO-8601. */
  grantedAt: string;
}
