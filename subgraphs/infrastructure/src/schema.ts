import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import { DateTime, loadTypeDefs } from '#kit';
import type { InfrastructureContext } from './context.ts';
import { contrailResolvers } from './resolvers/contrail.ts';
import { datacenterResolvers } from './resolvers/datacenter.ts';
import { gatewayResolvers } from './resolvers/gateway.ts';
import { kubernetesResolvers } from './resolvers/kubernetes.ts';
import { openStackResolvers } from './resolvers/openstack.ts';
import { tenantResolvers } from './resolvers/tenant.ts';
import type { Resolvers } from './__generated__/resolvers.ts';

/** The subgraph's SDL, read next to this package. */
export function infrastructureTypeDefs() {
  return loadTypeDefs('../schema.graphql', import.meta.url);
}

const resolvers: Resolvers = {
  DateTime,
  ...datacenterResolvers,
  ...gatewayResolvers,
  ...kubernetesResolvers,
  ...contrailResolvers,
  ...openStackResolvers,
  ...tenantResolvers,
  // Two files answer queries.
  Query: { ...datacenterResolvers.Query, ...tenantResolvers.Query },
};

// The generated types are stricter than Apollo's loose map; the shapes are the same at run time.
export const infrastructureResolvers = resolvers as GraphQLResolverMap<InfrastructureContext>;
