import { readFileSync } from 'node:fs';
import { parse, type DocumentNode } from 'graphql';

/** Parses a subgraph's `schema.graphql`, located relative to the calling module (`import.meta.url`). */
export function loadTypeDefs(relativePath: string, base: string | URL): DocumentNode {
  return parse(readFileSync(new URL(relativePath, base), 'utf8'));
}
