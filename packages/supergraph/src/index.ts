/**
 * The platform's subgraphs and their composition into a supergraph: what `npm run compose`, the
 * all-in-one start and the tests use. The router knows none of it; it serves a supergraph file.
 */
export { subgraphs, type SubgraphName } from './subgraphs.ts';
export { composeSupergraph } from './compose.ts';
export { supergraphTargets } from './targets.ts';
