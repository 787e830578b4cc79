import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { IqrfClient, IqrfStatusError, isActuatorTime, MType, SensorType, validateResponse, type ResponseOf } from '#iqrf';
import { silentLogger } from '#log';
import { IqrfDaemonSimulator } from '../../simulator/src/iqrf-daemon.ts';
import { buildScenario } from '../../simulator/src/scenario.ts';
import { LoopbackMqtt } from '../support/loopback-mqtt.ts';

/**
 * The `data.rsp` of the daemon's own example answers, from iqrf/iqrf-gateway-daemon `api/examples/`
 * (the Light ones as they were before commit 90f30cf6 removed that standard's v1 API).
 */
const examples = [
  // api/examples/iqrfBinaryoutput_Enumerate-response-1-0-0-example.json
  [MType.BINARY_OUTPUT_ENUMERATE, { nAdr: 2, hwpId: 3074, rCode: 0, dpaVal: 67, result: { binOuts: 4 } }],
  // api/examples/iqrfBinaryoutput_SetOutput-response-1-0-0-example.json
  [MType.BINARY_OUTPUT_SET, { nAdr: 2, hwpId: 3074, rCode: 0, dpaVal: 66, result: { prevVals: Array<boolean>(32).fill(false) } }],
  // api/examples/iqrfLight_Enumerate-response-1-0-0-example.json
  [MType.LIGHT_ENUMERATE, { nAdr: 4, hwpId: 4098, rCode: 0, dpaVal: 65, result: { lights: 2 } }],
  // api/examples/iqrfLight_SetPower-response-1-0-0-example.json
  [MType.LIGHT_SET_POWER, { nAdr: 4, hwpId: 4098, rCode: 0, dpaVal: 64, result: { prevVals: [0] } }],
  // api/examples/iqrfLight_IncrementPower-response-1-0-0-example.json
  [MType.LIGHT_INCREMENT_POWER, { nAdr: 4, hwpId: 4098, rCode: 0, dpaVal: 64, result: { prevVals: [100] } }],
  // api/examples/iqrfLight_DecrementPower-response-1-0-0-example.json
  [MType.LIGHT_DECREMENT_POWER, { nAdr: 4, hwpId: 4098, rCode: 0, dpaVal: 59, result: { prevVals: [90] } }],
  // api/examples/iqrfDali_SendCommands-response-1-0-0-example.json
  [
    MType.DALI_SEND_COMMANDS,
    {
      nAdr: 1,
      hwpId: 2052,
      rCode: 0,
      dpaVal: 76,
      result: {
        answers: [
          { status: 128, value: 0 },
          { status: 129, value: 20 },
        ],
      },
    },
  ],
] as const;

describe('the actuator mTypes of the IQRF API map', () => {
  it.each(examples)("accepts the daemon's example answer of %s", (mType, rsp) => {
    expect(validateResponse(mType, rsp)).toEqual({ ok: true, value: rsp });
  });

  it.each([
    [MType.BINARY_OUTPUT_ENUMERATE, { nAdr: 2 }, 'rsp.result is not an object'],
    [MType.BINARY_OUTPUT_ENUMERATE, { result: { binOuts: 33 } }, 'rsp.result.binOuts is not a number of binary outputs (0-32)'],
    [MType.BINARY_OUTPUT_SET, { result: {} }, 'rsp.result.prevVals is not an array'],
    [MType.BINARY_OUTPUT_SET, { result: { prevVals: [false, 1] } }, 'rsp.result.prevVals[1] is not a boolean'],
    [MType.BINARY_OUTPUT_SET, { rCode: '0', result: { prevVals: [] } }, 'rsp.rCode is not an integer'],
    [MType.LIGHT_ENUMERATE, { result: { lights: -1 } }, 'rsp.result.lights is not a non-negative integer'],
    [MType.LIGHT_SET_POWER, { result: { prevVals: [50, 101] } }, 'rsp.result.prevVals[1] is not a power level (0-100)'],
    [MType.LIGHT_INCREMENT_POWER, { result: { prevVals: 'none' } }, 'rsp.result.prevVals is not an array'],
    [MType.LIGHT_DECREMENT_POWER, { result: { prevVals: [2.5] } }, 'rsp.result.prevVals[0] is not a power level (0-100)'],
    [MType.DALI_SEND_COMMANDS, { result: { answers: {} } }, 'rsp.result.answers is not an array'],
    [MType.DALI_SEND_COMMANDS, { result: { answers: [7] } }, 'rsp.result.answers[0] is not an object'],
    [MType.DALI_SEND_COMMANDS, { result: { answers: [{ status: 128, value: 256 }] } }, 'rsp.result.answers[0].value is not a byte (0-255)'],
  ] as const)('refuses a malformed %s answer (%j) saying exactly what is wrong', (mType, rsp, error) => {
    expect(validateResponse(mType, rsp)).toEqual({ ok: false, error });
  });

  it('tells the times a command can carry: 1-127 s or 1-127 min', () => {
    expect([1, 127, 180, 7620].map(isActuatorTime)).toEqual([true, true, true, true]);
    expect([0, 128, 150, 7680, 2.5].map(isActuatorTime)).toEqual([false, false, false, false, false]);
  });
});

describe('actuators of the simulated daemon, through IqrfClient', () => {
  const scenario = buildScenario('demo');
  const austin = 'austin-gw01';
  const street = 'pisek-gw002';
  // A working morning: the rooms are full, their CO2 high.
  let clock = Date.parse('2026-03-10T10:00:00Z');
  const advance = (ms: number) => (clock += ms);
  const loopback = new LoopbackMqtt();
  const daemons = new IqrfDaemonSimulator({ mqtt: loopback.client(), scenario, logger: silentLogger, now: () => new Date(clock) });
  const iqrf = new IqrfClient(loopback.client(), { logger: silentLogger, timeoutMs: 2_000 });
  const setOutput = (gatewayId: string, nAdr: number, binOuts: Array<{ index: number; state: boolean; time?: number }>) =>
    iqrf.request(gatewayId, MType.BINARY_OUTPUT_SET, { nAdr, param: { binOuts } });
  const co2 = async (nAdr: number) => {
    const { sensors } = (await iqrf.request(austin, MType.READ_SENSORS_WITH_TYPES, { nAdr, param: { sensorIndexes: [2] } })).rsp.result;
    expect(sensors[0]!.type).toBe(SensorType.CO2);
    return sensors[0]!.value as number;
  };

  beforeAll(async () => {
    await daemons.start();
    await iqrf.start();
  });
  afterAll(() => {
    iqrf.close();
    daemons.stop();
  });

  it('gives every room a ventilation relay and street poles their lights, leaving nodes and sensors as they were', () => {
    const rooms = scenario.gateways.flatMap((g) => g.nodes).filter((n) => n.sensors.some((s) => s.type === SensorType.CO2));
    expect(rooms.every((n) => n.binaryOutputs?.[0]?.ventilates)).toBe(true);
    expect(
      scenario.gateways
        .find((g) => g.id === street)!
        .nodes.filter((n) => n.lights?.length)
        .map((n) => n.address),
    ).toEqual([1, 2]);
    expect(scenario.gateways.map((g) => g.nodes.length)).toEqual([40, 10, 12, 12]);
  });

  it("switches a relay and answers every output's previous state", async () => {
    const enumerated = await iqrf.request(austin, MType.BINARY_OUTPUT_ENUMERATE, { nAdr: 21, param: {} });
    expect(enumerated.rsp.result.binOuts).toBe(2);

    const on = await setOutput(austin, 21, [{ index: 1, state: true }]);
    expectTypeOf(on.rsp).toEqualTypeOf<ResponseOf<'iqrfBinaryoutput_SetOutput'>>();
    expect(on.rsp.result.prevVals).toEqual(Array<boolean>(32).fill(false));
    expect(daemons.outputStates(austin, 21)).toEqual([false, true]);

    const off = await setOutput(austin, 21, [{ index: 1, state: false }]);
    expect(off.rsp.result.prevVals.slice(0, 3)).toEqual([false, true, false]);
    expect(daemons.outputStates(austin, 21)).toEqual([false, false]);
  });

  it('switches a timed output back off once its time is up', async () => {
    await setOutput(austin, 22, [{ index: 1, state: true, time: 5 }]);
    advance(4_000);
    expect((await setOutput(austin, 22, [])).rsp.result.prevVals[1]).toBe(true);
    advance(2_000);
    expect((await setOutput(austin, 22, [])).rsp.result.prevVals[1]).toBe(false);
    expect(daemons.outputStates(austin, 22)).toEqual([false, false]);
  });

  it("sets, raises and lowers a street light's power, answering its previous power", async () => {
    expect((await iqrf.request(street, MType.LIGHT_ENUMERATE, { nAdr: 1, param: {} })).rsp.result.lights).toBe(2);
    const light = (mType: 'iqrfLight_SetPower' | 'iqrfLight_IncrementPower' | 'iqrfLight_DecrementPower', power: number) =>
      iqrf.request(street, mType, { nAdr: 1, param: { lights: [{ index: 1, power }] } }).then((answer) => answer.rsp.result.prevVals);
    expect(await light(MType.LIGHT_SET_POWER, 80)).toEqual([0]);
    expect(await light(MType.LIGHT_INCREMENT_POWER, 50)).toEqual([80]);
    expect(await light(MType.LIGHT_DECREMENT_POWER, 30)).toEqual([100]);
    expect(daemons.lightPowers(street, 1)).toEqual([0, 70]);
    // 127 only reports the power.
    expect(await light(MType.LIGHT_SET_POWER, 127)).toEqual([70]);
    expect(daemons.lightPowers(street, 1)).toEqual([0, 70]);
  });

  it("times out a command to an actuator that does not answer, as the daemon's DPA timeout, and changes nothing", async () => {
    daemons.setNodeAnswers(austin, 24, false);
    const error = await setOutput(austin, 24, [{ index: 0, state: true }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IqrfStatusError);
    expect(error).toMatchObject({
      status: -1,
      message: expect.stringMatching(/iqrfBinaryoutput_SetOutput with status -1 \(ERROR_TIMEOUT\)/),
    });
    daemons.setNodeAnswers(austin, 24, true);
    expect(daemons.outputStates(austin, 24)).toEqual([false, false]);
  });

  it('refuses a command to a node without the peripheral', async () => {
    await expect(iqrf.request(street, MType.LIGHT_ENUMERATE, { nAdr: 3, param: {} })).rejects.toMatchObject({ status: 3 });
  });

  it("lowers a room's CO2 over minutes while its ventilation runs, and lets it rise again after", async () => {
    const before = [await co2(25), await co2(26)];
    expect(Math.abs(before[0]! - before[1]!)).toBeLessThan(60);
    await setOutput(austin, 25, [{ index: 0, state: true }]);
    advance(5 * 60_000);
    const aired = await co2(25);
    advance(25 * 60_000);
    const [ventilated, stale] = [await co2(25), await co2(26)];
    expect(aired).toBeLessThan(stale - 250);
    expect(ventilated).toBeLessThan(aired);
    expect(ventilated).toBeLessThan(stale - 500);

    await setOutput(austin, 25, [{ index: 0, state: false }]);
    advance(3 * 60 * 60_000);
    expect(Math.abs((await co2(25)) - (await co2(26)))).toBeLessThan(80);
  });

  it('loses commands at the loss rate: unconfirmed, some of them carried out nonetheless', async () => {
    const lossy = new LoopbackMqtt();
    const daemon = new IqrfDaemonSimulator({ mqtt: lossy.client(), scenario, logger: silentLogger, lossRate: 1 });
    const client = new IqrfClient(lossy.client(), { logger: silentLogger, timeoutMs: 2_000 });
    await daemon.start();
    await client.start();
    try {
      const addresses = [21, 22, 23, 24, 25, 26, 27, 28];
      const outcomes = await Promise.allSettled(
        addresses.map((nAdr) => client.request(austin, MType.BINARY_OUTPUT_SET, { nAdr, param: { binOuts: [{ index: 1, state: true }] } })),
      );
      expect(outcomes.every((o) => o.status === 'rejected' && (o.reason as IqrfStatusError).status === -1)).toBe(true);
      const switched = addresses.filter((nAdr) => daemon.outputStates(austin, nAdr)[1]).length;
      expect(switched).toBeGreaterThan(0);
      expect(switched).toBeLessThan(addresses.length);
    } finally {
      client.close();
      daemon.stop();
    }
  });
});
