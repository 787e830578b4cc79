/**
 * Writes the supergraphs from the four subgraph schemas:
 * - `schema/supergraph.graphql`: subgraphs on this machine (127.0.0.1:4001-4004), for `npm start`;
 * - `schema/supergraph.compose.graphql`: subgraphs as docker-compose names them (devices:4001, ...).
 * `--check` only compares and exits 1 when a file is stale.
 */
import { composeSupergraph, supergraphTargets } from '#supergraph';
import { runScript, writeGeneratedFiles } from './lib/generated-files.ts';

runScript(() =>
  writeGeneratedFiles(
    supergraphTargets.map((target) => ({
      name: target.file,
      file: new URL(`../${target.file}`, import.meta.url),
      content: () => composeSupergraph(target.urls),
    })),
    'npm run compose',
  ),
);
