import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { IqrfClient, IqrfTimeoutError, MeshCatalog, MType, topicFor, defaultTopics } from '#iqrf';
import { silentLogger } from '#log';
import { FileGatewayRegistry } from '#registry';
import { buildScenario, IqrfDaemonSimulator, scenarioRegistry } from '#simulator';
import { MemoryLiveBus, MemoryTimeSeriesStore, type Reading } from '#telemetry';
import { Collector } from '../../collector/src/collector.ts';
import { gatewayUsername, startEmbeddedBroker, type EmbeddedBroker } from '#broker';
import { accountMaker, connectAs, startDaemons } from '../support/mqtt.ts';

describe('collector against simulated IQRF daemons over MQTT', () => {
  const scenario = buildScenario('demo');
  let broker: EmbeddedBroker;
  let clients: MqttClient[];
  let simulator: IqrfDaemonSimulator;
  let iqrf: IqrfClient;
  let collector: Collector;
  let store: MemoryTimeSeriesStore;
  const published: Reading[] = [];

  beforeAll(async () => {
    broker = await startEmbeddedBroker({ port: 0, logger: silentLogger });
    const makeAccount = accountMaker(broker.accounts);
    simulator = await startDaemons(broker.url, scenario, makeAccount);
    clients = [
      await connectAs(broker.url, makeAccount, { username: 'collector-test', role: 'collector' }),
      // A gateway of its own (no daemon answers for it): what may publish on its response topic.
      await connectAs(broker.url, makeAccount, { username: gatewayUsername('dark-gw'), role: 'gateway', gatewayId: 'dark-gw' }),
    ];
    iqrf = new IqrfClient(clients[0]!, { logger: silentLogger, timeoutMs: 1_000 });
    await iqrf.start();
    const registry = await FileGatewayRegistry.open();
    for (const record of scenarioRegistry(scenario)) await registry.add(record);
    // A registered gateway whose daemon never answers.
    await registry.add({ ...scenarioRegistry(scenario)[0]!, id: 'dark-gw', nodes: {} });
    store = new MemoryTimeSeriesStore({ resolutionSeconds: 1 });
    const bus = new MemoryLiveBus();
    bus.subscribe((readings) => published.push(...readings));
    collector = new Collector({ iqrf, catalog: new MeshCatalog(iqrf), registry, store, bus, logger: silentLogger });
    await collector.listen();
  });

  afterAll(async () => {
    iqrf.close();
    simulator.stop();
    await Promise.all(clients.map((c) => c.endAsync()));
    await broker.close();
  });

  it('reads every sensor of every answering gateway into the store and onto the bus', async () => {
    await collector.pollAll();
    const sensors = scenario.gateways.flatMap((g) => g.nodes.flatMap((n) => n.sensors.map((_, i) => `${g.id}.${n.address}.${i}`)));
    expect(new Set(published.map((r) => r.sensorId))).toEqual(new Set(sensors));
    const co2 = published.find((r) => r.sensorId === 'austin-gw01.21.2')!;
    expect(co2).toMatchObject({ gatewayId: 'austin-gw01', tenant: 'austin-summit', quantity: 'CO2' });
    expect(co2.value).toBeGreaterThanOrEqual(300);
    const vehicles = published.find((r) => r.sensorId === 'pisek-gw001.1.0')!;
    expect(vehicles.quantity).toBe('VEHICLE_COUNT');
    const [latest] = await store.latest([{ sensorId: 'austin-gw01.21.2', tenant: 'austin-summit' }]);
    expect(latest?.value).toBe(co2.value);
    expect(collector.stats.failedRequests).toBeGreaterThanOrEqual(1); // dark-gw did not answer
  });

  it('counts malformed payloads on response topics and keeps collecting', async () => {
    const before = collector.stats;
    const topic = topicFor(defaultTopics.responses, 'dark-gw');
    await clients[1]!.publishAsync(topic, 'this is not json', { qos: 1 });
    await clients[1]!.publishAsync(topic, JSON.stringify({ mType: 'iqrfSensor_Frc', data: {} }), { qos: 1 });
    await clients[1]!.publishAsync(topic, Buffer.from([0xff, 0x00, 0x13]), { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(collector.stats.malformedPayloads - before.malformedPayloads).toBe(3);
    const count = published.length;
    await collector.pollAll();
    expect(published.length - count).toBeGreaterThan(100);
  });

  it('rejects a request nobody answers with a timeout that names the gateway', async () => {
    await expect(iqrf.request('dark-gw', MType.BONDED_DEVICES, { nAdr: 0, param: {} }, { timeoutMs: 200 })).rejects.toThrow(
      IqrfTimeoutError,
    );
    await expect(iqrf.request('dark-gw', MType.BONDED_DEVICES, { nAdr: 0, param: {} }, { timeoutMs: 200 })).rejects.toThrow(
      /gateway "dark-gw" did not answer/,
    );
  });

  it('turns a daemon error status into an error, not a hang', async () => {
    // An mType the daemon does not know (outside the map: only a cast gets it past the types).
    await expect(iqrf.request('austin-gw01', 'iqrfNoSuchThing' as MType, {})).rejects.toThrow(/status 1/);
  });
});
