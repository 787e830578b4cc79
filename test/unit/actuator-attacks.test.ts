import { describe, expect, it } from 'vitest';
import { Scope, type Caller } from '#auth';
import { MType, type ObservedMesh } from '#iqrf';
import { silentLogger } from '#log';
import { MemoryActuatorLog, type GatewayRecord } from '#registry';
import { createActuatorLoaders, MAX_NODE_READS_PER_REQUEST } from '../../subgraphs/devices/src/actuator-loaders.ts';
import type { DevicesContext, DevicesSources } from '../../subgraphs/devices/src/context.ts';
import { commandActuators } from '../../subgraphs/devices/src/sources/actuator-commands.ts';
import { MemoryActuatorRateLimit } from '../../subgraphs/devices/src/sources/actuator-rate-limit.ts';

/**
 * A cheap question must not ask the radios for much: `actuators { state }` of a whole city reads
 * at most `MAX_NODE_READS_PER_REQUEST` nodes per request, the others give their last known state.
 * And a daemon's answer that lacks a value is not read as "off": nothing is assumed.
 */
const operator: Caller = { kind: 'user', subject: 'operator', tenant: null, scopes: [Scope.ADMIN] };

/** A city of 10 gateways with 20 relay nodes each (two relays a node): 200 nodes, 400 actuators. */
const gateways: GatewayRecord[] = Array.from({ length: 10 }, (_, g) => ({
  id: `city-gw${String(g + 1).padStart(3, '0')}`,
  name: `City ${g + 1}`,
  tenant: 'city',
  arch: 'ARM64',
  status: 'ONLINE',
  location: { lat: 49.3, lon: 14.1 },
  registeredAt: '2026-01-01T00:00:00.000Z',
  nodes: {},
}));
const addresses = Array.from({ length: 20 }, (_, i) => i + 1);
const meshOf = (): ObservedMesh =>
  ({
    incarnation: 'x',
    topology: {},
    bonded: addresses,
    sensors: {},
    actuators: Object.fromEntries(addresses.map((address) => [address, { binaryOutputs: 2, lights: 0 }])),
    observedAt: new Date().toISOString(),
    freshness: 'LIVE',
  }) as unknown as ObservedMesh;

function sourcesOf(log: MemoryActuatorLog, prevVals: boolean[] = [true, false]) {
  const asked: string[] = [];
  const sources = {
    registry: { getMany: async (ids: readonly string[]) => ids.map((id) => gateways.find((g) => g.id === id)) },
    catalog: { mesh: async () => meshOf(), reachable: () => true },
    iqrf: {
      request: async (gatewayId: string, mType: string, body: { nAdr: number }) => {
        expect(mType).toBe(MType.BINARY_OUTPUT_SET);
        asked.push(`${gatewayId}.${body.nAdr}`);
        return { rsp: { result: { prevVals } } };
      },
    },
    actuatorLog: log,
    actuatorCommandTimeoutMs: 1_000,
  } as unknown as DevicesSources;
  return { sources, asked };
}

describe('the state of many actuators in one request', () => {
  it(`reads at most ${MAX_NODE_READS_PER_REQUEST} nodes; the others give their last known state, saying so`, async () => {
    const log = new MemoryActuatorLog();
    const { sources, asked } = sourcesOf(log);
    const everyRelay = gateways.flatMap((g) => addresses.flatMap((address) => [0, 1].map((i) => `${g.id}.${address}.output${i}`)));
    const last = everyRelay.at(-1)!;
    await log.saveState(last, { on: false, status: 'CONFIRMED', confirmedAt: '2026-01-01T00:00:00.000Z' });

    const loaders = createActuatorLoaders(sources, operator);
    const states = await loaders.actuatorState.loadMany(everyRelay);

    // One request per node read, both relays of a node from its one answer.
    expect(asked.length).toBe(MAX_NODE_READS_PER_REQUEST);
    expect(new Set(asked).size).toBe(asked.length);
    const read = states.filter(
      (state) => !(state instanceof Error) && state.status === 'CONFIRMED' && state.confirmedAt !== '2026-01-01T00:00:00.000Z',
    );
    expect(read).toHaveLength(2 * MAX_NODE_READS_PER_REQUEST);
    // Not read: the last state confirmed (with when), or UNKNOWN; never a guess.
    expect(states.at(-1)).toEqual({ on: false, status: 'CONFIRMED', confirmedAt: '2026-01-01T00:00:00.000Z' });
    expect(states.at(-2)).toEqual({ status: 'UNKNOWN' });

    // The budget is the request's: the next one reads again.
    await createActuatorLoaders(sources, operator).actuatorState.load(everyRelay[0]!);
    expect(asked.length).toBe(MAX_NODE_READS_PER_REQUEST + 1);
  });
});

describe('a daemon answer that lacks an output', () => {
  const relays = ['city-gw001.1.output0', 'city-gw001.1.output1'];

  it('leaves that output its last known state when read, never "off"', async () => {
    const log = new MemoryActuatorLog();
    const { sources } = sourcesOf(log, [true]);
    const states = await createActuatorLoaders(sources, operator).actuatorState.loadMany(relays);
    expect(states[0]).toMatchObject({ on: true, status: 'CONFIRMED' });
    expect(states[1]).toEqual({ status: 'UNKNOWN' });
  });

  it('confirms a command to it without a made-up previous state', async () => {
    const log = new MemoryActuatorLog();
    const { sources } = sourcesOf(log, [true]);
    const loaders = createActuatorLoaders(sources, operator);
    const ctx = {
      caller: operator,
      sources,
      loaders,
      services: { actuatorRateLimit: new MemoryActuatorRateLimit(), logger: silentLogger },
    } as unknown as DevicesContext;
    const actuators = await Promise.all(relays.map(async (id) => (await loaders.actuator.load(id))!));
    const [first, second] = await commandActuators(ctx, actuators, { on: true });
    expect(first).toMatchObject({ outcome: 'CONFIRMED', previous: { on: true, status: 'CONFIRMED' } });
    expect(second!.outcome).toBe('CONFIRMED');
    expect(second!.previous).toBeUndefined();
  });
});
