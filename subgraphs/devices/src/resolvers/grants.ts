// Placeholder: the grant resolvers (issue 13, item 3) are written here.
import type { Resolvers } from '../__generated__/resolvers.ts';

/** `ActuatorGrant`, `Query.actuatorGrants`, `Mutation.grantActuatorAccess` and `revokeActuatorAccess`. */
export const grantResolvers: Resolvers = {};
