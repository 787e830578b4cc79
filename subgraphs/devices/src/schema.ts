import { DateTime, loadTypeDefs } from '#kit';
import type { Resolvers } from './__generated__/resolvers.ts';
import { CollectorDeployment, MeshDiscovery, MeshDiscoveryEvent, Subscription } from './resolvers/discovery.ts';
import { Gateway } from './resolvers/gateway.ts';
import { MeshNetwork, MeshNode } from './resolvers/mesh.ts';
import { Mutation } from './resolvers/mutation.ts';
import { Query } from './resolvers/query.ts';
import { Sensor } from './resolvers/sensor.ts';

export const typeDefs = loadTypeDefs('../schema.graphql', import.meta.url);

export const resolvers: Resolvers = {
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
