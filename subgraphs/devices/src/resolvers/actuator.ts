// Placeholder: the actuator resolvers (issue 13, item 2) are written here.
import type { Resolvers } from '../__generated__/resolvers.ts';

/** `Actuator`, `ActuatorCommand`, `ActuatorEvent`, and the actuator fields of `Query`, `Mutation`, `Subscription`, `Gateway`, `MeshNode`. */
export const actuatorResolvers: Resolvers = {};
