import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { gatewayUsername, startEmbeddedBroker, type EmbeddedBroker } from '#broker';
import { connectMqtt, defaultTopics, IqrfClient, MeshCatalog, MsgId, topicFor, type DaemonResponse } from '#iqrf';
import { silentLogger } from '#log';
import { FileGatewayRegistry, type GatewayRegistry } from '#registry';
import { buildScenario, scenarioRegistry, type IqrfDaemonSimulator } from '#simulator';
import { MemoryLiveBus, MemoryTimeSeriesStore, type Reading } from '#telemetry';
import { Collector, type RejectedAnswers } from '../../collector/src/collector.ts';
import { wireCollector } from '../../collector/src/service.ts';
import { eventually } from '../support/graphql.ts';
import { accountMaker, connectAs, startDaemons, type AccountMaker } from '../support/mqtt.ts';
import { startMosquitto, type RunningMosquitto } from '../support/services/mosquitto.ts';
import { startRedis, type RedisService } from '../support/services/redis.ts';

const scenario = buildScenario('demo');
const allSensors = scenario.gateways.flatMap((g) => g.nodes.flatMap((n) => n.sensors.map((_, i) => `${g.id}.${n.address}.${i}`)));
const secret = 'answers-test-msgid-secret';
/** The value an attacker wants to see in a car park's occupancy. */
const HOSTILE = 777_986;
const responses = (gatewayId: string) => topicFor(defaultTopics.responses, gatewayId);

/**
 * Clients holding stolen credentials of a gateway (another account of the same gateway identity):
 * since the broker has ACLs, the only way left to publish on a gateway's response topic.
 */
function stolenGateways(url: string, makeAccount: AccountMaker, clients: MqttClient[], options: { protocolVersion?: 4 | 5 } = {}) {
  const made = new Map<string, Promise<MqttClient>>();
  return (gatewayId: string): Promise<MqttClient> => {
    if (!made.has(gatewayId)) {
      const client = connectAs(url, makeAccount, { username: `${gatewayUsername(gatewayId)}:stolen`, role: 'gateway', gatewayId }, options);
      made.set(
        gatewayId,
        client.then((c) => (clients.push(c), c)),
      );
    }
    return made.get(gatewayId)!;
  };
}

/** An FRC answer as a daemon sends it; pisek-gw001's nodes 1 and 2 have sensor type 160 at index 0. */
function frcAnswer(msgId: string, sensors: unknown[], options: { sensorIndex?: number; selectedNodes?: number[] } = {}): string {
  const result = {
    sensors,
    sensorIndex: options.sensorIndex ?? 0,
    ...(options.selectedNodes ? { selectedNodes: options.selectedNodes } : {}),
  };
  return JSON.stringify({
    mType: 'iqrfSensor_Frc',
    data: { msgId, rsp: { nAdr: 0, pnum: 13, pcmd: 130, hwpId: 0, rCode: 0, dpaVal: 0, result }, status: 0, statusStr: 'ok' },
  });
}
const value = (v: number, type = 160) => ({ id: 'BINARYDATA30', type, name: 'Binary data30', unit: '?', value: v });

/** A store that remembers every reading written to it. */
function recordingStore(written: Reading[]): MemoryTimeSeriesStore {
  const store = new MemoryTimeSeriesStore({ resolutionSeconds: 1 });
  const write = store.write.bind(store);
  store.write = async (readings) => {
    written.push(...readings);
    await write(readings);
  };
  return store;
}

describe('the collector accepts only answers to requests the platform sent', () => {
  let broker: EmbeddedBroker;
  let simulator: IqrfDaemonSimulator;
  const clients: MqttClient[] = [];
  let attacker: (gatewayId: string) => Promise<MqttClient>;
  let iqrf: IqrfClient;
  let collector: Collector;
  const written: Reading[] = [];
  const published: Reading[] = [];
  const genuine: Array<{ gatewayId: string; payload: string }> = [];
  const lines: Array<Record<string, unknown>> = [];
  const msgIds = new MsgId({ secret });
  const frcClaims = { sensorType: 160, sensorIndex: 0, nodes: [1, 2] };

  const rejected = () => collector.stats.rejectedAnswers;
  const total = (r: RejectedAnswers) => Object.values(r).reduce((a, b) => a + b, 0);
  /** Publishes as the attacker and waits until the collector refused that many more answers. */
  async function publishRefused(count: number, ...payloads: Array<{ gatewayId?: string; payload: string | Buffer }>) {
    const before = total(rejected());
    for (const { gatewayId = 'pisek-gw001', payload } of payloads)
      await (await attacker(gatewayId)).publishAsync(responses(gatewayId), payload, { qos: 1 });
    await eventually(async () => total(rejected()) >= before + count);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(total(rejected())).toBe(before + count);
  }
  const hostileReadings = () => [...written, ...published].filter((r) => r.value === HOSTILE);
  const linesOf = (msg: string, reason?: string) => lines.filter((l) => l.msg === msg && (reason === undefined || l.reason === reason));

  beforeAll(async () => {
    // A packet limit above the hostile answers below, so that the collector's own checks see them.
    broker = await startEmbeddedBroker({ port: 0, logger: silentLogger, maxPacketBytes: 16 * 1024 * 1024 });
    const makeAccount = accountMaker(broker.accounts);
    simulator = await startDaemons(broker.url, scenario, makeAccount);
    attacker = stolenGateways(broker.url, makeAccount, clients);
    const sniffer = await connectAs(broker.url, makeAccount, { username: 'answers-sniffer', role: 'api' });
    const collectorMqtt = await connectAs(broker.url, makeAccount, { username: 'answers-collector', role: 'collector' });
    clients.push(sniffer, collectorMqtt);
    await sniffer.subscribeAsync(responses('+'), { qos: 1 });
    sniffer.on('message', (topic, payload) => {
      if (payload.length > 100_000 || payload[0] !== 0x7b) return; // the hostile payloads below
      const message = JSON.parse(payload.toString()) as DaemonResponse;
      if (message.mType === 'iqrfSensor_Frc' && message.data.status === 0)
        genuine.push({ gatewayId: topic.split('/')[1]!, payload: payload.toString() });
    });
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    // A byte limit above the hostile answers below, so that the collector's own checks see them.
    iqrf = new IqrfClient(collectorMqtt, { logger, timeoutMs: 1_000, msgIdSecret: secret, maxPayloadBytes: 4 * 1024 * 1024 });
    await iqrf.start();
    const registry = await FileGatewayRegistry.open();
    for (const record of scenarioRegistry(scenario)) await registry.add(record);
    const bus = new MemoryLiveBus();
    bus.subscribe((readings) => published.push(...readings));
    collector = new Collector({ iqrf, catalog: new MeshCatalog(iqrf), registry, store: recordingStore(written), bus, logger });
    await collector.listen();
  });

  afterAll(async () => {
    await collector?.close();
    iqrf?.close();
    simulator?.stop();
    await Promise.all(clients.map((c) => c.endAsync()));
    await broker?.close();
  });

  it('turns every answer of a normal poll into readings and refuses none', async () => {
    await collector.pollAll();
    expect(new Set(published.map((r) => r.sensorId))).toEqual(new Set(allSensors));
    expect(published).toHaveLength(allSensors.length);
    expect(collector.stats.rejectedAnswers).toEqual({ unsolicited: 0, expired: 0, replayed: 0, mismatched: 0, oversized: 0 });
    expect(lines.filter((l) => l.msg === 'FRC answer dropped')).toEqual([]);
  });

  it('drops well-formed answers with a random, forged or misdirected msgId: nothing reaches the store or the bus', async () => {
    const good = msgIds.issue('pisek-gw001', 'iqrfSensor_Frc', frcClaims);
    const [v, time, nonce, , mac] = good.split('.');
    const sensors = [value(HOSTILE), value(HOSTILE)];
    const before = rejected().unsolicited;
    await publishRefused(
      6,
      { payload: frcAnswer(randomUUID(), sensors, { selectedNodes: [1, 2] }) },
      { payload: frcAnswer(new MsgId().issue('pisek-gw001', 'iqrfSensor_Frc', frcClaims), sensors) }, // another secret
      { payload: frcAnswer(msgIds.issue('pisek-gw002', 'iqrfSensor_Frc', frcClaims), sensors) }, // issued for another gateway
      { payload: frcAnswer(msgIds.issue('pisek-gw001', 'iqrfSensor_Enumerate', frcClaims), sensors) }, // for another mType
      { payload: frcAnswer(msgIds.issue('pisek-gw001', 'iqrfDb_GetNetworkTopology'), sensors) }, // ours, but asked no FRC
      { payload: frcAnswer([v, time, nonce, 's160i0nDg', mac].join('.'), sensors) }, // node 3 added to the claims
    );
    expect(rejected().unsolicited - before).toBe(6);
    expect(hostileReadings()).toEqual([]);
    expect(linesOf('FRC answer dropped', 'unsolicited')).toHaveLength(1);
  });

  it('drops an answer to a request older than the window', async () => {
    const old = msgIds.issue('pisek-gw001', 'iqrfSensor_Frc', frcClaims, Date.now() - 10 * 60_000);
    await publishRefused(1, { payload: frcAnswer(old, [value(HOSTILE), value(HOSTILE)]) });
    expect(rejected().expired).toBe(1);
    expect(hostileReadings()).toEqual([]);
  });

  it('drops a replayed genuine answer', async () => {
    const answer = genuine.find(
      (g) => g.gatewayId !== 'pisek-gw002' && JSON.parse(g.payload).data.rsp.result.sensors.some((s: unknown) => s !== null),
    )!;
    const count = published.length;
    const before = rejected();
    // Once on its own gateway's topic (a replay), once on another's (unsolicited there).
    await publishRefused(2, answer, { gatewayId: 'pisek-gw002', payload: answer.payload });
    expect(rejected().replayed - before.replayed).toBe(1);
    expect(rejected().unsolicited - before.unsolicited).toBe(1);
    expect(published.length).toBe(count);
  });

  it('drops answers of another sensor type or index, or for a node without that sensor; they do not spend the msgId', async () => {
    const msgId = msgIds.issue('pisek-gw001', 'iqrfSensor_Frc', frcClaims);
    const withUnknownNode = msgIds.issue('pisek-gw001', 'iqrfSensor_Frc', { sensorType: 160, sensorIndex: 0, nodes: [1, 200] });
    await publishRefused(
      3,
      { payload: frcAnswer(msgId, [value(HOSTILE, 1), value(HOSTILE, 1)]) },
      { payload: frcAnswer(msgId, [value(HOSTILE), value(HOSTILE)], { sensorIndex: 1 }) },
      { payload: frcAnswer(withUnknownNode, [null, value(HOSTILE)]) },
    );
    expect(rejected().mismatched).toBe(3);
    expect(hostileReadings()).toEqual([]);
    // Entry i is the i-th node asked, whatever `selectedNodes` the answer names.
    await (
      await attacker('pisek-gw001')
    ).publishAsync(responses('pisek-gw001'), frcAnswer(msgId, [null, value(4242)], { selectedNodes: [1, 1] }), { qos: 1 });
    const reading = await eventually(async () => published.find((r) => r.value === 4242));
    expect(reading.sensorId).toBe('pisek-gw001.2.0');
  });

  it('drops whole an answer with more entries than nodes asked, with one warning line for all of them', async () => {
    const one = msgIds.issue('pisek-gw001', 'iqrfSensor_Frc', { sensorType: 160, sensorIndex: 0, nodes: [1] });
    const twenty = frcAnswer(
      one,
      Array.from({ length: 20_000 }, () => value(HOSTILE)),
      { selectedNodes: Array.from({ length: 20_000 }, () => 1) },
    );
    const unknown = frcAnswer(
      msgIds.issue('pisek-gw001', 'iqrfSensor_Frc', frcClaims),
      Array.from({ length: 90_000 }, () => ({ type: 7, value: HOSTILE })),
    );
    const every = frcAnswer(
      msgIds.issue('pisek-gw001', 'iqrfSensor_Frc', { sensorType: 160, sensorIndex: 0 }),
      Array.from({ length: 241 }, () => null),
    );
    const linesBefore = lines.length;
    await publishRefused(4, { payload: twenty }, { payload: unknown }, { payload: twenty }, { payload: every });
    expect(rejected().oversized).toBe(4);
    expect(hostileReadings()).toEqual([]);
    expect(lines.slice(linesBefore)).toHaveLength(1);
    expect(lines.at(-1)).toMatchObject({ msg: 'FRC answer dropped', reason: 'oversized', dropped: 1, gatewayIds: ['pisek-gw001'] });
    expect(collector.stats.invalidEntries).toBe(0);
  });

  it('drops a payload over the byte limit without parsing it', async () => {
    const before = { oversized: rejected().oversized, malformed: collector.stats.malformedPayloads };
    await publishRefused(2, { payload: Buffer.alloc(5 * 1024 * 1024, '{') }, { payload: Buffer.alloc(4 * 1024 * 1024 + 1, ' ') });
    expect(rejected().oversized - before.oversized).toBe(2);
    expect(collector.stats.malformedPayloads).toBe(before.malformed); // not JSON, but never parsed
    expect(linesOf('oversized IQRF daemon response dropped unparsed')).toHaveLength(1);
  });

  it('still turns a normal poll into every reading, once', async () => {
    const count = published.length;
    await collector.pollAll();
    expect(
      published
        .slice(count)
        .map((r) => r.sensorId)
        .sort(),
    ).toEqual([...allSensors].sort());
    expect(hostileReadings()).toEqual([]);
  });
});

describe('collectors sharing the msgId secret and a Redis ledger (real Mosquitto, MQTT 5)', () => {
  let mosquitto: RunningMosquitto;
  let redis: RedisService;
  let registry: GatewayRegistry;
  let simulator: IqrfDaemonSimulator;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    [mosquitto, redis] = await Promise.all([startMosquitto(), startRedis()]);
    simulator = await startDaemons(mosquitto.url, scenario, (account) => mosquitto.account(account), { protocolVersion: 5 });
    registry = await FileGatewayRegistry.open();
    for (const record of scenarioRegistry(scenario)) await registry.add(record);
  });

  afterAll(async () => {
    simulator?.stop();
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await mosquitto?.stop();
    await redis?.stop();
  });

  it("accepts an answer to A's request at B, and refuses its replay at A", async () => {
    const bus = new MemoryLiveBus();
    const published: Reading[] = [];
    bus.subscribe((readings) => published.push(...readings));
    const start = async (id: string) =>
      wireCollector({
        mqttUrl: mosquitto.url,
        protocolVersion: 5,
        id,
        credentials: await mosquitto.account({ username: id, role: 'collector' }),
        registry,
        store: new MemoryTimeSeriesStore(),
        bus,
        logger: silentLogger,
        iqrfTimeoutMs: 2_000,
        msgIdSecret: secret,
        redisUrl: redis.url,
      });
    const a = await start('ledger-a');
    const b = await start('ledger-b');
    clients.push(a.mqtt, b.mqtt);
    const sniffer = await connectMqtt(mosquitto.url, {
      protocolVersion: 5,
      credentials: await mosquitto.account({ username: 'ledger-sniffer', role: 'api' }),
    });
    clients.push(sniffer);
    const replayer = stolenGateways(mosquitto.url, (account) => mosquitto.account(account), clients, { protocolVersion: 5 });
    const answers: Array<{ topic: string; payload: Buffer }> = [];
    await sniffer.subscribeAsync(responses('+'), { qos: 1 });
    sniffer.on(
      'message',
      (topic, payload) => JSON.parse(payload.toString()).mType === 'iqrfSensor_Frc' && answers.push({ topic, payload }),
    );
    await eventually(async () => a.membership!.size === 2 && b.membership!.size === 2);

    // Only A polls, each gateway of the mesh (not only those it owns); the group spreads the answers over A and B.
    for (const gateway of await registry.list()) await a.collector.pollGateway(gateway);
    const expected = allSensors.length;
    await eventually(async () => published.length >= expected);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(published).toHaveLength(expected);
    expect(b.collector.stats.polls).toBe(0);
    expect(b.collector.stats.readings).toBeGreaterThan(0); // answers to A's requests, accepted by B
    expect(a.collector.stats.readings + b.collector.stats.readings).toBe(expected);

    // B leaves; every answer replayed now reaches A, which knows from Redis that B took them.
    await b.close();
    const taken = answers.splice(0);
    const replays = taken.length;
    for (const { topic, payload } of taken) await (await replayer(topic.split('/')[1]!)).publishAsync(topic, payload, { qos: 1 });
    await eventually(async () => a.collector.stats.rejectedAnswers.replayed >= replays);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(a.collector.stats.rejectedAnswers).toMatchObject({ replayed: replays, unsolicited: 0, mismatched: 0 });
    expect(published).toHaveLength(expected);
    await a.close();
  }, 40_000);
});
