import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import type { Platform } from '../../platform/platform.ts';
import { subgraphRequest, tenantScopes, tokenFor } from '../support/auth.ts';
import { eventually, graphql, wsClient } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';
import { startGraphite, type GraphiteService } from '../support/services/graphite.ts';

/**
 * Gateway ids have epochs: a reading belongs to the tenant that owned its gateway when it was
 * taken. Tenant A (pisek-city) decommissions pisek-gw001, whose sensors have history, a latest
 * value, live-bus entries and open data (a car park, traffic counters); tenant B (austin-summit)
 * registers the same id. B sees none of A's readings anywhere, on the in-memory store and on
 * Graphite; A's readings stay in the store under A.
 */
const GATEWAY = 'pisek-gw001';
const A = 'pisek-city';
const B = 'austin-summit';
const SENSOR = 'pisek-gw001.4.2'; // a school room's CO2: A's own
const PARKING = 'pisek-gw001.2.0'; // a car park's occupancy: open data (of the parking operator, a guest on A's gateway)
const COUNTER = 'pisek-gw001.1.0'; // Kollarova x Zizkova vehicles: open data

const REGISTER =
  'mutation ($input: RegisterGatewayInput!) { registerGateway(input: $input) { gateway { id tenant } userErrors { code field message } } }';
const DECOMMISSION =
  'mutation ($input: DecommissionGatewayInput!) { decommissionGateway(input: $input) { decommissionedGatewayId userErrors { code field message } } }';
const HISTORY = `{ sensor(id: "${SENSOR}") { latest { time value } readings(from: "-1h") { time value } } }`;
const OPEN = `{ parkingLots { sensor { id } occupied updatedAt } intersections { counters { id } traffic(from: "-1h", every: "1s") { time vehicles } } }`;

type Backend = 'memory' | 'graphite';

describe.each<Backend>(['memory', 'graphite'])('gateway id epochs (%s store)', (backend) => {
  let graphite: GraphiteService | undefined;
  let platform: Platform;
  let url: string;
  let tokenA: string;
  let tokenB: string;
  const clients: Client[] = [];
  /** A cursor of A's live readings, from before the decommission. */
  let cursorOfA: string;
  /** No reading of A is later than this: every reading B may see is at or after it. */
  let epochStart: number;

  beforeAll(async () => {
    graphite = backend === 'graphite' ? await startGraphite() : undefined;
    platform = await startTestPlatform({
      backends: graphite ? { graphiteUrl: graphite.graphiteUrl, carbonUrl: graphite.carbonUrl } : { memoryResolutionSeconds: 1 },
    });
    url = platform.routerUrl;
    [tokenA, tokenB] = await Promise.all([tokenFor(A), tokenFor(B)]);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await platform?.close();
    await graphite?.stop();
  });

  it("A's gateway has history, a latest value, live-bus entries and open data", async () => {
    await eventually(
      async () => {
        const { data } = await graphql(url, HISTORY, undefined, { token: tokenA });
        return data?.sensor?.latest && data.sensor.readings.length > 2;
      },
      30_000,
      300,
    );
    const open = await eventually(
      async () => {
        const { data } = await graphql(url, OPEN, undefined, {});
        const lot = data?.parkingLots.find((l: { sensor: { id: string } }) => l.sensor.id === PARKING);
        return lot?.updatedAt ? data : undefined;
      },
      30_000,
      300,
    );
    expect(
      open!.intersections.find((i: { counters: Array<{ id: string }> }) => i.counters.some((c) => c.id === COUNTER)).traffic.length,
    ).toBeGreaterThan(0);
    const client = wsClient(url, { token: tokenA });
    clients.push(client);
    cursorOfA = (await firstEvents(client, `subscription { readings(gatewayId: "${GATEWAY}") { cursor } }`, 1))[0]!.cursor;
  }, 60_000);

  it('A decommissions the gateway and B registers the same id', async () => {
    const decommissioned = await graphql(url, DECOMMISSION, { input: { gatewayId: GATEWAY } }, { token: tokenA });
    expect(decommissioned.data?.decommissionGateway).toEqual({ decommissionedGatewayId: GATEWAY, userErrors: [] });
    // A reading A's collector took just before is in the store within a poll; nothing of A comes after.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    epochStart = Math.floor(Date.now() / 1000) * 1000;
    const registered = await graphql(
      url,
      REGISTER,
      { input: { id: GATEWAY, name: 'Budovcova, again', tenant: B, arch: 'ARM', location: { latitude: 49.31, longitude: 14.15 } } },
      { token: tokenB },
    );
    expect(registered.data?.registerGateway).toEqual({ gateway: { id: GATEWAY, tenant: B }, userErrors: [] });
    await eventually(async () => (await platform.registry.getMany([GATEWAY]))[0]?.status === 'ONLINE', 20_000);
  }, 30_000);

  it("shows B none of A's history and no latest of A's", async () => {
    // B's new gateway has no mesh yet, so devices knows no such sensor; the telemetry subgraph
    // answers for it all the same (the router would ask it once B bonds the node).
    const { data, errors } = await telemetryAs(
      B,
      `{ _entities(representations: [{ __typename: "Sensor", id: "${SENSOR}" }]) { ... on Sensor { latest { time } readings(from: "-1h") { time } buckets: readings(from: "-1h", every: "1s") { time } } } }`,
    );
    expect(errors).toBeUndefined();
    const [sensor] = data._entities;
    expect(sensor).toMatchObject({ latest: null, readings: [], buckets: [] });
    // The same history through the router: a subscription's history, raw and in buckets.
    const client = wsClient(url, { token: tokenB });
    clients.push(client);
    for (const args of ['from: "-1h"', 'from: "-1h", every: "1s"']) {
      const events = await eventsWithin(client, `subscription { readings(sensorIds: ["${SENSOR}"], ${args}) { time } }`, {}, 1_000);
      expect(
        events.filter((event) => Date.parse(event.time) < epochStart),
        args,
      ).toEqual([]);
    }
    // A's readings are kept, under A: only the new owner's reads no longer reach them.
    const [kept] = await platform.store.query({
      series: [{ sensorId: SENSOR, tenant: A }],
      from: Date.now() - 3_600_000,
      until: Date.now(),
    });
    expect(kept!.length).toBeGreaterThan(2);
  });

  it("replays B none of A's live readings after a cursor from before the decommission", async () => {
    const client = wsClient(url, { token: tokenB });
    clients.push(client);
    const events = await eventsWithin(
      client,
      `subscription ($after: String) { readings(gatewayId: "${GATEWAY}", after: $after) { time sensor { id } } }`,
      { after: cursorOfA },
      1_500,
    );
    expect(events.filter((event) => Date.parse(event.time) < epochStart)).toEqual([]);
    // The catalogue names who publishes the car park and the counter (the parking operator, A):
    // under B the same sensor ids are nobody's open data, so an anonymous caller gets nothing.
    const anonymous = wsClient(url, {});
    clients.push(anonymous);
    await expect(
      eventsWithin(
        anonymous,
        `subscription ($after: String) { readings(sensorIds: ["${PARKING}", "${COUNTER}"], after: $after) { time } }`,
        { after: cursorOfA },
        1_500,
      ),
    ).rejects.toThrow(/UNAUTHENTICATED/);
  });

  it("publishes none of A's readings of the re-registered id as open data, in GraphQL or downloads", async () => {
    const { data, errors } = await graphql(url, OPEN, undefined, {});
    expect(errors).toBeUndefined();
    const lot = data!.parkingLots.find((l: { sensor: { id: string } }) => l.sensor.id === PARKING);
    if (lot.updatedAt) expect(Date.parse(lot.updatedAt)).toBeGreaterThanOrEqual(epochStart);
    const crossing = data!.intersections.find((i: { counters: Array<{ id: string }> }) => i.counters.some((c) => c.id === COUNTER));
    expect(crossing.traffic.filter((bucket: { time: string }) => Date.parse(bucket.time) < epochStart)).toEqual([]);

    const base = url.replace('/graphql', '/opendata');
    for (const dataset of ['pisek-traffic-counts', 'pisek-parking-occupancy']) {
      const download = (await (await fetch(`${base}/datasets/${dataset}.json?from=-1h&every=1s`)).json()) as {
        rows: Array<{ time: string; intersection?: string; lot?: string }>;
      };
      const ofGateway = download.rows.filter((row) => (row.intersection ?? row.lot) !== undefined);
      expect(
        ofGateway.filter((row) => Date.parse(row.time) < epochStart),
        dataset,
      ).toEqual([]);
    }
    const observations = (await (await fetch(`${base}/sta/v1.1/Datastreams('${COUNTER}')/Observations`)).json()) as {
      value: Array<{ phenomenonTime: string }>;
    };
    expect(observations.value.filter((o) => Date.parse(o.phenomenonTime) < epochStart)).toEqual([]);
  });

  it('shows B its own readings of the id', async () => {
    const time = Date.now() - 2_000;
    await platform.store.write([{ sensorId: SENSOR, gatewayId: GATEWAY, tenant: B, quantity: 'CO2', time, value: 4242 }]);
    const query = `{ _entities(representations: [{ __typename: "Sensor", id: "${SENSOR}" }]) { ... on Sensor { latest { value } readings(from: "-1h") { value } } } }`;
    const sensor = await eventually(
      async () => {
        const [found] = (await telemetryAs(B, query)).data?._entities ?? [];
        // graphite-web answers each render on its own: wait until both show the point carbon took.
        return found?.latest && found.readings?.length ? found : undefined;
      },
      20_000,
      200,
    );
    expect(sensor).toEqual({ latest: { value: 4242 }, readings: [{ value: 4242 }] });
  }, 30_000);

  /** Asks the telemetry subgraph itself, signed as the router signs a request of `tenant`'s. */
  function telemetryAs(tenant: string, query: string) {
    return subgraphRequest(
      platform.subgraphs.telemetry.url,
      { query },
      { kind: 'user', subject: 'epochs-test', tenant, scopes: tenantScopes, expiresAt: Date.now() + 600_000 },
      platform.subgraphSecret,
    );
  }
});

/** The first `count` events of a subscription. */
function firstEvents(client: Client, query: string, count: number): Promise<Array<Record<string, any>>> {
  return new Promise((resolve, reject) => {
    const events: Array<Record<string, any>> = [];
    const dispose = client.subscribe<Record<string, any>>(
      { query },
      {
        next: (result) => {
          if (result.errors) return reject(new Error(JSON.stringify(result.errors)));
          events.push(result.data!.readings);
          if (events.length === count) {
            dispose();
            resolve(events);
          }
        },
        error: reject,
        complete: () => undefined,
      },
    );
  });
}

/** Every `readings` event a subscription sends within `ms`; rejects on an error. */
function eventsWithin(client: Client, query: string, variables: Record<string, unknown>, ms: number): Promise<Array<{ time: string }>> {
  return new Promise((resolve, reject) => {
    const events: Array<{ time: string }> = [];
    const dispose = client.subscribe<{ readings: { time: string } }>(
      { query, variables },
      {
        next: (result) => (result.errors ? reject(new Error(JSON.stringify(result.errors))) : events.push(result.data!.readings)),
        error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
        complete: () => undefined,
      },
    );
    setTimeout(() => {
      dispose();
      resolve(events);
    }, ms);
  });
}
