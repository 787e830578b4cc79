import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { connectMqtt, defaultTopics, IqrfClient, IqrfTimeoutError, IqrfUnavailableError, MsgId, topicFor } from '#iqrf';
import { silentLogger } from '#log';
import { FileGatewayRegistry, type GatewayRegistry } from '#registry';
import { buildScenario, IqrfDaemonSimulator, scenarioRegistry } from '#simulator';
import { MemoryLiveBus, MemoryTimeSeriesStore, type Reading } from '#telemetry';
import { wireCollector } from '../../collector/src/service.ts';
import { startDaemons } from '../support/mqtt.ts';
import { eventually } from '../support/graphql.ts';
import { startMosquitto, type RunningMosquitto } from '../support/services/mosquitto.ts';

const scenario = buildScenario('demo');
/** The collectors' shared msgId secret: any of them accepts an answer to another's request. */
const msgIdSecret = 'mqtt-test-msgid-secret';
const allSensors = scenario.gateways.flatMap((g) => g.nodes.flatMap((n) => n.sensors.map((_, i) => `${g.id}.${n.address}.${i}`)));

describe('collectors on a real Mosquitto (MQTT 5)', () => {
  let mosquitto: RunningMosquitto;
  let registry: GatewayRegistry;
  let simulator: IqrfDaemonSimulator;
  const clients: MqttClient[] = [];
  /** A client of the platform's API identity (asks gateways, reads answers). */
  const connect = async (username = `api-${clients.length}`) => {
    const client = await connectMqtt(mosquitto.url, {
      protocolVersion: 5,
      credentials: await mosquitto.account({ username, role: 'api' }),
    });
    clients.push(client);
    return client;
  };

  /** A collector as `npm start` builds one on MQTT 5: own persistent session, will, shared subscription. */
  async function startCollector(id: string, bus: MemoryLiveBus) {
    const credentials = await mosquitto.account({ username: id, role: 'collector' });
    const service = await wireCollector({
      mqttUrl: mosquitto.url,
      protocolVersion: 5,
      id,
      credentials,
      registry,
      store: new MemoryTimeSeriesStore(),
      bus,
      logger: silentLogger,
      iqrfTimeoutMs: 2_000,
      msgIdSecret,
    });
    clients.push(service.mqtt);
    return { ...service, membership: service.membership! };
  }

  beforeAll(async () => {
    mosquitto = await startMosquitto();
    simulator = await startDaemons(mosquitto.url, scenario, (account) => mosquitto.account(account), { protocolVersion: 5 });
    registry = await FileGatewayRegistry.open();
    for (const record of scenarioRegistry(scenario)) await registry.add(record);
  });

  afterAll(async () => {
    simulator?.stop();
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await mosquitto?.stop();
  });

  it('two collectors split the gateways and turn every answer into readings exactly once', async () => {
    const bus = new MemoryLiveBus();
    const published: Reading[] = [];
    bus.subscribe((readings) => published.push(...readings));
    const a = await startCollector('split-a', bus);
    const b = await startCollector('split-b', bus);
    await eventually(async () => a.membership.size === 2 && b.membership.size === 2);

    const owners = scenario.gateways.map((g) => [a.membership.owns(g.id), b.membership.owns(g.id)]);
    expect(owners.every(([x, y]) => x !== y)).toBe(true); // each gateway has exactly one owner

    await Promise.all([a.collector.pollAll(), b.collector.pollAll()]);
    await eventually(async () => published.length >= allSensors.length);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const counts = new Map<string, number>();
    for (const r of published) counts.set(r.sensorId, (counts.get(r.sensorId) ?? 0) + 1);
    expect(new Set(counts.keys())).toEqual(new Set(allSensors));
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(a.collector.stats.polls).toBeGreaterThan(0);
    expect(b.collector.stats.polls).toBeGreaterThan(0);

    // When one leaves, the other owns every gateway.
    await a.close();
    await eventually(async () => b.membership.size === 1);
    expect(scenario.gateways.every((g) => b.membership.owns(g.id))).toBe(true);
    await b.close();
  });

  it('keeps the answers that arrive while a collector restarts (persistent session)', async () => {
    const bus = new MemoryLiveBus();
    const published: Reading[] = [];
    bus.subscribe((readings) => published.push(...readings));
    const first = await startCollector('restart-me', bus);
    await first.collector.pollAll(); // learn the meshes, receive one round
    const before = published.length;
    // The collector process dies; meanwhile its FRC requests are answered.
    await first.mqtt.endAsync(true);
    const requester = await connect();
    const msgId = new MsgId({ secret: msgIdSecret }).issue('austin-gw01', 'iqrfSensor_Frc', {
      sensorType: 2,
      sensorIndex: 0,
      nodes: [21, 22, 23],
    });
    const frc = {
      mType: 'iqrfSensor_Frc',
      data: { msgId, req: { nAdr: 0, param: { sensorType: 2, sensorIndex: 0, frcCommand: 224, selectedNodes: [21, 22, 23] } } },
    };
    await requester.publishAsync(topicFor(defaultTopics.requests, 'austin-gw01'), JSON.stringify(frc), { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(published.length).toBe(before);

    const again = await startCollector('restart-me', bus);
    await again.collector.pollAll().catch(() => undefined);
    await eventually(
      async () =>
        published.slice(before).filter((r) => ['austin-gw01.21.2', 'austin-gw01.22.2', 'austin-gw01.23.2'].includes(r.sensorId)).length >=
        6,
    );
    await again.close();
  });

  it('fails requests in flight with a clear error when the broker goes away, and recovers after', async () => {
    const mqtt = await connect();
    const iqrf = new IqrfClient(mqtt, { logger: silentLogger, timeoutMs: 1_000 });
    await iqrf.start();
    const pending = iqrf.request('austin-gw01', 'iqrfEmbedCoordinator_BondedDevices', { nAdr: 0, param: {} }).catch((e: unknown) => e);
    await mosquitto.stop();
    const error = await pending;
    // Either the answer arrived before the broker stopped, or the request failed clearly.
    if (error instanceof Error) expect(error).toSatisfy((e) => e instanceof IqrfTimeoutError || e instanceof IqrfUnavailableError);
    await expect(iqrf.request('austin-gw01', 'iqrfEmbedCoordinator_BondedDevices', { nAdr: 0, param: {} })).rejects.toThrow(
      /not connected|did not answer/,
    );
    await mosquitto.restart();
    const bonded = await eventually(
      async () =>
        (await iqrf.request('austin-gw01', 'iqrfEmbedCoordinator_BondedDevices', { nAdr: 0, param: {} }).catch(() => undefined))?.rsp.result
          .bondedDevices,
      20_000,
      300,
    );
    expect(bonded).toHaveLength(40);
    iqrf.close();
  }, 40_000);
});
