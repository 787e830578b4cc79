import { DateTime, loadTypeDefs } from '#kit';
import type { Resolvers } from './__generated__/resolvers.ts';
import { CollectorDeployment, MeshDiscovery, MeshDiscoveryEvent, Subscription } from './resolvers/discovery.ts';
import { Gateway } from './resolvers/gateway.ts';
import { MeshNetwork, MeshNode } from './resolvers/mesh.ts';
import { Mutation } from './resolvers/mutation.ts';
import { Query } from './resolvers/query.ts';
import { actuatorResolvers } from './resolvers/actuator.ts';
import { grantResolvers } from './resolvers/grants.ts';
import { tenancyResolvers } from './resolvers/tenancy.ts';
import { Sensor } from './resolvers/sensor.ts';

export const typeDefs = loadTypeDefs('../schema.graphql', import.meta.url);

const base: Resolvers = {
  DateTime,
  Query,
  Mutation,
  Subscription,
  Gateway,
  MeshNetwork,
  MeshNode,
  Sensor,
  MeshDiscovery,
  MeshDiscoveryEvent,
  CollectorDeployment,
};

/** The resolvers of each concern, merged type by type (actuators, grants and tenancy add fields to `Query`, `Mutation`, `Gateway`...). */
export const resolvers: Resolvers = mergeResolvers(base, actuatorResolvers, grantResolvers, tenancyResolvers);

function mergeResolvers(...parts: Resolvers[]): Resolvers {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const part of parts)
    for (const [type, fields] of Object.entries(part)) {
      // Scalars are instances (GraphQLScalarType), kept as they are.
      merged[type] = merged[type] && typeof fields === 'object' ? { ...merged[type], ...fields } : (fields as Record<string, unknown>);
    }
  return merged as Resolvers;
}
