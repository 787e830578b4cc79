import { describe, expect, it } from 'vitest';
import { catalogScenarios, loadOpenDataCatalog } from '#opendata-catalog';
import { buildScenario, scenarioOpenData } from '#simulator';

describe('the open data catalogues the standalone subgraphs load without OPENDATA_CATALOG', () => {
  it.each(catalogScenarios)(
    '%s: the scenario as the simulator builds it, links under PUBLIC_URL (else: npm run catalogs)',
    async (scenario) => {
      const publicUrl = 'http://opendata.example:4000';
      expect(await loadOpenDataCatalog({ scenario, publicUrl })).toEqual(scenarioOpenData(buildScenario(scenario), publicUrl));
      expect((await loadOpenDataCatalog({ scenario })).publicUrl).toBe('http://localhost:4000');
    },
  );
});
