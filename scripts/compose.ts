/**
 * Writes the supergraphs from the four subgraph schemas:
 * - `schema/supergraph.graphql`: subgraphs on this machine (127.0.0.1:4001-4004), for `npm start`;
 * - `schema/supergraph.compose.graphql`: subgraphs as docker-compose names them (devices:4001, ...).
 * `--check` only compares and exits 1 when a file is stale.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { composeSupergraph, supergraphTargets } from '#supergraph';

async function main(): Promise<void> {
  let stale = false;
  for (const target of supergraphTargets) {
    const file = new URL(`../${target.file}`, import.meta.url);
    const sdl = await composeSupergraph(target.urls);
    const current = await readFile(file, 'utf8').catch(() => '');
    if (process.argv.includes('--check')) {
      if (current !== sdl) {
        stale = true;
        process.stderr.write(`${target.file} is stale: run \`npm run compose\`\n`);
      }
    } else if (current !== sdl) {
      await writeFile(file, sdl);
      process.stdout.write(`wrote ${target.file}\n`);
    }
  }
  if (stale) process.exit(1);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
