import { describe, expect, it } from 'vitest';
import { foreignPublishedSensors, isPublishedNow, publishedSensorIds, validateCatalog } from '#opendata-catalog';
import { buildScenario, scenarioOpenData, scenarioRegistry } from '#simulator';

// "Open data publishes only what its owner published": each published sensor has a publishing
// tenant, and publishes only while its node is that tenant's (a gateway serves several tenants).
describe('who publishes what in the open data catalogue', () => {
  it.each(['demo', 'pisek'] as const)('%s: every published sensor is of a node of its publisher', (name) => {
    const scenario = buildScenario(name);
    const catalog = scenarioOpenData(scenario, 'http://localhost:4000');
    const gateways = new Map(scenarioRegistry(scenario).map((record) => [record.id, record]));
    const published = publishedSensorIds(catalog);
    expect(foreignPublishedSensors(published, gateways)).toEqual([]);
    // The car parks on the city's gateway 1 are the parking operator's, and so is their dataset.
    expect(catalog.parkingLots.map((lot) => lot.tenant)).toEqual(['pisek-parking', 'pisek-parking']);
    expect(catalog.datasets.find((d) => d.id === 'pisek-parking-occupancy')?.tenant).toBe('pisek-parking');
    expect(published.publisherOf(catalog.parkingLots[0]!.sensorId)).toBe('pisek-parking');
    expect(published.publisherOf(catalog.intersections[0]!.vehicleSensorId)).toBe('pisek-city');
  });

  it('closes a published sensor whose node is assigned to another tenant than its publisher', () => {
    const scenario = buildScenario('demo');
    const catalog = scenarioOpenData(scenario, 'http://localhost:4000');
    const gw1 = scenarioRegistry(scenario).find((record) => record.id === 'pisek-gw001')!;
    const published = publishedSensorIds(catalog);
    expect(isPublishedNow(published, 'pisek-gw001.2.0', gw1)).toBe(true);
    const reassigned = { ...gw1, nodes: { ...gw1.nodes, 2: { ...gw1.nodes[2], tenant: 'someone-else' } } };
    expect(isPublishedNow(published, 'pisek-gw001.2.0', reassigned)).toBe(false);
    expect(foreignPublishedSensors(published, new Map([[gw1.id, reassigned]]))).toEqual([
      { sensorId: 'pisek-gw001.2.0', publisher: 'pisek-parking', nodeTenant: 'someone-else' },
    ]);
    // A set that names no publishers lets each gateway's owner publish its own nodes' sensors only.
    const plain = new Set(['pisek-gw001.2.0', 'pisek-gw001.1.0']);
    expect(isPublishedNow(plain, 'pisek-gw001.1.0', gw1)).toBe(true);
    expect(isPublishedNow(plain, 'pisek-gw001.2.0', gw1)).toBe(false);
    expect(isPublishedNow(published, 'pisek-gw001.1.5', gw1)).toBe(false);
  });

  it("refuses a catalogue in which a tenant publishes another's car park, or two tenants one sensor", () => {
    const catalog = scenarioOpenData(buildScenario('demo'), 'http://localhost:4000');
    const cityParking = {
      ...catalog,
      datasets: catalog.datasets.map((d) => (d.id === 'pisek-parking-occupancy' ? { ...d, tenant: 'pisek-city' } : d)),
    };
    expect(() => validateCatalog(JSON.parse(JSON.stringify(cityParking)), 'catalog.json')).toThrow(
      'catalog.json: datasets[1] ("pisek-parking-occupancy") is published by tenant "pisek-city" but covers car park "p-nabrezi" of tenant "pisek-parking"',
    );
    const twice = {
      ...catalog,
      datasets: [
        ...catalog.datasets,
        {
          ...catalog.datasets[2]!,
          id: 'parking-raw',
          tenant: 'pisek-city',
          content: {
            kind: 'sensors' as const,
            series: [{ sensorId: 'pisek-gw001.2.0', label: 'Na Nabrezi', quantity: 'PARKING_OCCUPANCY' }],
          },
        },
      ],
    };
    expect(() => validateCatalog(JSON.parse(JSON.stringify(twice)), 'catalog.json')).toThrow(
      /sensor "pisek-gw001.2.0" is published by tenant "pisek-parking" and by tenant "pisek-city"/,
    );
    expect(() => validateCatalog({ ...catalog, parkingLots: [{ ...catalog.parkingLots[0], tenant: 7 }] }, 'c.json')).toThrow(
      'c.json: parkingLots[0].tenant must be a non-empty string',
    );
    expect(validateCatalog(JSON.parse(JSON.stringify(catalog)), 'catalog.json')).toEqual(catalog);
  });
});
