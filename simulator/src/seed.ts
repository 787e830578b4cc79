import { quantityUnit, sensorTypes } from '#iqrf';
import { actuatorKey, sensorId, type GatewayRecord, type NodeMeta } from '#registry';
import type { DatasetContent, OpenDataCatalog, SeriesRecord } from '#opendata-catalog';
import { PARKING_TENANT, type Scenario, type ScenarioNode } from './scenario.ts';

/** The city's tenant: it publishes the crossing's counts and the school rooms. */
const CITY_TENANT = 'pisek-city';
/** Who each publishing tenant is to a reader of the catalogue (DCAT `dct:publisher`). */
const publisherNames: Record<string, string> = { [CITY_TENANT]: 'Mesto Pisek', [PARKING_TENANT]: 'Parkoviste Pisek s.r.o.' };

/**
 * What an operator would have entered for the scenario's city: the registry of its gateways
 * (tenant, location, node names and rooms, counter meanings, actuator names, and the tenant of
 * each node assigned to a guest on a shared gateway). Used to seed an empty registry.
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
          ...(node.tenant && node.tenant !== gateway.tenant ? { tenant: node.tenant } : {}),
          ...(node.binaryOutputs?.length || node.lights?.length ? { actuators: actuatorNames(node) } : {}),
        },
      ]),
    ),
  }));
}

/** A node's actuator names by their key in the node (`output0`, `light1`). */
function actuatorNames(node: ScenarioNode): Record<string, string> {
  return Object.fromEntries([
    ...(node.binaryOutputs ?? []).map((output, index) => [actuatorKey('BINARY_OUTPUT', index), output.name]),
    ...(node.lights ?? []).map((light, index) => [actuatorKey('LIGHT', index), light.name]),
  ]);
}

/** The open data catalogue of the scenario's city: datasets, the counted crossing, car parks. */
export function scenarioOpenData(scenario: Scenario, publicUrl: string, modified = new Date(0)): OpenDataCatalog {
  const license = { name: 'Creative Commons Attribution 4.0', url: 'https://creativecommons.org/licenses/by/4.0/' };
  const graphql = { title: 'GraphQL API', format: 'GraphQL', mediaType: 'application/graphql-response+json', accessPath: '/graphql' };
  // Who publishes a thing: its counter node's tenant (the parking operator's car parks are its own).
  const tenantOf = (gatewayId: string, address: number): string => {
    const gateway = scenario.gateways.find((g) => g.id === gatewayId);
    return gateway?.nodes.find((node) => node.address === address)?.tenant ?? gateway?.tenant ?? '';
  };
  const lots = scenario.parkingLots.map((lot) => ({ lot, tenant: tenantOf(lot.gatewayId, lot.counterAddress) }));
  const parkingTenant = lots[0]?.tenant ?? PARKING_TENANT;
  const dataset = (
    id: string,
    tenant: string,
    title: string,
    description: string,
    themes: string[],
    keywords: string[],
    content: DatasetContent,
  ) => ({
    id,
    tenant,
    title,
    description,
    themes,
    keywords,
    license,
    publisher: publisherNames[tenant] ?? tenant,
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
        CITY_TENANT,
        'Traffic counts, Kollarova x Zizkova',
        'Vehicles and pedestrians counted at the crossing of Kollarova and Zizkova, Pisek.',
        ['TRAN'],
        ['traffic', 'vehicles', 'pedestrians', 'Pisek'],
        { kind: 'traffic' },
      ),
      dataset(
        'pisek-parking-occupancy',
        parkingTenant,
        'Car park occupancy',
        'Cars parked and free spaces in the car parks of Pisek, published by their operator.',
        ['TRAN'],
        ['parking', 'Pisek'],
        { kind: 'parking' },
      ),
      dataset(
        'indoor-environment',
        CITY_TENANT,
        'Indoor environment',
        'Temperature, relative humidity and CO2 per room, from IQRF sensor meshes.',
        ['ENVI', 'HEAL'],
        ['temperature', 'humidity', 'CO2', 'air quality'],
        { kind: 'sensors', series: schoolRooms },
      ),
    ],
    intersections: scenario.intersections.map((crossing) => ({
      id: crossing.id,
      tenant: tenantOf(crossing.gatewayId, crossing.counterAddress),
      name: crossing.name,
      location: crossing.location,
      vehicleSensorId: sensorId(crossing.gatewayId, crossing.counterAddress, 0),
      pedestrianSensorId: sensorId(crossing.gatewayId, crossing.counterAddress, 1),
    })),
    parkingLots: lots.map(({ lot, tenant }) => ({
      id: lot.id,
      tenant,
      name: lot.name,
      capacity: lot.capacity,
      location: lot.location,
      sensorId: sensorId(lot.gatewayId, lot.counterAddress, 0),
    })),
  };
}
