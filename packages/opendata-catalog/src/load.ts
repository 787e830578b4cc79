import { readFile } from 'node:fs/promises';
import type { EnvReader } from '#kit';
import { validateCatalog, type OpenDataCatalog } from './catalog.ts';

/** The scenarios whose catalogue is kept in `packages/opendata-catalog/scenarios/` (`npm run catalogs` writes them). */
export const catalogScenarios = ['demo', 'pisek'] as const;

/** Where a standalone process finds the open data catalogue. */
export interface OpenDataCatalogOptions {
  /** A catalogue file (JSON, `OpenDataCatalog`), published as written. */
  file?: string;
  /** Without `file`: the kept catalogue of this scenario of the simulated city. Default `demo`. */
  scenario?: (typeof catalogScenarios)[number];
  /** Without `file`: the base URL its links are relative to. Default `http://localhost:4000`. */
  publicUrl?: string;
}

/** OPENDATA_CATALOG, or the kept catalogue of SCENARIO with links under PUBLIC_URL. */
export function openDataCatalogFromEnv(env: EnvReader): OpenDataCatalogOptions {
  return {
    file: env.optional('OPENDATA_CATALOG'),
    scenario: env.string('SCENARIO', 'demo') === 'pisek' ? 'pisek' : 'demo',
    publicUrl: env.optional('PUBLIC_URL'),
  };
}

/** The file holding a scenario's catalogue as the simulator builds it (links under `http://localhost:4000`). */
export function scenarioCatalogFile(scenario: (typeof catalogScenarios)[number]): URL {
  return new URL(`../scenarios/${scenario}.json`, import.meta.url);
}

/**
 * The open data catalogue of a standalone process: `file`, or the scenario's kept catalogue with
 * its links under `publicUrl`. The opendata subgraph publishes it; devices and telemetry read it
 * to know which sensors are open to every caller.
 */
export async function loadOpenDataCatalog(options: OpenDataCatalogOptions = {}): Promise<OpenDataCatalog> {
  if (options.file) return validateCatalog(JSON.parse(await readFile(options.file, 'utf8')), options.file);
  const file = scenarioCatalogFile(options.scenario ?? 'demo');
  const catalog = validateCatalog(JSON.parse(await readFile(file, 'utf8')), file.pathname);
  return { ...catalog, publicUrl: options.publicUrl ?? 'http://localhost:4000' };
}
