import { Quantity, SensorType } from '#iqrf';
import { seededRandom } from './random.ts';

export type Arch = 'amd64' | 'arm' | 'arm64';
export type NodeRole = 'ROUTER' | 'SENSOR' | 'ACTUATOR';

/** One sensor on a mesh node, in the node's sensor order (its index is its position). */
export interface ScenarioSensor {
  type: number;
  quantity: Quantity;
}

/** A binary output (relay, valve) of a node, at its index in the node's Binary Output peripheral. */
export interface ScenarioBinaryOutput {
  name: string;
  /** A ventilation relay: while on, it airs the node's room and lowers its CO2. */
  ventilates?: boolean;
}

/** A dimmable light of a node (a street light), at its index in the node's Light peripheral. */
export interface ScenarioLight {
  name: string;
}

export interface ScenarioNode {
  /** IQRF address 1-239 (the coordinator, 0, is implicit). */
  address: number;
  /** Module id, 8 hex digits. */
  mid: string;
  /** Address of the parent in the mesh tree (0 = coordinator). */
  parent: number;
  role: NodeRole;
  name: string;
  room?: string;
  sensors: ScenarioSensor[];
  /** Its Binary Output peripheral's outputs (none: it has no such peripheral). */
  binaryOutputs?: ScenarioBinaryOutput[];
  /** Its Light peripheral's lights (none: it has no such peripheral). */
  lights?: ScenarioLight[];
  /** The tenant it belongs to when not the gateway's (a shared gateway: `assignNodes`). */
  tenant?: string;
}

export interface GeoPoint {
  lat: number;
  lon: number;
}

export interface ScenarioGateway {
  id: string;
  name: string;
  tenant: string;
  arch: Arch;
  location: GeoPoint & { address: string };
  nodes: ScenarioNode[];
}

export interface ScenarioIntersection {
  id: string;
  name: string;
  location: GeoPoint;
  gatewayId: string;
  /** Node address of the counter on `gatewayId`. */
  counterAddress: number;
}

export interface ScenarioParkingLot {
  id: string;
  name: string;
  capacity: number;
  location: GeoPoint;
  gatewayId: string;
  counterAddress: number;
}

export interface Scenario {
  name: 'demo' | 'pisek';
  seed: number;
  /** Every tenant of the city, gateway owners and guests with nodes on shared gateways alike (each is onboarded). */
  tenants: string[];
  gateways: ScenarioGateway[];
  intersections: ScenarioIntersection[];
  parkingLots: ScenarioParkingLot[];
}

export const scenarioNames = ['demo', 'pisek'] as const;

const PISEK = { lat: 49.3088, lon: 14.1475 };
const AUSTIN = { lat: 30.2635, lon: -97.7396 };
const environment: ScenarioSensor[] = [
  { type: SensorType.TEMPERATURE, quantity: Quantity.TEMPERATURE },
  { type: SensorType.HUMIDITY, quantity: Quantity.HUMIDITY },
  { type: SensorType.CO2, quantity: Quantity.CO2 },
];
const trafficCounter: ScenarioSensor[] = [
  { type: SensorType.BINARYDATA30, quantity: Quantity.VEHICLE_COUNT },
  { type: SensorType.BINARYDATA30, quantity: Quantity.PEDESTRIAN_COUNT },
];
const parkingCounter: ScenarioSensor[] = [{ type: SensorType.BINARYDATA30, quantity: Quantity.PARKING_OCCUPANCY }];
/** A room node's relays: its ventilation, and a spare one (a door opener, a heater). */
const roomRelays: ScenarioBinaryOutput[] = [{ name: 'ventilation', ventilates: true }, { name: 'relay 2' }];
/** The street lights a pole's node dims. */
const streetLights: ScenarioLight[] = [{ name: 'street light A' }, { name: 'street light B' }];
/** The parking operator whose car park counters sit on Pisek gateway 1, a city gateway (a shared gateway). */
export const PARKING_TENANT = 'pisek-parking';
/** The street-lighting customer whose lights' router nodes sit on city gateways (shared gateways). */
export const LIGHTS_TENANT = 'pisek-lights';

/**
 * Builds a scenario. `demo` (the default) is the Austin conference mesh plus a slice of Pisek;
 * `pisek` is the full city: 300 gateways with 3000 endpoints. The same seed gives the same city.
 */
export function buildScenario(name: Scenario['name'] = 'demo', seed = 2016): Scenario {
  const random = seededRandom(seed);
  const mid = () =>
    Math.floor(random() * 0xffffffff)
      .toString(16)
      .padStart(8, '0');
  const pisekGateways = name === 'pisek' ? 300 : 3;
  const gateways: ScenarioGateway[] = [];
  if (name === 'demo') gateways.push(austinGateway(mid));
  for (let i = 1; i <= pisekGateways; i++) gateways.push(pisekGateway(i, random, mid));
  return {
    name,
    seed,
    tenants: [...new Set(gateways.flatMap((g) => [g.tenant, ...g.nodes.flatMap((node) => node.tenant ?? [])]))],
    gateways,
    intersections: [
      {
        id: 'kollarova-zizkova',
        name: 'Kollarova x Zizkova',
        location: { lat: 49.3094, lon: 14.1452 },
        gatewayId: 'pisek-gw001',
        counterAddress: 1,
      },
    ],
    parkingLots: [
      {
        id: 'p-nabrezi',
        name: 'Parkoviste Na Nabrezi',
        capacity: 120,
        location: { lat: 49.3071, lon: 14.144 },
        gatewayId: 'pisek-gw001',
        counterAddress: 2,
      },
      {
        id: 'p-zimni-stadion',
        name: 'Parkoviste Zimni stadion',
        capacity: 200,
        location: { lat: 49.3027, lon: 14.158 },
        gatewayId: 'pisek-gw001',
        counterAddress: 3,
      },
    ],
  };
}

/** The OpenStack Summit demo: one gateway, 20 routers and 20 sensor nodes in rooms on two floors. */
function austinGateway(mid: () => string): ScenarioGateway {
  const nodes: ScenarioNode[] = [];
  for (let i = 1; i <= 20; i++) {
    // Routers form a chain along each floor's corridor: 1-10 on floor 3, 11-20 on floor 4.
    const parent = i === 1 || i === 11 ? 0 : i - 1;
    nodes.push({ address: i, mid: mid(), parent, role: 'ROUTER', name: `router-${i}`, sensors: [] });
  }
  for (let i = 1; i <= 20; i++) {
    const floor = i <= 10 ? 3 : 4;
    const room = `${floor}${String(((i - 1) % 10) + 1).padStart(2, '0')}`;
    nodes.push({
      address: 20 + i,
      mid: mid(),
      parent: i,
      role: 'SENSOR',
      name: `room-${room}`,
      room,
      sensors: environment,
      binaryOutputs: roomRelays,
    });
  }
  return {
    id: 'austin-gw01',
    name: 'Austin Convention Center, 3rd floor',
    tenant: 'austin-summit',
    arch: 'amd64',
    location: { ...AUSTIN, address: '500 E Cesar Chavez St, Austin, TX' },
    nodes,
  };
}

/**
 * One Pisek gateway: 10 endpoints behind a couple of routers; gateway 1 holds the crossing and car
 * parks. Gateways are shared: gateway 1's car park counters are the parking operator's, and the
 * street-light routers of gateways 2 and 3 (and of every fifth gateway of the full city) the
 * lighting customer's, while the rooms behind them stay the gateway owner's.
 */
function pisekGateway(index: number, random: () => number, mid: () => string): ScenarioGateway {
  const id = `pisek-gw${String(index).padStart(3, '0')}`;
  const nodes: ScenarioNode[] = [];
  const routers = 2;
  if (index === 1) {
    nodes.push({
      address: 1,
      mid: mid(),
      parent: 0,
      role: 'SENSOR',
      name: 'counter Kollarova x Zizkova',
      room: 'Kollarova x Zizkova',
      sensors: trafficCounter,
      lights: streetLights,
    });
    nodes.push({
      address: 2,
      mid: mid(),
      parent: 0,
      role: 'SENSOR',
      name: 'parking Na Nabrezi',
      room: 'Na Nabrezi',
      sensors: parkingCounter,
      tenant: PARKING_TENANT,
    });
    nodes.push({
      address: 3,
      mid: mid(),
      parent: 1,
      role: 'SENSOR',
      name: 'parking Zimni stadion',
      room: 'Zimni stadion',
      sensors: parkingCounter,
      tenant: PARKING_TENANT,
    });
    for (let i = 4; i <= 10; i++) nodes.push(environmentNode(i, i % 2 ? 1 : 2, `school room ${i - 3}`, mid));
  } else {
    const lightsShared = index <= 3 || index % 5 === 0;
    for (let r = 1; r <= routers; r++)
      // Routers sit on street-light poles: each dims its pole's lights.
      nodes.push({
        address: r,
        mid: mid(),
        parent: r === 1 ? 0 : 1,
        role: 'ROUTER',
        name: `router-${r}`,
        sensors: [],
        lights: streetLights,
        ...(lightsShared ? { tenant: LIGHTS_TENANT } : {}),
      });
    for (let i = 1; i <= 10; i++) nodes.push(environmentNode(routers + i, 1 + (i % routers), `building ${index} room ${i}`, mid));
  }
  const tenant = index % 10 === 0 ? 'pisek-energy' : 'pisek-city';
  const arch: Arch = index % 3 === 0 ? 'amd64' : index % 3 === 1 ? 'arm' : 'arm64';
  return {
    id,
    name: `Pisek gateway ${index}`,
    tenant,
    arch,
    location: {
      lat: round(PISEK.lat + (random() - 0.5) * 0.04, 5),
      lon: round(PISEK.lon + (random() - 0.5) * 0.06, 5),
      address: `Pisek, site ${index}`,
    },
    nodes,
  };
}

function environmentNode(address: number, parent: number, room: string, mid: () => string): ScenarioNode {
  return { address, mid: mid(), parent, role: 'SENSOR', name: `env-${address}`, room, sensors: environment, binaryOutputs: roomRelays };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
