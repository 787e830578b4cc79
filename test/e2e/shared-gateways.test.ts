import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { Scope, type Caller } from '#auth';
import type { Platform } from '../../platform/platform.ts';
import type { SubgraphName } from '#supergraph';
import { subgraphRequest, tenantScopes, tokenFor } from '../support/auth.ts';
import { eventually, graphql, take, wsClient, type GraphQLResponse } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

// The demo city's gateways are shared (simulator/src/scenario.ts): on the city's Pisek gateway 1
// the car park counters (nodes 2 and 3) are the parking operator's; on gateways 2 and 3 the
// street-light routers (nodes 1 and 2) are the lighting customer's. The lighting customer's routers
// have no sensors, so the test gives it one more node on gateway 2 (node 3, a room with sensors no
// dataset publishes), as an operator's `assignNodes` would: its readings are then the customer's.
const CITY = 'pisek-city';
const PARKING = 'pisek-parking';
const LIGHTS = 'pisek-lights';
const GW1 = 'pisek-gw001';
const GW2 = 'pisek-gw002';
const parkingSensors = [`${GW1}.2.0`, `${GW1}.3.0`];
/** The room node on gateway 2 the test assigns to the lighting customer, and one the city keeps. */
const lightsRoom = 3;
const lightsSensor = `${GW2}.${lightsRoom}.0`;
const citySensor = `${GW2}.4.0`;

const user = (tenant: string): Caller => ({ kind: 'user', subject: `${tenant}-developer`, tenant, scopes: tenantScopes });
const operator: Caller = { kind: 'user', subject: 'operator', tenant: null, scopes: [Scope.ADMIN] };

interface Node {
  id: string;
  address: number;
  role: string;
  name: string | null;
  room: string | null;
  tenant: string | null;
  hops: number;
  parent: { address: number } | null;
  sensors: Array<{ id: string }>;
}

const MESH = `query ($id: ID!) {
  gateway(id: $id) {
    id tenant name
    mesh { nodes { id address role name room tenant hops parent { address } sensors { id } } }
    sensors { id }
  }
}`;

/** How long after the assignment a reading of a poll sent before it may still be stamped (the collector reads the registry per answer). */
const pollSlack = 5_000;

describe('shared gateways: two tenants on one gateway, each walled at node granularity', () => {
  let platform: Platform;
  let tokens: Record<string, string>;
  let assignedAt: number;
  const clients: Client[] = [];
  const ask = <T = Record<string, any>>(tenant: string, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> =>
    graphql<T>(platform.routerUrl, query, variables, { token: tokens[tenant] });
  const entities = (subgraph: SubgraphName, caller: Caller, selection: string, representations: object[]) =>
    subgraphRequest(
      platform.subgraphs[subgraph].url,
      { query: `query ($r: [_Any!]!) { _entities(representations: $r) { ${selection} } }`, variables: { r: representations } },
      caller,
      platform.subgraphSecret,
    );
  const subscriber = (tenant: string) => {
    const client = wsClient(platform.routerUrl, { token: tokens[tenant] });
    clients.push(client);
    return client;
  };
  const meshOf = async (tenant: string, gatewayId: string) => {
    const { data, errors } = await ask<{ gateway: { tenant: string; mesh: { nodes: Node[] }; sensors: Array<{ id: string }> } }>(
      tenant,
      MESH,
      { id: gatewayId },
    );
    expect(errors).toBeUndefined();
    return data!.gateway;
  };

  beforeAll(async () => {
    platform = await startTestPlatform();
    tokens = Object.fromEntries(await Promise.all([CITY, PARKING, LIGHTS, 'austin-summit'].map(async (t) => [t, await tokenFor(t)])));
    // The city's readings of the room node before it changes hands: they must stay the city's.
    await eventually(async () => (await platform.store.latest([{ sensorId: lightsSensor, tenant: CITY }]))[0]);
    assignedAt = Date.now();
    await platform.registry.update(GW2, (record) => ({
      ...record,
      nodes: { ...record.nodes, [lightsRoom]: { ...record.nodes[lightsRoom], tenant: LIGHTS } },
    }));
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await platform?.close();
  });

  describe('queries through the router', () => {
    it('lists a shared gateway for every tenant with nodes on it, with its owner', async () => {
      const gateways = async (tenant: string) =>
        (await ask<{ gateways: Array<{ id: string; tenant: string }> }>(tenant, '{ gateways { id tenant } }')).data!.gateways;
      expect(await gateways(PARKING)).toEqual([{ id: GW1, tenant: CITY }]);
      expect(await gateways(LIGHTS)).toEqual([
        { id: GW2, tenant: CITY },
        { id: 'pisek-gw003', tenant: CITY },
      ]);
      expect((await gateways(CITY)).map((g) => g.id)).toEqual([GW1, GW2, 'pisek-gw003']);
      expect(await gateways('austin-summit')).toEqual([{ id: 'austin-gw01', tenant: 'austin-summit' }]);
      const byTenant = await graphql<{ gateways: Array<{ id: string }> }>(
        platform.routerUrl,
        `{ gateways(tenant: "${PARKING}") { id } }`,
        undefined,
        { token: await tokenFor('ops', [Scope.ADMIN]) },
      );
      expect(byTenant.data!.gateways).toEqual([{ id: GW1 }]);
    });

    it("shows each tenant its own nodes and sensors, and the other tenant's nodes as anonymous hops", async () => {
      const parking = await meshOf(PARKING, GW1);
      const city = await meshOf(CITY, GW1);
      const own = (gateway: { mesh: { nodes: Node[] } }) => gateway.mesh.nodes.filter((n) => n.role !== 'HOP').map((n) => n.address);
      expect(own(parking)).toEqual([2, 3]);
      expect(own(city)).toEqual([1, 4, 5, 6, 7, 8, 9, 10]);
      expect(parking.sensors.map((s) => s.id)).toEqual(parkingSensors);
      expect(city.sensors.map((s) => s.id)).not.toEqual(expect.arrayContaining([parkingSensors[0]]));
      expect(city.sensors.length).toBe(2 + 7 * 3);
      expect(parking.mesh.nodes.find((n) => n.address === 2)).toMatchObject({
        role: 'SENSOR',
        name: 'parking Na Nabrezi',
        tenant: PARKING,
        sensors: [{ id: `${GW1}.2.0` }],
      });
      // A hop is an address in the tree and nothing else: no name, room, tenant or sensors.
      const hop = city.mesh.nodes.find((n) => n.address === 3)!;
      expect(hop).toEqual({
        id: `${GW1}.3`,
        address: 3,
        role: 'HOP',
        name: null,
        room: null,
        tenant: null,
        hops: 2,
        parent: { address: 1 },
        sensors: [],
      });
      for (const node of parking.mesh.nodes.filter((n) => n.role === 'HOP'))
        expect(node).toEqual({ ...node, name: null, room: null, tenant: null, sensors: [] });
      // The operator sees every node with its tenant.
      const all = await graphql<{ gateway: { mesh: { nodes: Node[] } } }>(
        platform.routerUrl,
        MESH,
        { id: GW1 },
        {
          token: await tokenFor('ops', [Scope.ADMIN]),
        },
      );
      expect(all.data!.gateway.mesh.nodes.map((n) => n.tenant)).toEqual([CITY, PARKING, PARKING, ...Array(7).fill(CITY)]);
      expect(all.data!.gateway.mesh.nodes.some((n) => n.role === 'HOP')).toBe(false);
    });

    it("the lighting customer's routers are hops in the city's tree, the city's rooms hops in the customer's", async () => {
      const lights = await meshOf(LIGHTS, GW2);
      const city = await meshOf(CITY, GW2);
      expect(lights.mesh.nodes.filter((n) => n.role !== 'HOP').map((n) => [n.address, n.tenant])).toEqual([
        [1, LIGHTS],
        [2, LIGHTS],
        [3, LIGHTS],
      ]);
      expect(city.mesh.nodes.filter((n) => n.role === 'HOP').map((n) => n.address)).toEqual([1, 2, 3]);
      // The city's rooms still hang on the customer's routers: the tree is whole for both.
      expect(city.mesh.nodes.find((n) => n.address === 4)).toMatchObject({ role: 'SENSOR', parent: { address: 1 }, hops: 2 });
      expect(lights.sensors.map((s) => s.id)).toEqual([`${GW2}.3.0`, `${GW2}.3.1`, `${GW2}.3.2`]);
      expect(city.sensors.map((s) => s.id)).not.toContain(lightsSensor);
    });

    it("answers another tenant's sensor on the shared gateway as NOT_FOUND, word for word as a missing one", async () => {
      const query = 'query ($id: ID!) { sensor(id: $id) { id } }';
      for (const [tenant, theirs, missing] of [
        [CITY, lightsSensor, `${GW2}.200.0`],
        [LIGHTS, citySensor, `${GW2}.201.0`],
        [CITY, parkingSensors[0]!, `${GW1}.200.0`],
      ] as const) {
        const [hidden, absent] = await Promise.all([ask(tenant, query, { id: theirs }), ask(tenant, query, { id: missing })]);
        expect(hidden.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
        expect(hidden.errors![0]!.message.replace(theirs, '<id>')).toBe(absent.errors![0]!.message.replace(missing, '<id>'));
      }
      const mine = await ask<{ sensors: Array<{ id: string }>; ofGateway: Array<{ id: string }> }>(
        PARKING,
        `{ sensors { id } ofGateway: sensors(gatewayId: "${GW1}") { id } }`,
      );
      expect(mine.data).toEqual({ sensors: parkingSensors.map((id) => ({ id })), ofGateway: parkingSensors.map((id) => ({ id })) });
      const lights = await ask<{ sensors: Array<{ id: string }> }>(LIGHTS, '{ sensors { id } }');
      expect(lights.data!.sensors.map((s) => s.id)).toEqual([`${GW2}.3.0`, `${GW2}.3.1`, `${GW2}.3.2`]);
    });
  });

  describe('_entities straight to the subgraphs', () => {
    it("devices: another tenant's node and sensor of a shared gateway are null; the gateway is each tenant's", async () => {
      const lights = user(LIGHTS);
      const result = await entities(
        'devices',
        lights,
        '... on Gateway { id owner: tenant } ... on MeshNode { id tenant } ... on Sensor { id name }',
        [
          { __typename: 'Gateway', id: GW2 },
          { __typename: 'MeshNode', id: `${GW2}.1` },
          { __typename: 'MeshNode', id: `${GW2}.4` },
          { __typename: 'Sensor', id: lightsSensor },
          { __typename: 'Sensor', id: citySensor },
          { __typename: 'Gateway', id: GW1 },
        ],
      );
      expect(result.errors).toBeUndefined();
      expect(result.data._entities).toEqual([
        { id: GW2, owner: CITY },
        { id: `${GW2}.1`, tenant: LIGHTS },
        null,
        { id: lightsSensor, name: expect.any(String) },
        null,
        null,
      ]);
      const city = await entities('devices', user(CITY), '... on MeshNode { id } ... on Sensor { id }', [
        { __typename: 'MeshNode', id: `${GW2}.1` },
        { __typename: 'MeshNode', id: `${GW2}.3` },
        { __typename: 'Sensor', id: lightsSensor },
        { __typename: 'MeshNode', id: `${GW2}.4` },
      ]);
      expect(city.data._entities).toEqual([null, null, null, { id: `${GW2}.4` }]);
    });

    it("telemetry: another tenant's sensor of a shared gateway has no readings to give", async () => {
      await eventually(async () => (await platform.store.latest([{ sensorId: lightsSensor, tenant: LIGHTS }]))[0]);
      const selection = '... on Sensor { id latest { value } readings(from: "-10min") { time } }';
      const reps = [lightsSensor, citySensor].map((id) => ({ __typename: 'Sensor', id }));
      const lights = await entities('telemetry', user(LIGHTS), selection, reps);
      expect(lights.errors).toBeUndefined();
      expect(lights.data._entities[0]).toMatchObject({ id: lightsSensor, latest: { value: expect.any(Number) } });
      expect(lights.data._entities[1]).toBeNull();
      const city = await entities('telemetry', user(CITY), selection, reps);
      expect(city.data._entities[0]).toBeNull();
      expect(city.data._entities[1]).toMatchObject({ id: citySensor, latest: { value: expect.any(Number) } });
      // The operator reads each sensor's series of its node's tenant now.
      const all = await entities('telemetry', operator, selection, reps);
      expect(all.data._entities.map((e: { id: string } | null) => e?.id)).toEqual([lightsSensor, citySensor]);
    });
  });

  describe('history', () => {
    it("reads a node's readings as its tenant's: those taken before it was reassigned stay the earlier tenant's", async () => {
      const history = await eventually(async () => {
        const { data } = await ask<{ sensor: { latest: { time: string } | null; readings: Array<{ time: string }> } }>(
          LIGHTS,
          `{ sensor(id: "${lightsSensor}") { latest { time } readings(from: "-10min") { time } } }`,
        );
        return data?.sensor.latest && data.sensor.readings.length ? data.sensor : undefined;
      });
      expect(history.readings.length).toBeGreaterThan(0);
      // The city's readings of the node stay in the city's series, and it gets none after the
      // assignment (a poll in flight aside): the customer's readings are in the customer's.
      await eventually(async () => (await platform.store.latest([{ sensorId: lightsSensor, tenant: LIGHTS }]))[0]);
      const [cityLatest] = await platform.store.latest([{ sensorId: lightsSensor, tenant: CITY }]);
      expect(cityLatest!.time).toBeLessThanOrEqual(assignedAt + pollSlack);
      const [cityHistory] = await platform.store.query({
        series: [{ sensorId: lightsSensor, tenant: CITY }],
        from: assignedAt - 600_000,
        until: Date.now(),
      });
      expect(cityHistory!.length).toBeGreaterThan(0);
      // And the city no longer reads the node it gave away.
      const city = await ask(CITY, `{ sensor(id: "${lightsSensor}") { latest { time } } }`);
      expect(city.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    });
  });

  describe('subscriptions through the router', () => {
    const READINGS = 'subscription ($gw: ID!, $after: String) { readings(gatewayId: $gw, after: $after) { sensor { id } cursor } }';
    type Event = { readings: { sensor: { id: string }; cursor: string } };
    const ids = (events: Array<{ data?: Event | null }>) => events.map((e) => e.data!.readings.sensor.id);

    it("delivers on a shared gateway's stream only the caller's own nodes' readings, live and replayed", async () => {
      const [parking, city] = await Promise.all([
        take<Event>(subscriber(PARKING), READINGS, 6, 20_000, { gw: GW1 }),
        take<Event>(subscriber(CITY), READINGS, 12, 20_000, { gw: GW1 }),
      ]);
      expect(new Set(ids(parking))).toEqual(new Set(parkingSensors));
      expect(ids(city).filter((id) => parkingSensors.includes(id))).toEqual([]);
      // Replay from the first cursor: the bus holds both tenants' readings since, each gets its own.
      const parkingReplay = await take<Event>(subscriber(PARKING), READINGS, 6, 20_000, {
        gw: GW1,
        after: parking[0]!.data!.readings.cursor,
      });
      expect(ids(parkingReplay).every((id) => parkingSensors.includes(id))).toBe(true);
      const cityReplay = await take<Event>(subscriber(CITY), READINGS, 12, 20_000, { gw: GW1, after: parking[0]!.data!.readings.cursor });
      expect(ids(cityReplay).filter((id) => parkingSensors.includes(id))).toEqual([]);
      // The lighting customer on gateway 2: the room it was given, not the city's.
      const lights = await take<Event>(subscriber(LIGHTS), READINGS, 6, 20_000, { gw: GW2 });
      expect(ids(lights).every((id) => id.startsWith(`${GW2}.${lightsRoom}.`))).toBe(true);
      const city2 = await take<Event>(subscriber(CITY), READINGS, 12, 20_000, { gw: GW2 });
      expect(ids(city2).filter((id) => id.startsWith(`${GW2}.${lightsRoom}.`))).toEqual([]);
    });

    it('refuses a gateway on which the caller has no node, as a missing one', async () => {
      const [hidden] = await take(subscriber(PARKING), READINGS, 1, 10_000, { gw: GW2 });
      expect(hidden!.errors).toMatchObject([{ message: `No gateway "${GW2}"`, extensions: { code: 'NOT_FOUND' } }]);
    });
  });

  describe('open data downloads', () => {
    const download = async (dataset: string) => {
      const base = platform.routerUrl.replace('/graphql', '/opendata');
      const response = await fetch(`${base}/datasets/${dataset}.json?from=-10min&every=1s`);
      expect(response.status).toBe(200);
      return ((await response.json()) as { rows: Array<Record<string, string | number>> }).rows;
    };

    it("publishes the parking operator's car parks, and no sensor whose node is not its publisher's", async () => {
      const parking = await eventually(async () => {
        const rows = await download('pisek-parking-occupancy');
        return new Set(rows.map((r) => r.lot)).size === 2 ? rows : undefined;
      });
      expect(parking.length).toBeGreaterThan(0);
      // The city publishes its school rooms; one of them handed to the parking operator publishes nothing any more.
      const room = `${GW1}.4.`;
      await eventually(async () => (await download('indoor-environment')).some((r) => String(r.sensor).startsWith(room)));
      await platform.registry.update(GW1, (record) => ({
        ...record,
        nodes: { ...record.nodes, 4: { ...record.nodes[4], tenant: PARKING } },
      }));
      try {
        const rows = await download('indoor-environment');
        expect(rows.filter((r) => String(r.sensor).startsWith(room))).toEqual([]);
        expect(rows.some((r) => String(r.sensor).startsWith(`${GW1}.5.`))).toBe(true);
        const csv = await (
          await fetch(`${platform.routerUrl.replace('/graphql', '/opendata')}/datasets/indoor-environment.csv?from=-10min&every=1s`)
        ).text();
        expect(csv).not.toContain(room);
      } finally {
        await platform.registry.update(GW1, (record) => {
          const { tenant: _parking, ...cityRoom } = record.nodes[4]!;
          return { ...record, nodes: { ...record.nodes, 4: cityRoom } };
        });
      }
    });
  });
});
