import { Kind, parse } from 'graphql';

/** A subgraph as the supergraph names it: its name (`devices`) and the URL the router sends it requests at. */
export interface SubgraphEndpoint {
  name: string;
  url: string;
}

/** The subgraphs of a supergraph SDL, from its `join__Graph` enum (`@join__graph(name:, url:)`). */
export function subgraphEndpoints(supergraph: string): SubgraphEndpoint[] {
  const endpoints: SubgraphEndpoint[] = [];
  for (const definition of parse(supergraph, { noLocation: true }).definitions) {
    if (definition.kind !== Kind.ENUM_TYPE_DEFINITION || definition.name.value !== 'join__Graph') continue;
    for (const value of definition.values ?? []) {
      const directive = value.directives?.find((d) => d.name.value === 'join__graph');
      const argument = (name: string) => {
        const node = directive?.arguments?.find((a) => a.name.value === name)?.value;
        return node?.kind === Kind.STRING ? node.value : undefined;
      };
      const name = argument('name');
      const url = argument('url');
      if (name && url) endpoints.push({ name, url });
    }
  }
  return endpoints;
}
