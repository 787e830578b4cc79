import type { ReadingResolvers } from '../__generated__/resolvers.ts';

export const Reading: ReadingResolvers = {
  sensor: ({ sensorId }) => ({ id: sensorId }),
  time: ({ time }) => new Date(time),
};
