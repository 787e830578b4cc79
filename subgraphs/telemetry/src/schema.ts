import { DateTime, Duration, loadTypeDefs } from '#kit';
import type { Resolvers } from './__generated__/resolvers.ts';
import { Reading } from './resolvers/reading.ts';
import { Sensor } from './resolvers/sensor.ts';
import { Subscription } from './resolvers/subscription.ts';

export const typeDefs = loadTypeDefs('../schema.graphql', import.meta.url);

export const resolvers: Resolvers = { DateTime, Duration, Sensor, Reading, Subscription };
