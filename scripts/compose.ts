/**
 * Writes `schema/supergraph.graphql` from the four subgraph schemas, with each subgraph at its
 * default local URL (override with DEVICES_URL, TELEMETRY_URL, INFRASTRUCTURE_URL, OPENDATA_URL).
 * `--check` only compares and exits 1 when the file is stale.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { composeSupergraph } from '../router/src/compose.ts';
import { defaultSubgraphUrl, subgraphs, type SubgraphName } from '../subgraphs/list.ts';

const target = new URL('../schema/supergraph.graphql', import.meta.url);

async function main(): Promise<void> {
  const urls = Object.fromEntries(
    subgraphs.map(({ name, port }) => [name, process.env[`${name.toUpperCase()}_URL`] ?? defaultSubgraphUrl(port)]),
  ) as Record<SubgraphName, string>;
  const sdl = await composeSupergraph(urls);
  if (process.argv.includes('--check')) {
    const current = await readFile(target, 'utf8').catch(() => '');
    if (current !== sdl) {
      process.stderr.write('schema/supergraph.graphql is stale: run `npm run compose`\n');
      process.exit(1);
    }
    process.stdout.write('schema/supergraph.graphql is up to date\n');
    return;
  }
  await writeFile(target, sdl);
  process.stdout.write(`wrote ${target.pathname}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
