import { quantityUnit, sensorTypes } from '#iqrf';
import { sensorId, type GatewayRecord, type NodeMeta } from '#registry';
import type { DatasetContent, OpenDataCatalog, SeriesRecord } from '#opendata-catalog';
import type { Scenario } from './scenario.ts';

/**
 * What an operator would have entered for the scenario's city: the registry of its gateways
 * (tenant, location, node names and rooms, counter meanings). Used to seed an empty registry.
 */
export function scenarioRegistry(scenario: Scenario, registeredAt = new Date(0)): GatewayRecord[] {
  return scenario.gateways.map((gateway) => ({
    id: gateway.id,
    name: gateway.name,
    tenant: gateway.tenant,
    arch: gateway.arch === 'amd64' ? 'AMD64' : gateway.arch === 'arm' ? 'ARM' : 'ARM64',
    status: 'ONLINE',
    location: gateway.location,
    registeredAt: registeredAt.toISOString(),
    nodes: Object.fromEntries(
      gateway.nodes.map((node): [number, NodeMeta] => [
        node.address,
        {
          name: node.name,
          ...(node.room ? { room: node.room } : {}),
          quantities: Object.fromEntries(node.sensors.map((sensor, index) => [index, sensor.quantity])),
        },
      ]),
    ),
  }));
}

/** The open data catalogue of the scenario's city: datasets, the counted crossing, car parks. */
export function scenarioOpenData(scenario: Scenario, publicUrl: string, modified = new Date(0)): OpenDataCatalog {
  const license = { name: 'Creative Commons Attribution 4.0', url: 'https://creativecommons.org/licenses/by/4.0/' };
  const graphql = { title: 'GraphQL API', format: 'GraphQL', mediaType: 'application/graphql-response+json', accessPath: '/graphql' };
  const dataset = (id: string, title: string, description: string, themes: string[], keywords: string[], content: DatasetContent) => ({
    id,
    title,
    description,
    themes,
    keywords,
    license,
    publisher: 'Mesto Pisek',
    distributions: [graphql],
    modified: modified.toISOString(),
    accrualPeriodicity: 'PT10S',
    content,
  });
  // Published indoor series: the school rooms on Pisek gateway 1 (city tenant), nothing else.
  const schoolRooms: SeriesRecord[] = scenario.gateways
    .filter((gateway) => gateway.id === 'pisek-gw001')
    .flatMap((gateway) =>
      gateway.nodes
        .filter((node) => node.room?.startsWith('school room'))
        .flatMap((node) =>
          node.sensors.map((sensor, index) => ({
            sensorId: sensorId(gateway.id, node.address, index),
            label: `${node.room}: ${sensorTypes.get(sensor.type)?.name ?? sensor.quantity}`,
            quantity: sensor.quantity,
            unit: quantityUnit[sensor.quantity],
          })),
        ),
    );
  return {
    publicUrl,
    datasets: [
      dataset(
        'pisek-traffic-counts',
        'Traffic counts, Kollarova x Zizkova',
        'Vehicles and pedestrians counted at the crossing of Kollarova and Zizkova, Pisek.',
        ['TRAN'],
        ['traffic', 'vehicles', 'pedestrians', 'Pisek'],
        { kind: 'traffic' },
      ),
      dataset(
        'pisek-parking-occupancy',
        'Car park occupancy',
        'Cars parked and free spaces in the municipal car parks of Pisek.',
        ['TRAN'],
        ['parking', 'Pisek'],
        { kind: 'parking' },
      ),
      dataset(
        'indoor-environment',
        'Indoor environment',
        'Temperature, relative humidity and CO2 per room, from IQRF sensor meshes.',
        ['ENVI', 'HEAL'],
        ['temperature', 'humidity', 'CO2', 'air quality'],
        { kind: 'sensors', series: schoolRooms },
      ),
    ],
    intersections: scenario.intersections.map((crossing) => ({
      id: crossing.id,
      name: crossing.name,
      location: crossing.location,
      vehicleSensorId: sensorId(crossing.gatewayId, crossing.counterAddress, 0),
      pedestrianSensorId: sensorId(crossing.gatewayId, crossing.counterAddress, 1),
    })),
    parkingLots: scenario.parkingLots.map((lot) => ({
      id: lot.id,
      name: lot.name,
      capacity: lot.capacity,
      location: lot.location,
      sensorId: sensorId(lot.gatewayId, lot.counterAddress, 0),
    })),
  };
}
