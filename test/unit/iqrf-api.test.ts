import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  defaultTopics,
  IqrfClient,
  IqrfResponseError,
  isInvalidEntry,
  isMType,
  MType,
  responseValidators,
  topicFor,
  validateResponse,
  type AutoNetworkProgress,
  type DaemonRequest,
  type ResponseOf,
  type TopologyDevice,
} from '#iqrf';
import { silentLogger } from '#log';
import { IqrfDaemonSimulator } from '../../simulator/src/iqrf-daemon.ts';
import { buildScenario } from '../../simulator/src/scenario.ts';
import { LoopbackMqtt } from '../support/loopback-mqtt.ts';

const fixtures = new URL('../../../shared/reference/iqrf-daemon-api/', import.meta.url);

describe('the IQRF API map', () => {
  it('has a validator for every mType it names', () => {
    expect(Object.keys(responseValidators).sort()).toEqual(Object.values(MType).sort());
  });

  it("accepts the daemon's own example answers of every mType it maps", () => {
    let checked = 0;
    for (const file of readdirSync(fixtures).filter((f) => f.endsWith('-response.json'))) {
      const parsed: unknown = JSON.parse(readFileSync(new URL(file, fixtures), 'utf8'));
      for (const message of (Array.isArray(parsed) ? parsed : [parsed]) as Array<{ mType: string; data: { rsp: unknown } }>) {
        if (!isMType(message.mType)) continue;
        expect(validateResponse(message.mType, message.data.rsp), file).toMatchObject({ ok: true });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it.each([
    [MType.DAEMON_VERSION, 'v2.6.0', 'rsp is not an object'],
    [MType.DAEMON_VERSION, {}, 'rsp.version is not a string'],
    [MType.BONDED_DEVICES, { nAdr: 0 }, 'rsp.result is not an object'],
    [MType.BONDED_DEVICES, { nAdr: '0', result: { bondedDevices: [] } }, 'rsp.nAdr is not an integer'],
    [MType.BONDED_DEVICES, { result: {} }, 'rsp.result.bondedDevices is not an array'],
    [MType.BONDED_DEVICES, { result: { bondedDevices: [1, 240] } }, 'rsp.result.bondedDevices[1] is not an address (1-239)'],
    [MType.NETWORK_TOPOLOGY, { devices: 'none' }, 'rsp.devices is not an array'],
    [
      MType.NETWORK_TOPOLOGY,
      {
        devices: [
          { address: 0, vrn: 0, zone: 0, parent: null },
          { address: 1, vrn: 1, zone: 1, parent: 'coordinator' },
        ],
      },
      'rsp.devices[1].parent is neither null nor an address (0-239)',
    ],
    [MType.NETWORK_TOPOLOGY, { devices: [{ address: 0, zone: 0, parent: null }] }, 'rsp.devices[0].vrn is not a non-negative integer'],
    [
      MType.SENSOR_ENUMERATE,
      { result: { sensors: [{ id: 'TEMPERATURE', type: 1, name: 'Temperature', unit: '°C', decimalPlaces: 4, frcs: ['fast'] }] } },
      'rsp.result.sensors[0].frcs is not an array of FRC commands',
    ],
    [MType.SENSOR_ENUMERATE, { result: { sensors: [{ type: 1.5 }] } }, 'rsp.result.sensors[0].type is not an integer'],
    [MType.SENSOR_FRC, { result: { sensorIndex: 0 } }, 'rsp.result.sensors is not an array'],
    [MType.SENSOR_FRC, { result: { sensors: [] } }, 'rsp.result.sensorIndex is not an integer'],
    [
      MType.SENSOR_FRC,
      { result: { sensors: [], sensorIndex: 0, selectedNodes: [1, -1] } },
      'rsp.result.selectedNodes[1] is not an address (0-239)',
    ],
    [MType.READ_SENSORS_WITH_TYPES, { result: { sensors: [null] } }, 'rsp.result.sensors[0] is null'],
    [
      MType.READ_SENSORS_WITH_TYPES,
      { result: { sensors: [{ type: 1, value: 'hot' }] } },
      'rsp.result.sensors[0].value is not a finite number',
    ],
    [MType.BOND_NODE_LOCAL, { assignedAddr: 0, nodesNr: 1 }, 'rsp.assignedAddr is not a node address (1-239)'],
    [MType.BOND_NODE_LOCAL, { assignedAddr: 3, nodesNr: '3' }, 'rsp.nodesNr is not a non-negative integer'],
    [MType.REMOVE_BOND, [], 'rsp is not an object'],
    [MType.REMOVE_BOND, { nodesNr: -1 }, 'rsp.nodesNr is not a non-negative integer'],
    [MType.AUTO_NETWORK, { waveState: 'SmartConnect.' }, 'rsp.wave is not a non-negative integer'],
    [MType.AUTO_NETWORK, { wave: 1, lastWave: 'yes' }, 'rsp.lastWave is not a boolean'],
    [MType.AUTO_NETWORK, { wave: 1, newNodes: [{ address: 300, mid: '8110' }] }, 'rsp.newNodes[0] is not {address: 1-239, mid: string}'],
  ] as const)('refuses a malformed %s answer (%j) saying exactly what is wrong', (mType, rsp, error) => {
    expect(validateResponse(mType, rsp)).toEqual({ ok: false, error });
  });

  it('keeps the other entries of an FRC answer when one is not a sensor value, marked', () => {
    const checked = validateResponse(MType.SENSOR_FRC, {
      nAdr: 0,
      result: { sensors: [null, { type: 1, value: 'hot' }, { type: 1, value: 21.5 }], sensorIndex: 0 },
    });
    expect(checked.ok).toBe(true);
    const sensors = checked.ok ? checked.value.result.sensors : [];
    expect(sensors).toEqual([null, { invalid: 'rsp.result.sensors[1].value is not a finite number' }, { type: 1, value: 21.5 }]);
    expect(sensors.map((entry) => entry !== null && isInvalidEntry(entry))).toEqual([false, true, false]);
  });

  it('refuses an mType it does not know', () => {
    expect(isMType('iqrfNoSuchThing')).toBe(false);
    expect(validateResponse('iqrfNoSuchThing' as MType, {})).toEqual({
      ok: false,
      error: 'iqrfNoSuchThing is not an mType of the IQRF API',
    });
  });
});

describe('IqrfClient against a simulated daemon, in process', () => {
  const scenario = buildScenario('demo');
  const gatewayId = scenario.gateways[0]!.id;
  const loopback = new LoopbackMqtt();
  const daemons = new IqrfDaemonSimulator({ mqtt: loopback.client(), scenario, logger: silentLogger });
  const iqrf = new IqrfClient(loopback.client(), { logger: silentLogger, timeoutMs: 2_000 });

  /** A daemon of our own for `id`: answers each request with what `answer` gives (nothing for an empty list). */
  function fakeDaemon(id: string, answer: (request: DaemonRequest) => unknown[]): void {
    const mqtt = loopback.client();
    void mqtt.subscribeAsync(topicFor(defaultTopics.requests, id));
    mqtt.on('message', (_topic: string, payload: Buffer) => {
      const request = JSON.parse(payload.toString()) as DaemonRequest;
      for (const rsp of answer(request))
        loopback.deliver(
          topicFor(defaultTopics.responses, id),
          JSON.stringify({ mType: request.mType, data: { msgId: request.data.msgId, rsp, status: 0, statusStr: 'ok' } }),
        );
    });
  }

  beforeAll(async () => {
    await daemons.start();
    await iqrf.start();
  });
  afterAll(() => {
    iqrf.close();
    daemons.stop();
  });

  it('returns the validated answer of each mType, typed by it', async () => {
    const version = await iqrf.request(gatewayId, MType.DAEMON_VERSION, undefined);
    expectTypeOf(version.rsp).toEqualTypeOf<ResponseOf<'mngDaemon_Version'>>();
    expect(version.rsp.version).toMatch(/^v\d/);

    const topology = await iqrf.request(gatewayId, MType.NETWORK_TOPOLOGY, {});
    expectTypeOf(topology.rsp.devices).toEqualTypeOf<TopologyDevice[]>();
    expect(topology.rsp.devices[0]).toMatchObject({ address: 0, parent: null });

    const bonded = (await iqrf.request(gatewayId, MType.BONDED_DEVICES, { nAdr: 0, param: {} })).rsp.result.bondedDevices;
    expect(bonded).toEqual(daemons.bondedNodes(gatewayId));
    const node = scenario.gateways[0]!.nodes.find((n) => n.sensors.length)!.address;

    const { sensors } = (await iqrf.request(gatewayId, MType.SENSOR_ENUMERATE, { nAdr: node, param: {} })).rsp.result;
    expect(sensors.length).toBeGreaterThan(0);
    const { type, frcs } = sensors[0]!;

    const frc = await iqrf.request(gatewayId, MType.SENSOR_FRC, {
      nAdr: 0,
      param: { sensorType: type, sensorIndex: 0, frcCommand: frcs[0]!, selectedNodes: [node] },
    });
    expect(frc.rsp.result).toMatchObject({ sensorIndex: 0, sensors: [{ type, value: expect.any(Number) }] });

    const read = await iqrf.request(gatewayId, MType.READ_SENSORS_WITH_TYPES, { nAdr: node, param: { sensorIndexes: [0] } });
    expect(read.rsp.result.sensors).toEqual([expect.objectContaining({ type, value: expect.any(Number) })]);

    const bond = await iqrf.request(gatewayId, MType.BOND_NODE_LOCAL, { deviceAddr: 0 });
    expectTypeOf(bond.rsp.assignedAddr).toEqualTypeOf<number>();
    expect(daemons.bondedNodes(gatewayId)).toContain(bond.rsp.assignedAddr);
    const removed = await iqrf.request(gatewayId, MType.REMOVE_BOND, { deviceAddr: bond.rsp.assignedAddr, hwpId: 0xffff });
    expect(removed.rsp.nodesNr).toBe(bonded.length);
  });

  it("streams a discovery's validated progress until its last wave", async () => {
    const progress: AutoNetworkProgress[] = [];
    const request = { discoveryTxPower: 1, stopConditions: { waves: 2, emptyWaves: 1 } };
    for await (const rsp of iqrf.stream(gatewayId, MType.AUTO_NETWORK, request, (rsp) => rsp.lastWave === true)) progress.push(rsp);
    expect(progress.map((p) => p.wave)).toEqual([1, 1, 2, 2]);
    expect(progress.at(-1)).toMatchObject({ lastWave: true, newNodesNr: 2 });
  });

  it('rejects an answer whose rsp is not what its mType answers, naming the field', async () => {
    fakeDaemon('odd-gw', (request) => (request.mType === MType.NETWORK_TOPOLOGY ? [{ devices: 'none' }] : [{ wave: -1 }]));
    const error = await iqrf.request('odd-gw', MType.NETWORK_TOPOLOGY, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IqrfResponseError);
    expect((error as Error).message).toBe(
      'IQRF daemon of gateway "odd-gw" answered iqrfDb_GetNetworkTopology with an invalid response: rsp.devices is not an array',
    );
    const stream = iqrf.stream('odd-gw', MType.AUTO_NETWORK, { discoveryTxPower: 1 }, () => false);
    await expect(stream.next()).rejects.toThrow(/answered iqmeshNetwork_AutoNetwork with an invalid response: rsp.wave is not/);
  });

  it('stops waiting for a stream as soon as its reader returns, and forgets its request', async () => {
    const sent: Array<() => void> = [];
    fakeDaemon('slow-gw', (request) => {
      // The first wave now, the next one only when the test says so.
      sent.push(() => fakeAnswer(request, { wave: 2, lastWave: true }));
      return [{ wave: 1 }];
    });
    const fakeAnswer = (request: DaemonRequest, rsp: unknown) =>
      loopback.deliver(
        topicFor(defaultTopics.responses, 'slow-gw'),
        JSON.stringify({ mType: request.mType, data: { msgId: request.data.msgId, rsp, status: 0 } }),
      );
    const before = { ...iqrf.stats };
    const stream = iqrf.stream('slow-gw', MType.AUTO_NETWORK, { discoveryTxPower: 1 }, (rsp) => rsp.lastWave === true, {
      timeoutMs: 300,
    });
    expect(await stream.next()).toEqual({ done: false, value: { wave: 1 } });
    const waiting = stream.next();
    await expect(stream.return!()).resolves.toEqual({ done: true, value: undefined });
    await expect(waiting).resolves.toEqual({ done: true, value: undefined });
    sent[0]!();
    await sleep(400);
    // The late wave matched nothing, and the request never timed out: it was forgotten.
    expect(iqrf.stats.unmatched - before.unmatched).toBe(1);
    expect(iqrf.stats.timeouts).toBe(before.timeouts);
  });
});
