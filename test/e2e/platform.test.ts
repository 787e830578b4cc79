import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayUsername } from '#broker';
import { accountMaker, connectAs } from '../support/mqtt.ts';
import { getIntrospectionQuery } from 'graphql';
import { defaultTopics, topicFor } from '#iqrf';
import type { Platform } from '../../platform/platform.ts';
import { adminToken } from '../support/auth.ts';
import { eventually, graphql, take, wsClient } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

describe('the platform through the router', () => {
  let platform: Platform;
  let url: string;
  /** An operator's: the tests span the Austin and Pisek tenants. */
  let admin: string;

  beforeAll(async () => {
    platform = await startTestPlatform();
    url = platform.routerUrl;
    admin = await adminToken();
    // The collector's first round (spread over the poll interval) has reached both the Austin
    // rooms and the Pisek crossing once their sensors have a latest value.
    await eventually(async () => {
      const { data } = await graphql(
        url,
        '{ room: sensor(id: "austin-gw01.21.2") { latest { value } } crossing: sensor(id: "pisek-gw001.1.0") { latest { value } } }',
        undefined,
        { token: admin },
      );
      return data?.room?.latest && data.crossing?.latest;
    });
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('answers one query that spans all four subgraphs', async () => {
    const { data, errors } = await graphql(
      url,
      /* GraphQL */ `
        {
          gateway(id: "austin-gw01") {
            name
            tenant
            arch
            status
            node {
              name
              ready
              arch
            }
            vrouter {
              name
            }
            pods {
              name
              phase
            }
            mesh {
              size
              coordinator {
                address
                role
              }
              nodes {
                address
                role
                hops
                parent {
                  address
                }
              }
            }
            sensors(quantity: CO2) {
              id
              name
              room
              latest {
                value
                time
              }
              readings(from: "-5min") {
                value
              }
            }
          }
          datasets {
            id
            title
            license {
              name
            }
            distributions {
              accessUrl
            }
          }
          intersections {
            name
            counters {
              id
              quantity
            }
            traffic(from: "-1h", every: "1min") {
              time
              vehicles
              pedestrians
            }
          }
          parkingLots {
            name
            capacity
            occupied
            free
          }
          datacenter {
            openstack {
              hypervisors {
                hostname
              }
            }
            contrail {
              bgpPeers {
                name
              }
            }
            kubernetes {
              nodes {
                name
              }
            }
          }
        }
      `,
      undefined,
      { token: admin },
    );
    expect(errors).toBeUndefined();
    const gateway = data!.gateway;
    expect(gateway).toMatchObject({
      name: 'Austin Convention Center, 3rd floor',
      tenant: 'austin-summit',
      arch: 'AMD64',
      status: 'ONLINE',
    });
    expect(gateway.node).toEqual({ name: 'austin-gw01', ready: true, arch: 'AMD64' });
    expect(gateway.vrouter.name).toBe('austin-gw01');
    expect(gateway.pods.map((p: { name: string }) => p.name)).toContain('collector-austin-gw01');
    // 20 routers and 20 sensor nodes, sensor nodes one hop below their router.
    expect(gateway.mesh.size).toBe(40);
    expect(gateway.mesh.coordinator).toEqual({ address: 0, role: 'COORDINATOR' });
    const room301 = gateway.mesh.nodes.find((n: { address: number }) => n.address === 21);
    expect(room301).toEqual({ address: 21, role: 'SENSOR', hops: 2, parent: { address: 1 } });
    expect(gateway.mesh.nodes.find((n: { address: number }) => n.address === 10)).toMatchObject({ role: 'ROUTER', hops: 10 });
    expect(gateway.sensors).toHaveLength(20);
    const co2 = gateway.sensors.find((s: { room: string }) => s.room === '301');
    expect(co2.latest.value).toBeGreaterThan(300);
    expect(co2.readings.length).toBeGreaterThan(0);
    expect(data!.datasets.map((d: { id: string }) => d.id)).toContain('pisek-traffic-counts');
    const traffic = data!.datasets.find((d: { id: string }) => d.id === 'pisek-traffic-counts');
    expect(traffic.distributions.map((d: { accessUrl: string }) => new URL(d.accessUrl).pathname)).toEqual([
      '/graphql',
      '/opendata/datasets/pisek-traffic-counts.csv',
      '/opendata/datasets/pisek-traffic-counts.json',
    ]);
    const [crossing] = data!.intersections;
    expect(crossing.name).toBe('Kollarova x Zizkova');
    expect(crossing.counters.map((c: { quantity: string }) => c.quantity)).toEqual(['VEHICLE_COUNT', 'PEDESTRIAN_COUNT']);
    expect(crossing.traffic.length).toBeGreaterThan(0);
    for (const lot of data!.parkingLots) expect(lot.occupied + lot.free).toBe(lot.capacity);
    expect(data!.datacenter.kubernetes.nodes.map((n: { name: string }) => n.name)).toContain('austin-gw01');
  });

  it('registers a gateway that then has a Kubernetes node, a vRouter and a daemon that answers', async () => {
    const register = await graphql(
      url,
      /* GraphQL */ `
        mutation Register($input: RegisterGatewayInput!) {
          registerGateway(input: $input) {
            gateway {
              id
              name
              tenant
              arch
              status
            }
          }
        }
      `,
      {
        input: {
          id: 'pisek-gw900',
          name: 'Pisek, Budovcova',
          tenant: 'pisek-city',
          arch: 'ARM64',
          location: { latitude: 49.31, longitude: 14.15 },
        },
      },
      { token: admin },
    );
    expect(register.errors).toBeUndefined();
    expect(register.data!.registerGateway.gateway).toEqual({
      id: 'pisek-gw900',
      name: 'Pisek, Budovcova',
      tenant: 'pisek-city',
      arch: 'ARM64',
      status: 'PROVISIONING',
    });

    const query = '{ gateway(id: "pisek-gw900") { status node { name ready arch labels { name value } } vrouter { name } mesh { size } } }';
    const gateway = await eventually(async () => {
      const { data } = await graphql(url, query, undefined, { token: admin });
      return data?.gateway?.node?.ready && data.gateway.status === 'ONLINE' ? data.gateway : undefined;
    });
    expect(gateway.node).toMatchObject({ name: 'pisek-gw900', ready: true, arch: 'ARM64' });
    expect(gateway.node.labels).toContainEqual({ name: 'iot-platform.io/tenant', value: 'pisek-city' });
    expect(gateway.vrouter.name).toBe('pisek-gw900');
    expect(gateway.mesh.size).toBe(0);
    expect(platform.simulator!.iqrf.hasGateway('pisek-gw900')).toBe(true);
  });

  it('refuses bad registrations with a code and changes nothing', async () => {
    const mutation =
      'mutation($input: RegisterGatewayInput!) { registerGateway(input: $input) { gateway { id } userErrors { code field message } } }';
    const valid = { id: 'pisek-gw901', name: 'x', tenant: 'pisek-city', arch: 'ARM', location: { latitude: 49.3, longitude: 14.1 } };
    const nodesBefore = (await graphql(url, '{ datacenter { kubernetes { nodes { name } } } }', undefined, { token: admin })).data!
      .datacenter.kubernetes.nodes.length;
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ ...valid, id: 'Bad_ID!' }, 'BAD_USER_INPUT', 'id'],
      [{ ...valid, tenant: 'nobody' }, 'BAD_USER_INPUT', 'tenant'],
      [{ ...valid, location: { latitude: 123, longitude: 14 } }, 'BAD_USER_INPUT', 'location.latitude'],
      [{ ...valid, id: 'austin-gw01' }, 'ALREADY_EXISTS', 'id'],
    ];
    for (const [input, code, field] of cases) {
      const { data, errors } = await graphql(url, mutation, { input }, { token: admin });
      expect(errors).toBeUndefined();
      expect(data!.registerGateway.gateway).toBeNull();
      expect(data!.registerGateway.userErrors).toEqual([{ code, field: ['input', ...field.split('.')], message: expect.any(String) }]);
    }
    const wrongEnum = await graphql(url, mutation, { input: { ...valid, arch: 'SPARC' } }, { token: admin });
    expect(wrongEnum.errors?.[0]?.message).toMatch(/SPARC/);
    expect((await graphql(url, '{ gateway(id: "pisek-gw901") { id } }', undefined, { token: admin })).errors?.[0]?.extensions?.code).toBe(
      'NOT_FOUND',
    );
    const nodesAfter = (await graphql(url, '{ datacenter { kubernetes { nodes { name } } } }', undefined, { token: admin })).data!
      .datacenter.kubernetes.nodes.length;
    expect(nodesAfter).toBe(nodesBefore);
  });

  it('bonds and unbonds mesh nodes through the IQRF daemon', async () => {
    const bond = await graphql(
      url,
      'mutation { bondNode(input: { gatewayId: "pisek-gw002", name: "new probe", room: "lab" }) { node { id address role name room sensors { quantity } } } }',
      undefined,
      { token: admin },
    );
    expect(bond.errors).toBeUndefined();
    const node = bond.data!.bondNode.node;
    expect(node).toMatchObject({ address: 13, role: 'SENSOR', name: 'new probe', room: 'lab' });
    expect(node.sensors.map((s: { quantity: string }) => s.quantity)).toEqual(['TEMPERATURE', 'HUMIDITY', 'CO2']);
    expect(platform.simulator!.iqrf.bondedNodes('pisek-gw002')).toContain(13);
    // The collector hears of the new node at once and reads its sensors.
    const seen = new Set<string>();
    const stop = platform.bus.subscribe((readings) => readings.forEach((r) => seen.add(r.sensorId)));
    await eventually(async () => seen.has('pisek-gw002.13.2'), 5_000);
    stop();

    const unbond = await graphql(
      url,
      'mutation { unbondNode(input: { gatewayId: "pisek-gw002", address: 13 }) { removedAddress gateway { mesh { size } } userErrors { code } } }',
      undefined,
      { token: admin },
    );
    expect(unbond.errors).toBeUndefined();
    expect(unbond.data!.unbondNode).toEqual({ removedAddress: 13, gateway: { mesh: { size: 12 } }, userErrors: [] });
    expect(platform.simulator!.iqrf.bondedNodes('pisek-gw002')).not.toContain(13);

    const missing = await graphql(
      url,
      'mutation { unbondNode(input: { gatewayId: "pisek-gw002", address: 200 }) { removedAddress userErrors { code field } } }',
      undefined,
      { token: admin },
    );
    expect(missing.data!.unbondNode).toEqual({ removedAddress: null, userErrors: [{ code: 'NOT_FOUND', field: ['input', 'address'] }] });
    const unknownGateway = await graphql(
      url,
      'mutation { bondNode(input: { gatewayId: "nope" }) { node { id } userErrors { code field } } }',
      undefined,
      { token: admin },
    );
    expect(unknownGateway.data!.bondNode).toEqual({ node: null, userErrors: [{ code: 'NOT_FOUND', field: ['input', 'gatewayId'] }] });
    const badAddress = await graphql(
      url,
      'mutation { bondNode(input: { gatewayId: "pisek-gw002", address: 300 }) { node { id } userErrors { code field } } }',
      undefined,
      { token: admin },
    );
    expect(badAddress.data!.bondNode).toEqual({ node: null, userErrors: [{ code: 'BAD_USER_INPUT', field: ['input', 'address'] }] });
  });

  it('streams live readings over graphql-ws with fields from devices and infrastructure', async () => {
    const client = wsClient(url, { token: admin });
    try {
      const events = await take(
        client,
        'subscription { readings(gatewayId: "austin-gw01", quantity: CO2) { value time sensor { id name room gateway { name node { ready } } } } }',
        25,
      );
      for (const event of events) {
        expect(event.errors).toBeUndefined();
        const reading = event.data!.readings;
        expect(reading.sensor.id).toMatch(/^austin-gw01\.\d+\.2$/);
        expect(reading.sensor.room).toMatch(/^[34]\d\d$/);
        expect(reading.sensor.gateway).toEqual({ name: 'Austin Convention Center, 3rd floor', node: { ready: true } });
        expect(typeof reading.value).toBe('number');
      }
      // More than one poll round: the stream goes on.
      expect(new Set(events.map((e) => e.data!.readings.time)).size).toBeGreaterThan(1);
    } finally {
      await client.dispose();
    }
  });

  it('streams live readings over SSE', async () => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ query: 'subscription { readings(sensorIds: ["pisek-gw001.1.0"]) { value sensor { quantity } } }' }),
    });
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = response.body!.getReader();
    let text = '';
    const decoder = new TextDecoder();
    let line: string | undefined;
    while (!(line = text.split('\n').find((l) => l.startsWith('data: ') && l.includes('readings'))))
      text += decoder.decode((await reader.read()).value, { stream: true });
    await reader.cancel();
    const event = JSON.parse(line.slice('data: '.length));
    expect(event.data.readings.sensor.quantity).toBe('VEHICLE_COUNT');
  });

  it('serves GraphiQL to a browser and tells when it is ready', async () => {
    const page = await fetch(url, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toMatch(/graphiql/i);
    const health = await fetch(url.replace('/graphql', '/health'));
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it('serves the open data downloads beside GraphQL', async () => {
    const base = url.replace('/graphql', '');
    const catalog = (await (await fetch(`${base}/opendata/catalog.jsonld`)).json()) as { '@context': unknown };
    expect(catalog['@context']).toBeDefined();
    const csv = await fetch(`${base}/opendata/datasets/pisek-traffic-counts.csv?from=-10min&every=1min`);
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    const [header, ...rows] = (await csv.text()).trim().split(/\r?\n/);
    expect(header).toMatch(/vehicles/);
    expect(rows.length).toBeGreaterThan(0);
    expect((await fetch(`${base}/opendata/datasets/no-such-dataset.csv`)).status).toBe(404);
  });

  it('answers bad input with clear errors and keeps running', async () => {
    const parse = await graphql(url, '{ gateways { id ', undefined, { token: admin });
    expect(parse.status).toBe(400);
    expect(parse.errors?.[0]?.message).toMatch(/Syntax Error/);
    const validation = await graphql(url, '{ gateways { nope } }', undefined, { token: admin });
    expect(validation.errors?.[0]?.message).toMatch(/Cannot query field "nope"/);
    const unknown = await graphql(url, '{ sensor(id: "austin-gw01.99.0") { id } }', undefined, { token: admin });
    expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const badRange = await graphql(url, '{ sensor(id: "austin-gw01.21.2") { readings(from: "-1h", until: "-2h") { value } } }', undefined, {
      token: admin,
    });
    expect(badRange.errors?.[0]?.extensions?.code).toBe('BAD_TIME_RANGE');
    const deep = await graphql(
      url,
      `
        {
          gateways {
            mesh {
              nodes {
                parent {
                  parent {
                    parent {
                      parent {
                        parent {
                          parent {
                            parent {
                              parent {
                                parent {
                                  parent {
                                    address
                                  }
                                }
                              }
                            }
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      `,
      undefined,
      { token: admin },
    );
    expect(deep.errors?.[0]).toMatchObject({ extensions: { code: 'QUERY_TOO_DEEP' } });
    const huge = await graphql(url, `{ ${Array.from({ length: 3000 }, (_, i) => `a${i}: __typename`).join(' ')} }`, undefined, {
      token: admin,
    });
    expect(huge.errors?.[0]?.message).toMatch(/tokens/);
    const introspection = await graphql(url, getIntrospectionQuery(), undefined, { token: admin });
    expect(introspection.errors).toBeUndefined();
    const tooLong = await graphql(url, '{ sensor(id: "austin-gw01.21.2") { readings(from: "-3d") { value } } }', undefined, {
      token: admin,
    });
    expect(tooLong.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_TIME_RANGE' }, message: expect.stringMatching(/give every/) });
    const badDuration = await graphql(url, '{ sensor(id: "austin-gw01.21.2") { readings(every: "5 parsecs") { value } } }', undefined, {
      token: admin,
    });
    expect(badDuration.errors?.[0]?.message).toMatch(/unknown unit "parsecs"/);
    const badSubscription = wsClient(url, { token: admin });
    const [unfiltered] = await take(badSubscription, 'subscription { readings { value } }', 1, 5_000);
    expect(unfiltered!.errors).toMatchObject([
      { message: expect.stringMatching(/sensorIds or gatewayId/), extensions: { code: 'BAD_USER_INPUT' } },
    ]);
    const [malformedId] = await take(badSubscription, 'subscription { readings(sensorIds: ["not a sensor"]) { value } }', 1, 5_000);
    expect(malformedId!.errors).toMatchObject([{ extensions: { code: 'BAD_USER_INPUT', field: 'sensorIds' } }]);
    await badSubscription.dispose();

    // Garbage on a gateway's response topic reaches the collector, which counts it and goes on.
    const malformedBefore = platform.collector.stats.malformedPayloads;
    const readingsBefore = platform.collector.stats.readings;
    const gateway = await connectAs(platform.mqttUrl, accountMaker(platform.mqttAccounts), {
      username: gatewayUsername('garbage-gw'),
      role: 'gateway',
      gatewayId: 'garbage-gw',
    });
    await gateway.publishAsync(topicFor(defaultTopics.responses, 'garbage-gw'), '{"mType": 42', { qos: 1 });
    await gateway.endAsync();
    await eventually(async () => platform.collector.stats.malformedPayloads > malformedBefore);
    await eventually(async () => platform.collector.stats.readings > readingsBefore + 100);
    const health = await fetch(url.replace('/graphql', '/health'));
    expect(health.status).toBe(200);
  });
});
