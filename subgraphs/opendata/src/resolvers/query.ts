import type { QueryResolvers } from '../__generated__/resolvers.ts';

/** Open data is public: every caller reads it (`opendata:read` is implied), anonymous ones and API keys included. */
export const Query: QueryResolvers = {
  datasets: (_, { theme, keyword }, { sources }) =>
    sources.catalog.datasets.filter(
      (d) =>
        (!theme || d.themes.includes(theme.toUpperCase())) &&
        (!keyword || d.keywords.some((k) => k.toLowerCase() === keyword.toLowerCase())),
    ),
  dataset: (_, { id }, { loaders }) => loaders.dataset.load(id),
  intersections: (_, __, { sources }) => sources.catalog.intersections,
  intersection: (_, { id }, { loaders }) => loaders.intersection.load(id),
  parkingLots: (_, __, { sources }) => sources.catalog.parkingLots,
};
