import { DateTime, Duration, loadTypeDefs } from '#kit';
import type { Resolvers } from './__generated__/resolvers.ts';
import { Dataset, Intersection, ParkingLot } from './resolvers/entities.ts';
import { Query } from './resolvers/query.ts';

export const typeDefs = loadTypeDefs('../schema.graphql', import.meta.url);

export const resolvers: Resolvers = { DateTime, Duration, Query, Dataset, Intersection, ParkingLot };
