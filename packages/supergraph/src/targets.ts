import { subgraphs, type SubgraphName } from './subgraphs.ts';

/** The supergraphs the repository keeps composed, each with the subgraph URLs of one way to run it. */
export const supergraphTargets: ReadonlyArray<{ file: string; urls: Record<SubgraphName, string> }> = [
  { file: 'schema/supergraph.graphql', urls: urlsFor(() => '127.0.0.1') },
  { file: 'schema/supergraph.compose.graphql', urls: urlsFor((name) => name) },
];

function urlsFor(host: (name: SubgraphName) => string): Record<SubgraphName, string> {
  return Object.fromEntries(subgraphs.map(({ name, port }) => [name, `http://${host(name)}:${port}/graphql`])) as Record<
    SubgraphName,
    string
  >;
}
