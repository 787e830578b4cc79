import { requireScope, Scope } from '#auth';
import type { QueryResolvers } from '../__generated__/resolvers.ts';

/** Open data is public: every caller holds `opendata:read`, anonymous ones and API keys included. */
export const Query: QueryResolvers = {
  datasets: (_, { theme, keyword }, { sources, caller }) => {
    requireScope(caller, Scope.OPENDATA_READ);
    return sources.catalog.datasets.filter(
      (d) => (!theme || d.themes.includes(theme.toUpperCase())) && (!keyword || d.keywords.some((k) => k.toLowerCase() === keyword.toLowerCase())),
    );
  },
  dataset: (_, { id }, { loaders, caller }) => {
    requireScope(caller, Scope.OPENDATA_READ);
    return loaders.dataset.load(id);
  },
  intersections: (_, __, { sources, caller }) => {
    requireScope(caller, Scope.OPENDATA_READ);
    return sources.catalog.intersections;
  },
  intersection: (_, { id }, { loaders, caller }) => {
    requireScope(caller, Scope.OPENDATA_READ);
    return loaders.intersection.load(id);
  },
  parkingLots: (_, __, { sources, caller }) => {
    requireScope(caller, Scope.OPENDATA_READ);
    return sources.catalog.parkingLots;
  },
};
