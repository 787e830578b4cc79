import { GraphQLError } from 'graphql';

/** What a caller may do. `admin` is an operator: every tenant, every scope. */
export const Scope = {
  DEVICES_READ: 'devices:read',
  DEVICES_WRITE: 'devices:write',
  /** Commanding actuators: needed, and with a grant for each actuator (`grantActuatorAccess`) enough. */
  ACTUATORS_WRITE: 'actuators:write',
  TELEMETRY_READ: 'telemetry:read',
  INFRA_READ: 'infra:read',
  INFRA_WRITE: 'infra:write',
  OPENDATA_READ: 'opendata:read',
  ADMIN: 'admin',
} as const;
export type Scope = (typeof Scope)[keyof typeof Scope];

export const allScopes: readonly Scope[] = Object.values(Scope);
const knownScopes = new Set<string>(allScopes);

export function isScope(value: string): value is Scope {
  return knownScopes.has(value);
}

/**
 * Who is calling, as the router established it and the subgraphs read it:
 * - `user`: a JWT's subject, of one tenant (or of none, as an operator with `admin`);
 * - `apiKey`: a partner's API key, of no tenant: open data, and the actuators tenants granted it
 *   when it has `actuators:write`; with its own quota;
 * - `anonymous`: no credentials, open data only.
 */
export interface Caller {
  kind: 'user' | 'apiKey' | 'anonymous';
  /** The token's `sub`, the API key's id (whom grants name), or `anonymous`. */
  subject: string;
  /** The tenant whose things the caller sees; null for operators and open-data callers. */
  tenant: string | null;
  scopes: readonly Scope[];
  /** When the credentials expire (ms since the epoch); long-lived connections end then. */
  expiresAt?: number;
}

/** Open data is public: what every caller may read, signed in or not. */
export const anonymousCaller: Caller = Object.freeze({
  kind: 'anonymous',
  subject: 'anonymous',
  tenant: null,
  scopes: [Scope.OPENDATA_READ],
});

export function isAdmin(caller: Caller): boolean {
  return caller.scopes.includes(Scope.ADMIN);
}

/** Open data is everyone's: `opendata:read` is implied for every caller, signed in or not. */
export function hasScope(caller: Caller, scope: Scope): boolean {
  return scope === Scope.OPENDATA_READ || isAdmin(caller) || caller.scopes.includes(scope);
}

/** Whether things of `tenant` exist for this caller: its own tenant's, or all for an admin. */
export function canSeeTenant(caller: Caller, tenant: string): boolean {
  return isAdmin(caller) || (caller.tenant !== null && caller.tenant === tenant);
}

/**
 * Throws unless the caller holds `scope`: UNAUTHENTICATED for anonymous callers (the router
 * answers it with HTTP 401), FORBIDDEN naming the scope for the others.
 */
export function requireScope(caller: Caller, scope: Scope): void {
  if (hasScope(caller, scope)) return;
  if (caller.kind === 'anonymous') {
    throw new GraphQLError(`Sign in: this needs a token with the "${scope}" scope (anonymous callers read open data only)`, {
      extensions: { code: 'UNAUTHENTICATED', scope },
    });
  }
  throw new GraphQLError(`Missing scope "${scope}"`, { extensions: { code: 'FORBIDDEN', scope } });
}

/**
 * A stable text of everything that decides what a caller sees (to share work between equal
 * callers): its kind, tenant and scopes, and who it is when that matters too. It does for a
 * grantee: actuators granted to a partner's API key, or to a user who does not read its tenant's
 * devices, are that caller's alone, as are the names it is told in their events. It does for a
 * user who may command actuators (`actuators:write`): its grants are its own, and so is the
 * answer of `Actuator.canCommand`. A user who reads its tenant's devices (`devices:read`) and
 * commands nothing, an operator and an anonymous caller see what every such caller sees, and share.
 */
export function callerPartition(caller: Caller): string {
  const base = `${caller.kind}:${caller.tenant ?? '*'}:${[...caller.scopes].sort().join(',')}`;
  const grantsMatter =
    caller.kind === 'user' && !isAdmin(caller) && (!hasScope(caller, Scope.DEVICES_READ) || hasScope(caller, Scope.ACTUATORS_WRITE));
  return caller.kind === 'apiKey' || grantsMatter ? `${base}:${caller.subject}` : base;
}
