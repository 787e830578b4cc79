import { readFile } from 'node:fs/promises';
import { parse } from 'graphql';
import { subgraphs, type SubgraphName } from './subgraphs.ts';

/**
 * Composes the four subgraph schemas (`subgraphs/<name>/schema.graphql`) into a Federation v2
 * supergraph whose subgraphs are served at `urls`. Throws with every composition error.
 */
export async function composeSupergraph(urls: Record<SubgraphName, string>): Promise<string> {
  // Loaded when composing only: `#supergraph` also gives the subgraph list to processes that never compose.
  const { composeServices } = await import('@theguild/federation-composition');
  const services = await Promise.all(
    subgraphs.map(async ({ name }) => ({
      name,
      url: urls[name],
      typeDefs: parse(await readFile(new URL(`../../../subgraphs/${name}/schema.graphql`, import.meta.url), 'utf8')),
    })),
  );
  const result = composeServices(services);
  if (result.errors) {
    throw new Error(`Supergraph composition failed:\n${result.errors.map((e) => `- ${e.message}`).join('\n')}`);
  }
  return `${result.supergraphSdl.trimEnd()}\n`;
}
