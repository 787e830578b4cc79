import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { anonymousCaller, Scope, signConnection, type Caller } from '#auth';
import type { Reading } from '#telemetry';
import type { Platform } from '../../platform/platform.ts';
import type { SubgraphName } from '#supergraph';
import { subgraphRequest, tenantScopes, tokenFor } from '../support/auth.ts';
import { eventually, graphql, wsClient } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

// The demo city has two tenants: "pisek-city" (pisek-gw001..003, the open data counters on
// pisek-gw001) and "austin-summit" (austin-gw01). The tests sign in as the city and look over the wall.
const CITY = 'pisek-city';
const AUSTIN = 'austin-summit';
const user = (tenant: string, scopes: Scope[] = tenantScopes): Caller => ({ kind: 'user', subject: `${tenant}-developer`, tenant, scopes });
const city = user(CITY);
const austin = user(AUSTIN);
const operator: Caller = { kind: 'user', subject: 'operator', tenant: null, scopes: [Scope.ADMIN] };

const austinSensor = 'austin-gw01.21.0';
const citySensor = 'pisek-gw002.3.0';
/** The parking counter of Na Nabrezi: the parking operator's node on the city's gateway, published by the open data catalogue. */
const openSensor = 'pisek-gw001.2.0';
const PARKING = 'pisek-parking';

describe('tenant walls in the subgraphs', () => {
  let platform: Platform;
  const ask = (subgraph: SubgraphName, caller: Caller, query: string, variables?: Record<string, unknown>) =>
    subgraphRequest(platform.subgraphs[subgraph].url, { query, variables }, caller, platform.subgraphSecret);
  const entities = (subgraph: SubgraphName, caller: Caller, selection: string, representations: object[]) =>
    ask(subgraph, caller, `query ($r: [_Any!]!) { _entities(representations: $r) { ${selection} } }`, { r: representations });

  beforeAll(async () => {
    platform = await startTestPlatform();
  });

  afterAll(async () => {
    await platform?.close();
  });

  describe('trust', () => {
    it('refuses unsigned requests and requests signed with another secret, in every subgraph', async () => {
      for (const { url } of Object.values(platform.subgraphs)) {
        const unsigned = await subgraphRequest(url, { query: '{ __typename }' });
        expect(unsigned.status).toBe(401);
        expect(unsigned.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
        const forged = await subgraphRequest(url, { query: '{ __typename }' }, operator, 'not-the-router-secret');
        expect(forged.status).toBe(401);
        const signed = await subgraphRequest(url, { query: '{ __typename }' }, operator, platform.subgraphSecret);
        expect(signed.status).toBe(200);
      }
    });
  });

  describe('devices', () => {
    it("answers another tenant's gateway and sensor as NOT_FOUND, word for word as a missing one", async () => {
      const gateway = 'query ($id: ID!) { gateway(id: $id) { id } }';
      const sensor = 'query ($id: ID!) { sensor(id: $id) { id } }';
      const sensors = 'query ($id: ID!) { sensors(gatewayId: $id) { id } }';
      for (const [query, theirs, missing] of [
        [gateway, 'austin-gw01', 'nowhere-gw01'],
        [sensor, austinSensor, 'nowhere-gw01.21.0'],
        [sensors, 'austin-gw01', 'nowhere-gw01'],
      ] as const) {
        const [hidden, absent] = await Promise.all([
          ask('devices', city, query, { id: theirs }),
          ask('devices', city, query, { id: missing }),
        ]);
        expect(hidden.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
        expect(hidden.errors![0]!.message.replace(theirs, '<id>')).toBe(absent.errors![0]!.message.replace(missing, '<id>'));
      }
      // The operator is not walled: the same ids exist.
      const seen = await ask('devices', operator, `{ gateway(id: "austin-gw01") { tenant } sensor(id: "${austinSensor}") { id } }`);
      expect(seen.errors).toBeUndefined();
      expect(seen.data).toEqual({ gateway: { tenant: AUSTIN }, sensor: { id: austinSensor } });
    });

    it("lists only the caller's gateways and sensors; admin lists every tenant's", async () => {
      const mine = await ask('devices', city, `{ gateways { id tenant } sensors { id } theirs: gateways(tenant: "${AUSTIN}") { id } }`);
      expect(mine.errors).toBeUndefined();
      expect(mine.data.gateways.map((g: { id: string }) => g.id)).toEqual(['pisek-gw001', 'pisek-gw002', 'pisek-gw003']);
      expect(new Set(mine.data.gateways.map((g: { tenant: string }) => g.tenant))).toEqual(new Set([CITY]));
      expect(mine.data.sensors.length).toBeGreaterThan(0);
      expect(mine.data.sensors.filter((s: { id: string }) => !s.id.startsWith('pisek-gw'))).toEqual([]);
      expect(mine.data.theirs).toEqual([]);

      const all = await ask('devices', operator, '{ gateways { id } }');
      expect(all.data.gateways.map((g: { id: string }) => g.id)).toEqual(['austin-gw01', 'pisek-gw001', 'pisek-gw002', 'pisek-gw003']);
    });

    it("resolves another tenant's Gateway, Sensor and MeshNode entities to null", async () => {
      const selection = '... on Gateway { id tenant } ... on Sensor { id } ... on MeshNode { id address }';
      const representations = [
        { __typename: 'Gateway', id: 'austin-gw01' },
        { __typename: 'Sensor', id: austinSensor },
        { __typename: 'MeshNode', id: 'austin-gw01.21' },
        { __typename: 'Gateway', id: 'pisek-gw002' },
        { __typename: 'Sensor', id: citySensor },
        { __typename: 'MeshNode', id: 'pisek-gw002.3' },
      ];
      const asCity = await entities('devices', city, selection, representations);
      expect(asCity.errors).toBeUndefined();
      expect(asCity.data._entities).toEqual([
        null,
        null,
        null,
        { id: 'pisek-gw002', tenant: CITY },
        { id: citySensor },
        { id: 'pisek-gw002.3', address: 3 },
      ]);
      const asOperator = await entities('devices', operator, selection, representations.slice(0, 3));
      expect(asOperator.data._entities).toEqual([
        { id: 'austin-gw01', tenant: AUSTIN },
        { id: austinSensor },
        { id: 'austin-gw01.21', address: 21 },
      ]);
    });

    it('needs devices:read: FORBIDDEN naming it, UNAUTHENTICATED for anonymous callers', async () => {
      const noScope = await ask('devices', user(CITY, [Scope.TELEMETRY_READ]), '{ gateways { id } }');
      expect(noScope.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', scope: 'devices:read' });
      const entity = await entities('devices', user(CITY, [Scope.TELEMETRY_READ]), '... on Gateway { id }', [
        { __typename: 'Gateway', id: 'pisek-gw002' },
      ]);
      expect(entity.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', scope: 'devices:read' });
      const anonymous = await ask('devices', anonymousCaller, '{ gateways { id } }');
      expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    });
  });

  describe('telemetry', () => {
    it("resolves another tenant's Sensor to null, the caller's and open data sensors to themselves", async () => {
      const representations = [austinSensor, citySensor, openSensor].map((id) => ({ __typename: 'Sensor', id }));
      const [asCity, asAustin, asOperator] = await Promise.all([
        entities('telemetry', city, '... on Sensor { id }', representations),
        entities('telemetry', austin, '... on Sensor { id }', representations),
        entities('telemetry', operator, '... on Sensor { id }', representations),
      ]);
      expect(asCity.data._entities).toEqual([null, { id: citySensor }, { id: openSensor }]);
      expect(asAustin.data._entities).toEqual([{ id: austinSensor }, null, { id: openSensor }]);
      expect(asOperator.data._entities).toEqual([{ id: austinSensor }, { id: citySensor }, { id: openSensor }]);
    });

    it('gives open data sensors to anonymous callers and nothing else', async () => {
      const open = await entities('telemetry', anonymousCaller, '... on Sensor { id latest { time } }', [
        { __typename: 'Sensor', id: openSensor },
      ]);
      expect(open.errors).toBeUndefined();
      expect(open.data._entities).toHaveLength(1);
      expect(open.data._entities[0].id).toBe(openSensor);
      const closed = await entities('telemetry', anonymousCaller, '... on Sensor { id }', [{ __typename: 'Sensor', id: citySensor }]);
      expect(closed.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', scope: 'telemetry:read' });
      const noScope = await entities('telemetry', user(CITY, [Scope.DEVICES_READ]), '... on Sensor { id }', [
        { __typename: 'Sensor', id: citySensor },
      ]);
      expect(noScope.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', scope: 'telemetry:read' });
    });
  });

  describe('infrastructure', () => {
    const everything = `{ datacenter {
      openstack { projects { name } servers { name } hypervisors { hostname } networks { name } }
      contrail { virtualNetworks { tenant } vRouters { name virtualNetworks { tenant } } bgpPeers { name } }
      kubernetes { nodes { name } pods { name namespace } namespaces { name } theirs: pods(namespace: "${AUSTIN}") { name } }
    } }`;

    it("shows a tenant only its project, networks, vRouters, nodes, namespaces and pods; operators' parts empty", async () => {
      const { data, errors } = await ask('infrastructure', city, everything);
      expect(errors).toBeUndefined();
      const { openstack, contrail, kubernetes } = data.datacenter;
      expect(openstack.projects).toEqual([{ name: CITY }]);
      expect(openstack.servers).toEqual([{ name: `${CITY}-dashboard` }]);
      expect(openstack.hypervisors).toEqual([]);
      // Its own network and the shared external one, as Neutron lists them to a project member.
      expect(openstack.networks.map((n: { name: string }) => n.name).sort()).toEqual([`${CITY}-net`, 'public']);
      expect(contrail.virtualNetworks).toEqual([{ tenant: CITY }]);
      expect(contrail.vRouters.map((r: { name: string }) => r.name).sort()).toEqual(['pisek-gw001', 'pisek-gw002', 'pisek-gw003']);
      expect(
        new Set(contrail.vRouters.flatMap((r: { virtualNetworks: { tenant: string }[] }) => r.virtualNetworks.map((n) => n.tenant))),
      ).toEqual(new Set([CITY]));
      expect(contrail.bgpPeers).toEqual([]);
      expect(kubernetes.nodes.map((n: { name: string }) => n.name).sort()).toEqual(['pisek-gw001', 'pisek-gw002', 'pisek-gw003']);
      expect(kubernetes.namespaces).toEqual([{ name: CITY }]);
      expect(kubernetes.pods.length).toBeGreaterThan(0);
      expect(new Set(kubernetes.pods.map((p: { namespace: string }) => p.namespace))).toEqual(new Set([CITY]));
      expect(kubernetes.theirs).toEqual([]);
    });

    it('shows an operator the whole data center', async () => {
      const { data, errors } = await ask('infrastructure', operator, everything);
      expect(errors).toBeUndefined();
      const { openstack, contrail, kubernetes } = data.datacenter;
      expect(openstack.projects.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['admin', CITY, AUSTIN]));
      expect(openstack.hypervisors.length).toBeGreaterThan(0);
      expect(contrail.bgpPeers.length).toBeGreaterThan(0);
      expect(kubernetes.nodes.map((n: { name: string }) => n.name)).toEqual(
        expect.arrayContaining(['k8s-master', 'austin-gw01', 'pisek-gw001']),
      );
      expect(kubernetes.theirs).toEqual([{ name: 'collector-austin-gw01' }]);
    });

    it("resolves another tenant's Gateway to null; needs infra:read", async () => {
      const representations = [
        { __typename: 'Gateway', id: 'austin-gw01' },
        { __typename: 'Gateway', id: 'pisek-gw002' },
      ];
      const selection = '... on Gateway { id node { name } pods { name } vrouter { name } }';
      const asCity = await entities('infrastructure', city, selection, representations);
      expect(asCity.errors).toBeUndefined();
      expect(asCity.data._entities[0]).toBeNull();
      expect(asCity.data._entities[1]).toEqual({
        id: 'pisek-gw002',
        node: { name: 'pisek-gw002' },
        pods: [{ name: 'collector-pisek-gw002' }],
        vrouter: { name: 'pisek-gw002' },
      });
      const asOperator = await entities('infrastructure', operator, selection, representations);
      expect(asOperator.data._entities[0]).toMatchObject({ id: 'austin-gw01', node: { name: 'austin-gw01' } });
      const noScope = await ask('infrastructure', user(CITY, [Scope.DEVICES_READ]), '{ datacenter { kubernetes { nodes { name } } } }');
      expect(noScope.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', scope: 'infra:read' });
    });
  });

  describe('opendata', () => {
    it('is readable by every caller: anonymous, or a token that names no open data scope', async () => {
      const anonymous = await ask(
        'opendata',
        anonymousCaller,
        '{ datasets { id } intersections { id counters { id } } parkingLots { id sensor { id } } }',
      );
      expect(anonymous.errors).toBeUndefined();
      expect(anonymous.data.parkingLots).toContainEqual({ id: 'p-nabrezi', sensor: { id: openSensor } });
      const entity = await entities('opendata', anonymousCaller, '... on Intersection { id name }', [
        { __typename: 'Intersection', id: 'kollarova-zizkova' },
      ]);
      expect(entity.data._entities).toEqual([{ id: 'kollarova-zizkova', name: 'Kollarova x Zizkova' }]);
      const devicesOnly = await ask('opendata', user(CITY, [Scope.DEVICES_READ]), '{ datasets { id } }');
      expect(devicesOnly.errors).toBeUndefined();
      expect(devicesOnly.data.datasets).toEqual(anonymous.data.datasets);
      const devicesOnlyEntity = await entities('opendata', user(CITY, [Scope.DEVICES_READ]), '... on ParkingLot { id }', [
        { __typename: 'ParkingLot', id: 'p-nabrezi' },
      ]);
      expect(devicesOnlyEntity.data._entities).toEqual([{ id: 'p-nabrezi' }]);
    });
  });

  describe('telemetry subscriptions', () => {
    const clients: Client[] = [];
    /** A graphql-ws client of the telemetry subgraph, its connection signed as the router signs it. */
    const subscriber = (caller: Caller) => {
      const client = createClient({
        url: platform.subgraphs.telemetry.url.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: true,
        connectionParams: signConnection(caller, 'telemetry', platform.subgraphSecret),
      });
      clients.push(client);
      return client;
    };

    afterAll(async () => {
      await Promise.all(clients.map((client) => client.dispose()));
    });

    it("refuses at subscribe time a filter naming another tenant's sensor or gateway, as a missing one", async () => {
      const client = subscriber(city);
      const readings = 'subscription ($ids: [ID!], $gw: ID) { readings(sensorIds: $ids, gatewayId: $gw) { value } }';
      const batches = 'subscription ($ids: [ID!], $gw: ID) { readingBatches(sensorIds: $ids, gatewayId: $gw) { value } }';
      for (const query of [readings, batches]) {
        const sensor = await outcome(client, query, { ids: [citySensor, austinSensor] });
        expect(sensor.errors?.[0]).toMatchObject({ message: `No sensor "${austinSensor}"`, extensions: { code: 'NOT_FOUND' } });
        const missing = await outcome(client, query, { ids: ['nowhere-gw01.21.0'] });
        expect(missing.errors?.[0]).toMatchObject({ message: 'No sensor "nowhere-gw01.21.0"', extensions: { code: 'NOT_FOUND' } });
        const gateway = await outcome(client, query, { gw: 'austin-gw01' });
        expect(gateway.errors?.[0]).toMatchObject({ message: 'No gateway "austin-gw01"', extensions: { code: 'NOT_FOUND' } });
      }
      // History from the store is walled the same way.
      const history = await outcome(
        client,
        'subscription ($ids: [ID!]) { readings(sensorIds: $ids, from: "-1h", every: "1min") { value } }',
        { ids: [austinSensor] },
      );
      expect(history.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      // The operator is refused nothing: it gets a reading.
      const seen = await outcome(subscriber(operator), readings, { gw: 'austin-gw01' });
      expect(seen.errors).toBeUndefined();
      expect(typeof seen.data?.readings.value).toBe('number');
    });

    it('lets anonymous callers follow open data sensors only', async () => {
      const client = subscriber(anonymousCaller);
      const open = await outcome(client, 'subscription ($ids: [ID!]) { readings(sensorIds: $ids) { sensor { id } } }', {
        ids: [openSensor],
      });
      expect(open.errors).toBeUndefined();
      expect(open.data?.readings.sensor.id).toBe(openSensor);
      const closed = await outcome(client, 'subscription { readings(gatewayId: "pisek-gw002") { value } }');
      expect(closed.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', scope: 'telemetry:read' });
    });

    it("never delivers another tenant's reading, live or replayed after a cursor", async () => {
      const query = 'subscription ($after: String) { readings(gatewayId: "pisek-gw002", after: $after) { value cursor } }';
      // A reading the city's filter matches but which the bus says is Austin's: only the wall stops it.
      const foreign = 12345.5;
      const own = 777.25;
      const publish = () =>
        platform.bus.publish([
          forged({ sensorId: citySensor, gatewayId: 'pisek-gw002', tenant: AUSTIN, value: foreign }),
          forged({ sensorId: citySensor, gatewayId: 'pisek-gw002', tenant: CITY, value: own }),
        ]);

      const cityClient = subscriber(city);
      const first = await outcome(cityClient, query);
      const cursor = first.data!.readings.cursor as string;

      // Published until the live subscription has seen one batch (it may take a moment to start).
      let seen = false;
      const live = collectUntil(cityClient, query, {}, own).finally(() => (seen = true));
      while (!seen) {
        await publish();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect((await live).map((r) => r.value)).not.toContain(foreign);

      const replayed = await collectUntil(cityClient, query, { after: cursor }, own);
      expect(replayed.map((r) => r.value)).not.toContain(foreign);
      // The same replay for an operator holds the forged reading: what the city missed was walled off.
      const operatorReplay = await collectUntil(subscriber(operator), query, { after: cursor }, own);
      expect(operatorReplay.map((r) => r.value)).toContain(foreign);
    });
  });

  describe('through the router', () => {
    it("walls a tenant's token in queries and subscriptions", async () => {
      const token = await tokenFor(CITY);
      const hidden = await graphql(platform.routerUrl, '{ gateway(id: "austin-gw01") { id } }', undefined, { token });
      expect(hidden.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      const listed = await graphql<{ gateways: { id: string; node: { name: string } | null }[] }>(
        platform.routerUrl,
        '{ gateways { id node { name } } }',
        undefined,
        { token },
      );
      expect(listed.errors).toBeUndefined();
      expect(listed.data!.gateways.map((g) => g.node?.name)).toEqual(['pisek-gw001', 'pisek-gw002', 'pisek-gw003']);

      const client = wsClient(platform.routerUrl, { token });
      try {
        const refused = await outcome(client, `subscription { readings(sensorIds: ["${austinSensor}"]) { value } }`);
        expect(refused.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      } finally {
        await client.dispose();
      }
    });

    it("gives the open data sensors' readings to anonymous callers and to another tenant", async () => {
      await eventually(async () => (await platform.store.latest([{ sensorId: openSensor, tenant: PARKING }]))[0]);
      const query = '{ parkingLots { id sensor { id latest { time } } } }';
      for (const token of [undefined, await tokenFor(AUSTIN)]) {
        const { data, errors } = await graphql<{ parkingLots: { id: string; sensor: { id: string; latest: { time: string } | null } }[] }>(
          platform.routerUrl,
          query,
          undefined,
          { token },
        );
        expect(errors).toBeUndefined();
        expect(data!.parkingLots.find((lot) => lot.sensor.id === openSensor)?.sensor.latest?.time).toEqual(expect.any(String));
      }
      // A sensor that is not open data stays its tenant's: Austin's token reads none of the city's.
      const { data } = await graphql<{ sensor: { latest: unknown } | null }>(
        platform.routerUrl,
        `{ sensor(id: "${citySensor}") { latest { time } } }`,
        undefined,
        { token: await tokenFor(AUSTIN) },
      );
      expect(data?.sensor ?? null).toBeNull();
    });

    it("describes the crossing's counters to anonymous callers, but not the gateway they hang on", async () => {
      const counters = await graphql<{ intersections: { counters: { id: string; name: string; quantity: string }[] }[] }>(
        platform.routerUrl,
        '{ intersections { counters { id name quantity } } }',
      );
      expect(counters.errors).toBeUndefined();
      expect(counters.data!.intersections.flatMap((i) => i.counters.map((c) => c.quantity)).sort()).toEqual(
        expect.arrayContaining(['PEDESTRIAN_COUNT', 'VEHICLE_COUNT']),
      );
      const owner = await graphql(platform.routerUrl, '{ intersections { counters { id gateway { id } } } }');
      expect(owner.status).toBe(401);
      expect(owner.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      const otherTenant = await graphql(platform.routerUrl, '{ intersections { counters { id gateway { id } } } }', undefined, {
        token: await tokenFor(AUSTIN),
      });
      expect(otherTenant.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    });

    it("keeps the mesh behind the crossing's counters its owner's: no topology, names or neighbours for anyone else", async () => {
      const topology = '{ intersections { counters { id node { id hops parent { id hops } } } } }';
      const details = '{ intersections { counters { id node { role name room gateway { id } sensors { id } } } } }';
      for (const query of [topology, details]) {
        const anonymous = await graphql(platform.routerUrl, query);
        expect(anonymous.status, query).toBe(401);
        expect(anonymous.errors?.[0]?.extensions?.code, query).toBe('UNAUTHENTICATED');
        const otherTenant = await graphql(platform.routerUrl, query, undefined, { token: await tokenFor(AUSTIN) });
        expect(otherTenant.errors?.length, query).toBeGreaterThan(0);
        expect(new Set(otherTenant.errors!.map((e) => e.extensions?.code)), query).toEqual(new Set(['NOT_FOUND']));
        // Nothing of the mesh got through beside the errors.
        expect(JSON.stringify(otherTenant.data ?? null), query).not.toMatch(/"(hops|parent|role|name|room|gateway|sensors)":/);
      }
      // The owner reads it all.
      const owner = await graphql<{ intersections: { counters: { node: { hops: number } }[] }[] }>(
        platform.routerUrl,
        topology,
        undefined,
        { token: await tokenFor(CITY) },
      );
      expect(owner.errors).toBeUndefined();
      expect(owner.data!.intersections.flatMap((i) => i.counters.map((c) => c.node.hops))).toContainEqual(expect.any(Number));
      // The subgraph walls it itself, for an open-data caller signed as the router signs it.
      const direct = await entities('devices', anonymousCaller, '... on Sensor { id node { hops } }', [
        { __typename: 'Sensor', id: openSensor },
      ]);
      expect(direct.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', scope: 'devices:read' });
    });
  });
});

function forged(reading: Pick<Reading, 'sensorId' | 'gatewayId' | 'tenant' | 'value'>): Reading {
  return { ...reading, quantity: 'TEMPERATURE', time: Date.now() };
}

interface Outcome {
  data?: Record<string, any> | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

/** The first result of a subscription (an event, or the errors it was refused with), then unsubscribes. */
function outcome(client: Client, query: string, variables?: Record<string, unknown>, timeoutMs = 15_000): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      dispose();
      reject(new Error(`no result within ${timeoutMs} ms: ${query}`));
    }, timeoutMs);
    const settle = (result: Outcome) => {
      clearTimeout(timer);
      dispose();
      resolve(result);
    };
    const dispose = client.subscribe(
      { query, variables },
      {
        next: (result) => settle(result as Outcome),
        error: (error) =>
          Array.isArray(error)
            ? settle({ errors: error })
            : (clearTimeout(timer), reject(error instanceof Error ? error : new Error(JSON.stringify(error)))),
        complete: () => undefined,
      },
    );
  });
}

/** Every `readings` event of a subscription until one with value `last`. */
function collectUntil(
  client: Client,
  query: string,
  variables: Record<string, unknown>,
  last: number,
  timeoutMs = 15_000,
): Promise<Array<{ value: number }>> {
  return new Promise((resolve, reject) => {
    const events: Array<{ value: number }> = [];
    const timer = setTimeout(() => {
      dispose();
      reject(new Error(`no reading of value ${last} among ${events.length} within ${timeoutMs} ms`));
    }, timeoutMs);
    const dispose = client.subscribe<{ readings: { value: number } }>(
      { query, variables },
      {
        next: (result) => {
          if (result.errors) {
            clearTimeout(timer);
            dispose();
            reject(new Error(JSON.stringify(result.errors)));
            return;
          }
          events.push(result.data!.readings);
          if (result.data!.readings.value === last) {
            clearTimeout(timer);
            dispose();
            resolve(events);
          }
        },
        error: (error) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(JSON.stringify(error)));
        },
        complete: () => undefined,
      },
    );
  });
}
