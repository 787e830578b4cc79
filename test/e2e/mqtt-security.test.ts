import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { collectorPresence, COLLECTOR_GROUP, gatewayUsername, type MqttCredentials } from '#broker';
import { connectMqtt, defaultTopics, topicFor, type MqttOptions } from '#iqrf';
import type { Reading } from '#telemetry';
import type { Platform } from '../../platform/platform.ts';
import { adminToken, tokenFor } from '../support/auth.ts';
import { eventually, graphql } from '../support/graphql.ts';
import { accountMaker, connectAs } from '../support/mqtt.ts';
import { startTestPlatform } from '../support/platform.ts';
import { startMosquitto, type RunningMosquitto } from '../support/services/mosquitto.ts';

// The demo city: pisek-city owns pisek-gw001 (crossing counter at node 1, car parks at nodes 2 and 3, the parking operator's).
const CITY = 'pisek-city';
const PARKING_GATEWAY = 'pisek-gw001';
const PARKING_SENSOR = `${PARKING_GATEWAY}.2.0`;
/** The car park counters on the city's gateway are the parking operator's nodes (a shared gateway): their readings are its. */
const PARKING = 'pisek-parking';
const FORGED = 777_986;

const ROTATE =
  'mutation ($id: ID!) { rotateGatewayCredentials(input: { gatewayId: $id }) { mqttCredentials { username password clientId requestTopic responseTopic } userErrors { code message } } }';
const REGISTER = `mutation ($input: RegisterGatewayInput!) {
  registerGateway(input: $input) { gateway { id } mqttCredentials { username password clientId requestTopic responseTopic } userErrors { code message } }
}`;
const DECOMMISSION =
  'mutation ($id: ID!) { decommissionGateway(input: { gatewayId: $id }) { decommissionedGatewayId userErrors { code message } } }';

interface Broker {
  name: string;
  /** Starts the platform on this broker; `options` are what every client of the test adds (protocol, CA). */
  start(): Promise<{ platform: Platform; url: string; options: MqttOptions; stop(): Promise<void> }>;
}

const brokers: Broker[] = [
  {
    name: 'the embedded broker (aedes, MQTT 3.1.1)',
    async start() {
      const platform = await startTestPlatform();
      return { platform, url: platform.mqttUrl, options: { protocolVersion: 4 }, stop: () => platform.close() };
    },
  },
  {
    name: 'Mosquitto with dynamic security, over TLS (MQTT 5)',
    async start() {
      const mosquitto: RunningMosquitto = await startMosquitto({ tls: true });
      const tls = mosquitto.tls!;
      const platform = await startTestPlatform({ mqttUrl: tls.url, mqttCa: tls.ca, mqttAdmin: mosquitto.admin });
      return {
        platform,
        url: tls.url,
        options: { protocolVersion: 5, ca: tls.ca },
        async stop() {
          await platform.close();
          await mosquitto.stop();
        },
      };
    },
  },
];

/** Resolves with the error of a refused connection, or undefined (and disconnects) when accepted. */
async function connectError(url: string, options: MqttOptions): Promise<Error | undefined> {
  try {
    const client = await connectMqtt(url, options);
    await client.endAsync(true);
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

/** Whether the broker refused the subscription (an error, a failure code, or a closed connection). */
async function subscriptionRefused(client: MqttClient, filter: string): Promise<boolean> {
  try {
    const granted = await client.subscribeAsync(filter, { qos: 1 });
    return granted.every((g) => g.qos >= 128);
  } catch {
    return true;
  }
}

describe.each(brokers)('the device plane on $name', (broker) => {
  let platform: Platform;
  let url: string;
  let options: MqttOptions;
  let stop: () => Promise<void>;
  let cityToken: string;
  const clients: MqttClient[] = [];
  /** Everything the collector hands to the live bus. */
  const published: Reading[] = [];
  /** What a collector-like observer sees on every answer topic and on presence. */
  const observed: Array<{ topic: string; payload: string }> = [];

  const connectWith = async (credentials: MqttCredentials, extra: MqttOptions = {}) => {
    const client = await connectMqtt(url, { ...options, credentials, ...extra });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    ({ platform, url, options, stop } = await broker.start());
    cityToken = await tokenFor(CITY);
    platform.bus.subscribe((readings) => published.push(...readings));
    const observer = await connectAs(url, accountMaker(platform.mqttAccounts), { username: 'observer', role: 'collector' }, options);
    clients.push(observer);
    observer.on('message', (topic, payload) => observed.push({ topic, payload: payload.toString() }));
    await observer.subscribeAsync([topicFor(defaultTopics.responses, '+'), collectorPresence.filter], { qos: 1 });
    await eventually(async () => published.some((r) => r.sensorId === PARKING_SENSOR));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.endAsync(true)));
    await stop?.();
  });

  it('refuses anonymous clients and wrong passwords', async () => {
    expect(await connectError(url, { ...options, clientId: 'anonymous-1' })).toBeInstanceOf(Error);
    expect(
      await connectError(url, { ...options, credentials: { username: gatewayUsername(PARKING_GATEWAY), password: 'guess' } }),
    ).toBeInstanceOf(Error);
    expect(await connectError(url, { ...options, credentials: { username: 'observer', password: '' } })).toBeInstanceOf(Error);
  });

  it('rotates credentials without losing a poll: the old password stops working, the daemon carries on with the new one', async () => {
    const first = (await graphql(platform.routerUrl, ROTATE, { id: PARKING_GATEWAY }, { token: cityToken })).data!.rotateGatewayCredentials
      .mqttCredentials as MqttCredentials;
    const failedBefore = platform.collector.stats.failedRequests;
    const from = Date.now();
    const second = (await graphql(platform.routerUrl, ROTATE, { id: PARKING_GATEWAY }, { token: cityToken })).data!.rotateGatewayCredentials
      .mqttCredentials as MqttCredentials;
    expect(second.password).not.toBe(first.password);
    expect(await connectError(url, { ...options, credentials: first })).toBeInstanceOf(Error);
    // Three poll rounds (300 ms) later, every sensor of the gateway was read again, and no poll failed.
    await eventually(async () => published.filter((r) => r.gatewayId === PARKING_GATEWAY && r.time >= from + 900).length > 0);
    expect(platform.collector.stats.failedRequests).toBe(failedBefore);
    // Only the operator or the owner may rotate: another tenant's gateway is NOT_FOUND.
    const foreign = await graphql(platform.routerUrl, ROTATE, { id: 'austin-gw01' }, { token: cityToken });
    expect(foreign.data?.rotateGatewayCredentials.userErrors).toMatchObject([{ code: 'NOT_FOUND' }]);
  });

  it("keeps a gateway to its own topics: no other gateway's, no collectors' subscription, presence or client id", async () => {
    const { data } = await graphql(platform.routerUrl, ROTATE, { id: 'pisek-gw002' }, { token: cityToken });
    const credentials = data!.rotateGatewayCredentials.mqttCredentials as MqttCredentials & {
      clientId: string;
      requestTopic: string;
      responseTopic: string;
    };
    expect(credentials).toMatchObject({
      username: gatewayUsername('pisek-gw002'),
      clientId: gatewayUsername('pisek-gw002'),
      requestTopic: 'gateway/pisek-gw002/iqrf/requests',
      responseTopic: 'gateway/pisek-gw002/iqrf/responses',
    });

    // The gateway's identity cannot take over a collector's (or anyone else's) client id.
    expect(await connectError(url, { ...options, credentials, clientId: `collector-${process.pid}` })).toBeInstanceOf(Error);

    const attacker = await connectWith(credentials);
    for (const filter of [
      '#',
      'gateway/+/iqrf/responses',
      'gateway/austin-gw01/iqrf/requests',
      `$share/${COLLECTOR_GROUP}/gateway/+/iqrf/responses`,
      collectorPresence.filter,
      '$SYS/#',
      '$CONTROL/dynamic-security/#',
    ]) {
      if (!attacker.connected) break;
      expect(await subscriptionRefused(attacker, filter), filter).toBe(true);
    }
    const seen = observed.length;
    // Publications it may not make never reach anyone (MQTT 3.1.1 brokers close the connection).
    const attempts: Array<[string, string, boolean]> = [
      [topicFor(defaultTopics.responses, 'austin-gw01'), '{"mType":"iqrfSensor_Frc","forgedBy":"pisek-gw002"}', false],
      [collectorPresence.of('phantom'), '{"id":"phantom","forgedBy":"pisek-gw002"}', true],
      [topicFor(defaultTopics.requests, 'austin-gw01'), '{"forgedBy":"pisek-gw002"}', false],
    ];
    for (const [topic, payload, retain] of attempts) {
      const client = attacker.connected ? attacker : await connectWith(credentials);
      // An MQTT 3.1.1 broker answers a refused publication by closing the connection: no PUBACK comes.
      await Promise.race([
        client.publishAsync(topic, payload, { qos: 1, retain }).catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, 500)),
      ]);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(observed.slice(seen).filter((m) => m.payload.includes('forgedBy') || m.topic.includes('phantom'))).toEqual([]);
  });

  it("changes nothing anywhere with an answer to a request the platform never sent, even on the gateway's own topic", async () => {
    // The worst case: the gateway's own identity (stolen: the operator rotated and we hold the password).
    const stolen = (await graphql(platform.routerUrl, ROTATE, { id: PARKING_GATEWAY }, { token: await adminToken() })).data!
      .rotateGatewayCredentials.mqttCredentials as MqttCredentials;
    const before = { readings: platform.collector.stats.readings, rejected: platform.collector.stats.rejectedAnswers.unsolicited };
    const attacker = await connectWith(stolen);
    const forged = {
      mType: 'iqrfSensor_Frc',
      data: {
        msgId: 'a868d365-5cd2-4964-bbc9-e37331b96f75',
        status: 0,
        statusStr: 'ok',
        rsp: {
          nAdr: 0,
          hwpId: 0,
          rCode: 0,
          dpaVal: 0,
          result: {
            sensorIndex: 0,
            selectedNodes: [2, 3],
            sensors: [
              { type: 160, value: FORGED },
              { type: 160, value: FORGED },
            ],
          },
        },
      },
    };
    await attacker.publishAsync(topicFor(defaultTopics.responses, PARKING_GATEWAY), JSON.stringify(forged), { qos: 1 });
    await eventually(async () => platform.collector.stats.rejectedAnswers.unsolicited > before.rejected);
    await attacker.endAsync(true);
    expect(published.filter((r) => r.value === FORGED)).toEqual([]);
    const [latest] = await platform.store.latest([{ sensorId: PARKING_SENSOR, tenant: PARKING }]);
    expect(latest?.value).not.toBe(FORGED);
    const open = await graphql(platform.routerUrl, '{ parkingLots { id occupied } }');
    expect(open.data?.parkingLots.map((lot: { occupied: number | null }) => lot.occupied)).not.toContain(FORGED);
    // The daemon lost its session to the attacker for a moment: ask until its mesh answers again.
    const history = await eventually(
      async () =>
        (
          await graphql(platform.routerUrl, `{ sensor(id: "${PARKING_SENSOR}") { readings(from: "-5min") { value } } }`, undefined, {
            token: await tokenFor(PARKING),
          })
        ).data?.sensor,
    );
    expect(history.readings.length).toBeGreaterThan(0);
    expect(history.readings.map((r: { value: number }) => r.value)).not.toContain(FORGED);
  });

  it('disconnects a client that sends a packet over the size limit, and goes on collecting', async () => {
    const credentials = await accountMaker(platform.mqttAccounts)({
      username: gatewayUsername('big-gw'),
      role: 'gateway',
      gatewayId: 'big-gw',
    });
    const client = await connectWith(credentials);
    // The broker closes the connection; an MQTT 5 client that knows the broker's limit refuses to send.
    const outcome = await new Promise((resolve) => {
      client.once('close', () => resolve('closed'));
      client.once('error', () => resolve('closed'));
      client.publish(
        topicFor(defaultTopics.responses, 'big-gw'),
        Buffer.alloc(1024 * 1024, 'x'),
        { qos: 1 },
        (error) => error && resolve('refused'),
      );
    });
    expect(['closed', 'refused']).toContain(outcome);
    const count = published.length;
    await eventually(async () => published.length > count + 50);
  });
  it('gives up a gateway at decommission: its credentials stop working at once and its session is closed', async () => {
    const registered = await graphql(
      platform.routerUrl,
      REGISTER,
      { input: { id: 'intruder-gw', name: 'Intruder', tenant: CITY, arch: 'ARM', location: { latitude: 49.3, longitude: 14.1 } } },
      { token: cityToken },
    );
    expect(registered.data?.registerGateway.userErrors).toEqual([]);
    const credentials = registered.data!.registerGateway.mqttCredentials as MqttCredentials;
    // The simulator boots a daemon for it with these credentials: let it go dark, and connect as it ourselves.
    await eventually(async () => platform.simulator!.iqrf.hasGateway('intruder-gw'));
    platform.simulator!.iqrf.removeGateway('intruder-gw');
    const gateway = await connectWith(credentials);
    const closed = new Promise<void>((resolve) => gateway.once('close', () => resolve()));
    const decommissioned = await graphql(platform.routerUrl, DECOMMISSION, { id: 'intruder-gw' }, { token: cityToken });
    expect(decommissioned.data?.decommissionGateway.userErrors).toEqual([]);
    await closed;
    expect(await connectError(url, { ...options, credentials })).toBeInstanceOf(Error);
    // A retried registration's answer does not repeat the password (it is kept nowhere).
    const again = await graphql(
      platform.routerUrl,
      REGISTER,
      {
        input: {
          id: 'intruder-gw',
          name: 'Intruder',
          tenant: CITY,
          arch: 'ARM',
          location: { latitude: 49.3, longitude: 14.1 },
          idempotencyKey: 'intruder-1',
        },
      },
      { token: cityToken },
    );
    const replay = await graphql(
      platform.routerUrl,
      REGISTER,
      {
        input: {
          id: 'intruder-gw',
          name: 'Intruder',
          tenant: CITY,
          arch: 'ARM',
          location: { latitude: 49.3, longitude: 14.1 },
          idempotencyKey: 'intruder-1',
        },
      },
      { token: cityToken },
    );
    expect(again.data?.registerGateway.mqttCredentials.password).toEqual(expect.any(String));
    expect(replay.data?.registerGateway).toMatchObject({ gateway: { id: 'intruder-gw' }, mqttCredentials: null, userErrors: [] });
  });
});
