import { readFile } from 'node:fs/promises';
import type { EnvReader } from '#kit';
import { buildScenario, scenarioOpenData } from '#simulator';
import { validateCatalog, type OpenDataCatalog } from './sources/catalog.ts';

/**
 * The open data catalogue of a standalone process: the file OPENDATA_CATALOG, or the scenario's
 * (SCENARIO) with links under PUBLIC_URL. The opendata subgraph publishes it; devices and
 * telemetry read it to know which sensors are open to every caller.
 */
export async function openDataCatalogFromEnv(env: EnvReader): Promise<OpenDataCatalog> {
  const file = env.optional('OPENDATA_CATALOG');
  if (file) return validateCatalog(JSON.parse(await readFile(file, 'utf8')), file);
  return scenarioOpenData(
    buildScenario(env.string('SCENARIO', 'demo') === 'pisek' ? 'pisek' : 'demo'),
    env.string('PUBLIC_URL', 'http://localhost:4000'),
  );
}
