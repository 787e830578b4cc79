/**
 * Writes the open data catalogue of each scenario of the simulated city
 * (`packages/opendata-catalog/scenarios/<scenario>.json`, links under `http://localhost:4000`):
 * what the standalone subgraphs (`npm run subgraph:<name>`, docker-compose) publish and open to
 * every caller without OPENDATA_CATALOG, so that no subgraph imports the simulator.
 * `--check` only compares and exits 1 when a file is stale.
 */
import { format, resolveConfig } from 'prettier';
import { catalogScenarios, scenarioCatalogFile } from '#opendata-catalog';
import { buildScenario, scenarioOpenData } from '#simulator';
import { runScript, writeGeneratedFiles } from './lib/generated-files.ts';

runScript(() =>
  writeGeneratedFiles(
    catalogScenarios.map((scenario) => {
      const file = scenarioCatalogFile(scenario);
      return {
        name: file.pathname,
        file,
        content: async () =>
          format(JSON.stringify(scenarioOpenData(buildScenario(scenario), 'http://localhost:4000')), {
            ...(await resolveConfig(file)),
            parser: 'json',
          }),
      };
    }),
    'npm run catalogs',
  ),
);
