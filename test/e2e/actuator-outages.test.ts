import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../platform/platform.ts';
import { adminToken } from '../support/auth.ts';
import { eventually, graphql, wsClient, type GraphQLResponse } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';
import { startMosquitto, type RunningMosquitto } from '../support/services/mosquitto.ts';
import { startRedis, type RedisService } from '../support/services/redis.ts';

/**
 * Actuator commands on a bad day, through the router: the MQTT broker down (the command fails at
 * once, FAILED in the audit, the state untouched; CONFIRMED again once the broker is back), and the
 * Redis holding the registry and the actuator log down (nothing is sent nor audited, an error
 * instead of an answer; events flow again once it is back).
 */
const GATEWAY = 'austin-gw01';
/** The spare relay of room node 21. */
const RELAY = `${GATEWAY}.21.output1`;
/** Relays of other rooms, switched until a new subscription hears one. */
const PROBES = [`${GATEWAY}.31.output1`, `${GATEWAY}.32.output1`, `${GATEWAY}.33.output1`];
/** Long: an answer that comes well before it did not wait for it. */
const COMMAND_TIMEOUT_MS = 20_000;

const SWITCH = /* GraphQL */ `
  mutation Switch($input: SwitchActuatorInput!) {
    switchActuator(input: $input) {
      command {
        id
        outcome
        on
        errorCode
      }
      actuator {
        state {
          on
          status
        }
      }
      userErrors {
        code
        message
        field
      }
    }
  }
`;
const ACTUATOR = /* GraphQL */ `
  query Actuator($id: ID!) {
    actuator(id: $id) {
      state {
        on
        status
        confirmedAt
      }
      audit(last: 1) {
        id
        outcome
        on
        errorCode
        error
      }
    }
  }
`;
const EVENTS = /* GraphQL */ `
  subscription Events($gatewayId: ID) {
    actuatorEvents(gatewayId: $gatewayId) {
      kind
      actuator {
        id
      }
      command {
        id
        outcome
        on
      }
      state {
        on
        status
      }
    }
  }
`;

interface SwitchPayload {
  switchActuator: {
    command: { id: string; outcome: string; on: boolean | null; errorCode: string | null } | null;
    actuator: { state: { on: boolean | null; status: string } } | null;
    userErrors: Array<{ code: string; message: string; field: string[] | null }>;
  };
}
interface ActuatorRead {
  actuator: {
    state: { on: boolean | null; status: string; confirmedAt: string | null };
    audit: Array<{ id: string; outcome: string; on: boolean | null; errorCode: string | null; error: string | null }>;
  };
}
interface ActuatorEvent {
  kind: string;
  actuator: { id: string };
  command: { id: string; outcome: string; on: boolean | null } | null;
  state: { on: boolean | null; status: string } | null;
}

/** An operator's calls to one platform's router. */
function operatorOf(platform: () => Platform, token: () => string) {
  const switchRelay = (actuatorId: string, on: boolean): Promise<GraphQLResponse<SwitchPayload>> =>
    graphql<SwitchPayload>(platform().routerUrl, SWITCH, { input: { actuatorId, on } }, { token: token() });
  const read = async (id: string) => {
    const { data, errors } = await graphql<ActuatorRead>(platform().routerUrl, ACTUATOR, { id }, { token: token() });
    expect(errors).toBeUndefined();
    return data!.actuator;
  };
  return { switchRelay, read };
}

/** How long `work` took, in ms, with what it gave. */
async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

describe('actuator commands while the MQTT broker is down', () => {
  let mosquitto: RunningMosquitto;
  let platform: Platform;
  let token: string;
  const { switchRelay, read } = operatorOf(
    () => platform,
    () => token,
  );

  beforeAll(async () => {
    mosquitto = await startMosquitto();
    platform = await startTestPlatform({
      mqttUrl: mosquitto.url,
      mqttAdmin: mosquitto.admin,
      actuatorCommandTimeoutMs: COMMAND_TIMEOUT_MS,
    });
    token = await adminToken();
  }, 60_000);

  afterAll(async () => {
    await platform?.close();
    await mosquitto?.stop();
  });

  it('fails a command at once as GATEWAY_UNAVAILABLE, audited FAILED, the state not the asked one; CONFIRMED once the broker is back', async () => {
    const daemons = platform.simulator!.iqrf;
    // Before the outage: the relay is switched on, and its gateway's mesh is known.
    const on = await switchRelay(RELAY, true);
    expect(on.data?.switchActuator.command).toMatchObject({ outcome: 'CONFIRMED', on: true });
    expect(daemons.outputStates(GATEWAY, 21)).toEqual([false, true]);
    const received = daemons.commandsReceived(GATEWAY, 21);

    await mosquitto.restart({
      whileStopped: async () => {
        await eventually(async () => !platform.iqrf.connected);
        const { value: off, ms } = await timed(() => switchRelay(RELAY, false));
        // Refused before anything is sent: nothing waited for the command timeout.
        expect(ms).toBeLessThan(10_000);
        expect(off.errors).toBeUndefined();
        expect(off.data!.switchActuator.command).toBeNull();
        expect(off.data!.switchActuator.userErrors).toEqual([
          { code: 'GATEWAY_UNAVAILABLE', message: expect.stringMatching(/MQTT broker is not connected/), field: ['input', 'actuatorId'] },
        ]);

        const actuator = await read(RELAY);
        expect(actuator.audit[0]).toMatchObject({ outcome: 'FAILED', on: false, errorCode: 'GATEWAY_UNAVAILABLE' });
        expect(actuator.state).toMatchObject({ on: true, status: 'CONFIRMED' });
      },
    });
    // Nothing reached the relay.
    expect(daemons.commandsReceived(GATEWAY, 21)).toBe(received);
    expect(daemons.outputStates(GATEWAY, 21)).toEqual([false, true]);

    // The platform and the daemon reconnect: a read of the relay is answered by its node again.
    const back = new Date().toISOString();
    await eventually(async () => {
      const { confirmedAt } = (await read(RELAY)).state;
      return confirmedAt !== null && confirmedAt > back;
    }, 20_000);
    const again = await switchRelay(RELAY, false);
    expect(again.data?.switchActuator.userErrors).toEqual([]);
    expect(again.data?.switchActuator.command).toMatchObject({ outcome: 'CONFIRMED', on: false });
    expect(again.data?.switchActuator.actuator?.state).toMatchObject({ on: false, status: 'CONFIRMED' });
    expect(daemons.outputStates(GATEWAY, 21)).toEqual([false, false]);
    expect((await read(RELAY)).audit[0]).toMatchObject({ id: again.data!.switchActuator.command!.id, outcome: 'CONFIRMED' });
  }, 60_000);
});

describe('actuator commands while Redis (the actuator log) is down', () => {
  let redis: RedisService;
  let platform: Platform;
  let token: string;
  const clients: Client[] = [];
  const { switchRelay, read } = operatorOf(
    () => platform,
    () => token,
  );

  beforeAll(async () => {
    // Kept on disk: the registry and the log are there too, and must come back with Redis.
    redis = await startRedis({ appendonly: true });
    platform = await startTestPlatform({ backends: { redisUrl: redis.url }, actuatorCommandTimeoutMs: COMMAND_TIMEOUT_MS });
    token = await adminToken();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await platform?.close();
    await redis?.stop();
  });

  it('neither sends nor audits a command while Redis is down, answering an error; a subscription opened after it is back hears a new command', async () => {
    const daemons = platform.simulator!.iqrf;
    const on = await switchRelay(RELAY, true);
    expect(on.data?.switchActuator.command).toMatchObject({ outcome: 'CONFIRMED', on: true });
    expect(daemons.outputStates(GATEWAY, 21)).toEqual([false, true]);
    const received = daemons.commandsReceived(GATEWAY, 21);

    let during: GraphQLResponse<SwitchPayload> | undefined;
    await redis.restart({
      whileStopped: async () => {
        during = await switchRelay(RELAY, false);
      },
    });
    // Not CONFIRMED, nor any payload: an error, after the Redis client's reconnect attempts.
    expect(during!.data?.switchActuator ?? null).toBeNull();
    // With REDIS_URL the registry is in the same Redis: the actuator's lookup fails first, and the
    // caller is told that nothing was sent (not a masked unexpected error).
    expect(during!.errors).toHaveLength(1);
    expect(during!.errors![0]!.extensions?.code).toBe('UPSTREAM_ERROR');
    expect(during!.errors![0]!.message).toMatch(/not sent/);
    // Nothing was sent, nor audited: the relay and its trail are as before.
    expect(daemons.commandsReceived(GATEWAY, 21)).toBe(received);
    expect(daemons.outputStates(GATEWAY, 21)).toEqual([false, true]);
    const after = await read(RELAY);
    expect(after.audit[0]).toMatchObject({ id: on.data!.switchActuator.command!.id, outcome: 'CONFIRMED' });
    expect(after.state).toMatchObject({ on: true, status: 'CONFIRMED' });

    const client = wsClient(platform.routerUrl, { token });
    clients.push(client);
    const events: ActuatorEvent[] = [];
    const dispose = client.subscribe<{ actuatorEvents: ActuatorEvent }>(
      { query: EVENTS, variables: { gatewayId: GATEWAY } },
      {
        next: (result) => void (result.data && events.push(result.data.actuatorEvents)),
        error: () => undefined,
        complete: () => undefined,
      },
    );
    let turn = 0;
    await eventually(
      async () => {
        if (events.some((event) => PROBES.includes(event.actuator.id))) return true;
        await switchRelay(PROBES[turn++ % PROBES.length]!, turn % 2 === 1);
        return events.some((event) => PROBES.includes(event.actuator.id));
      },
      20_000,
      300,
    );
    const off = await switchRelay(RELAY, false);
    expect(off.data?.switchActuator.command).toMatchObject({ outcome: 'CONFIRMED', on: false });
    const commandId = off.data!.switchActuator.command!.id;
    const heard = await eventually(async () => {
      const mine = events.filter((event) => event.command?.id === commandId);
      return mine.length >= 2 && mine;
    });
    dispose();
    expect(heard.map((event) => event.kind)).toEqual(['COMMANDED', 'CONFIRMED']);
    expect(heard[1]).toMatchObject({
      actuator: { id: RELAY },
      command: { outcome: 'CONFIRMED', on: false },
      state: { on: false, status: 'CONFIRMED' },
    });
    expect(daemons.outputStates(GATEWAY, 21)).toEqual([false, false]);
  }, 80_000);
});
