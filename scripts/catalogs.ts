/**
 * Writes the open data catalogue of each scenario of the simulated city
 * (`packages/opendata-catalog/scenarios/<scenario>.json`, links under `http://localhost:4000`):
 * what the standalone subgraphs (`npm run subgraph:<name>`, docker-compose) publish and open to
 * every caller without OPENDATA_CATALOG, so that no subgraph imports the simulator.
 * `--check` only compares and exits 1 when a file is stale.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { format, resolveConfig } from 'prettier';
import { catalogScenarios, scenarioCatalogFile } from '#opendata-catalog';
import { buildScenario, scenarioOpenData } from '#simulator';

async function main(): Promise<void> {
  let stale = false;
  for (const scenario of catalogScenarios) {
    const file = scenarioCatalogFile(scenario);
    const catalog = scenarioOpenData(buildScenario(scenario), 'http://localhost:4000');
    const json = await format(JSON.stringify(catalog), { ...(await resolveConfig(file)), parser: 'json' });
    const current = await readFile(file, 'utf8').catch(() => '');
    if (current === json) continue;
    if (process.argv.includes('--check')) {
      stale = true;
      process.stderr.write(`${file.pathname} is stale: run \`npm run catalogs\`\n`);
    } else {
      await writeFile(file, json);
      process.stdout.write(`wrote ${file.pathname}\n`);
    }
  }
  if (stale) process.exit(1);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
