import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../platform/platform.ts';
import type { IqrfDaemonSimulator } from '#simulator';
import { adminToken } from '../support/auth.ts';
import { eventually, graphql, wsClient } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

/**
 * Actuators through the router and the simulated daemons: commands confirmed, left UNCONFIRMED,
 * retried, sent to groups; their events live and resumed; their audit trail; and a room's
 * ventilation relay lowering the CO2 its sensor reports.
 */
const GATEWAY = 'austin-gw01';

const switchMutation = /* GraphQL */ `
  mutation Switch($input: SwitchActuatorInput!) {
    switchActuator(input: $input) {
      actuator {
        id
        kind
        name
        room
        state {
          on
          status
          confirmedAt
        }
      }
      command {
        id
        outcome
        on
        durationSeconds
        requestedBy
        finishedAt
        previous {
          on
          status
        }
        errorCode
      }
      userErrors {
        code
        message
        field
      }
    }
  }
`;
const lightMutation = /* GraphQL */ `
  mutation Light($input: SetLightLevelInput!) {
    setLightLevel(input: $input) {
      command {
        id
        outcome
        level
      }
      userErrors {
        code
        message
        field
      }
    }
  }
`;
const groupMutation = /* GraphQL */ `
  mutation Group($input: CommandActuatorsInput!) {
    commandActuators(input: $input) {
      groupId
      commands {
        id
        outcome
        groupId
        level
        previous {
          level
        }
        errorCode
        actuator {
          id
          state {
            level
            status
          }
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
const actuatorQuery = /* GraphQL */ `
  query Actuator($id: ID!) {
    actuator(id: $id) {
      id
      state {
        on
        level
        status
        confirmedAt
      }
      audit(last: 10) {
        id
        outcome
        on
        level
        errorCode
        requestedBy
        previous {
          on
        }
      }
    }
  }
`;
const eventsSubscription = /* GraphQL */ `
  subscription Events($gatewayId: ID, $actuatorIds: [ID!], $after: String) {
    actuatorEvents(gatewayId: $gatewayId, actuatorIds: $actuatorIds, after: $after) {
      cursor
      kind
      actuator {
        id
        name
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

type ActuatorEvent = {
  cursor: string;
  kind: string;
  actuator: { id: string; name: string };
  command: { id: string; outcome: string; on: boolean | null } | null;
  state: { on: boolean | null; status: string } | null;
};

describe('actuators', () => {
  let platform: Platform;
  let daemons: IqrfDaemonSimulator;
  let token: string;
  const clients: Client[] = [];

  const gql = <T = Record<string, any>>(query: string, variables?: Record<string, unknown>) =>
    graphql<T>(platform.routerUrl, query, variables, { token });
  const switchActuator = async (input: Record<string, unknown>) => (await gql(switchMutation, { input })).data?.switchActuator;

  beforeAll(async () => {
    platform = await startTestPlatform();
    daemons = platform.simulator!.iqrf;
    token = await adminToken();
  }, 60_000);

  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await platform?.close();
  });

  it("lists a gateway's actuators as its daemon enumerated them, named from the registry", async () => {
    const { data, errors } = await gql(
      `query { gateway(id: "${GATEWAY}") { actuators { id kind name room } } actuators(gatewayId: "${GATEWAY}", kind: BINARY_OUTPUT) { id } }`,
    );
    expect(errors).toBeUndefined();
    const actuators = data!.gateway.actuators as Array<{ id: string; kind: string; name: string; room: string }>;
    expect(actuators).toHaveLength(40);
    expect(actuators).toContainEqual({ id: `${GATEWAY}.21.output0`, kind: 'BINARY_OUTPUT', name: 'ventilation', room: '301' });
    expect(data!.actuators).toHaveLength(40);
  });

  it('switches a relay: CONFIRMED with the state before it from the daemon, and the state read back', async () => {
    const id = `${GATEWAY}.21.output1`;
    const on = await switchActuator({ actuatorId: id, on: true });
    expect(on.userErrors).toEqual([]);
    expect(on.command).toMatchObject({ outcome: 'CONFIRMED', on: true, previous: { on: false, status: 'CONFIRMED' } });
    expect(on.actuator.state).toMatchObject({ on: true, status: 'CONFIRMED' });
    expect(daemons.outputStates(GATEWAY, 21)).toEqual([false, true]);

    const read = await gql(actuatorQuery, { id });
    expect(read.data!.actuator.state).toMatchObject({ on: true, status: 'CONFIRMED' });

    const off = await switchActuator({ actuatorId: id, on: false });
    expect(off.command).toMatchObject({ outcome: 'CONFIRMED', on: false, previous: { on: true } });
    expect(daemons.outputStates(GATEWAY, 21)).toEqual([false, false]);
  });

  it('leaves a command to a silent node UNCONFIRMED, the state the last confirmed one, never the asked one', async () => {
    const id = `${GATEWAY}.22.output1`;
    expect((await gql(actuatorQuery, { id })).data!.actuator.state).toMatchObject({ on: false, status: 'CONFIRMED' });
    daemons.setNodeAnswers(GATEWAY, 22, false);
    try {
      const result = await switchActuator({ actuatorId: id, on: true });
      expect(result.userErrors).toEqual([]);
      expect(result.command).toMatchObject({ outcome: 'UNCONFIRMED', previous: null });
      expect(result.actuator.state).toMatchObject({ on: false, status: 'UNCONFIRMED' });
      // A read cannot confirm anything while the node is silent: the state stays UNCONFIRMED.
      expect((await gql(actuatorQuery, { id })).data!.actuator.state).toMatchObject({ on: false, status: 'UNCONFIRMED' });
    } finally {
      daemons.setNodeAnswers(GATEWAY, 22, true);
    }
    expect(daemons.outputStates(GATEWAY, 22)).toEqual([false, false]);
  });

  it('leaves a command whose answer was lost UNCONFIRMED, until a read finds it carried out (STATE_CHANGED)', async () => {
    const id = `${GATEWAY}.23.output1`;
    expect((await gql(actuatorQuery, { id })).data!.actuator.state).toMatchObject({ on: false, status: 'CONFIRMED' });
    const client = track(wsClient(platform.routerUrl, { token }));
    const live = subscribe(client, { gatewayId: GATEWAY });
    await probeUntilLive(live.events, [`${GATEWAY}.31.output1`, `${GATEWAY}.32.output1`, `${GATEWAY}.33.output1`]);

    daemons.loseCommandAnswers(GATEWAY, 23, 1);
    const result = await switchActuator({ actuatorId: id, on: true });
    expect(result.command.outcome).toBe('UNCONFIRMED');
    expect(result.actuator.state).toMatchObject({ on: false, status: 'UNCONFIRMED' });
    // The relay did switch: the daemon lost only the answer.
    expect(daemons.outputStates(GATEWAY, 23)).toEqual([false, true]);
    expect((await gql(actuatorQuery, { id })).data!.actuator.state).toMatchObject({ on: true, status: 'CONFIRMED' });

    const events = await eventually(async () => {
      const mine = live.events.filter((e) => e.actuator.id === id);
      return mine.length >= 3 && mine;
    });
    live.dispose();
    expect(events.map((e) => e.kind)).toEqual(['COMMANDED', 'UNCONFIRMED', 'STATE_CHANGED']);
    expect(events[1]!.state).toEqual({ on: false, status: 'UNCONFIRMED' });
    expect(events[2]!.state).toEqual({ on: true, status: 'CONFIRMED' });
    expect(events[2]!.command).toBeNull();
  });

  it('runs a retried command once: the same key gives the same command, with one daemon request', async () => {
    const id = `${GATEWAY}.26.output1`;
    const before = daemons.commandsReceived(GATEWAY, 26);
    const input = { actuatorId: id, on: true, durationSeconds: 120, idempotencyKey: `retry-${Date.now()}` };
    const first = await switchActuator(input);
    const second = await switchActuator(input);
    expect(first.command.outcome).toBe('CONFIRMED');
    expect(first.command.durationSeconds).toBe(120);
    expect(second.command.id).toBe(first.command.id);
    expect(daemons.commandsReceived(GATEWAY, 26)).toBe(before + 1);
    const reused = await switchActuator({ ...input, on: false, durationSeconds: null });
    expect(reused.userErrors[0].code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('refuses bad input before sending anything, and audits a command of the wrong kind as REFUSED', async () => {
    const id = `${GATEWAY}.27.output1`;
    const before = daemons.commandsReceived(GATEWAY, 27);
    expect((await switchActuator({ actuatorId: id, on: true, durationSeconds: 200 })).userErrors[0]).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: ['input', 'durationSeconds'],
    });
    expect((await switchActuator({ actuatorId: `${GATEWAY}.27.output7`, on: true })).userErrors[0].code).toBe('NOT_FOUND');
    expect((await switchActuator({ actuatorId: 'not an id', on: true })).userErrors[0].code).toBe('NOT_FOUND');
    const wrongKind = (await gql(lightMutation, { input: { actuatorId: id, level: 50 } })).data!.setLightLevel;
    expect(wrongKind.userErrors[0]).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect((await gql(lightMutation, { input: { actuatorId: id, level: 101 } })).data!.setLightLevel.userErrors[0].field).toEqual([
      'input',
      'level',
    ]);
    expect(daemons.commandsReceived(GATEWAY, 27)).toBe(before);

    await switchActuator({ actuatorId: id, on: true });
    const audit = (await gql(actuatorQuery, { id })).data!.actuator.audit as Array<Record<string, unknown>>;
    expect(audit.map((c) => c.outcome)).toEqual(['CONFIRMED', 'REFUSED']);
    expect(audit[0]).toMatchObject({ on: true, previous: { on: false }, requestedBy: expect.any(String) });
    expect(audit[1]).toMatchObject({ level: 50, errorCode: 'BAD_USER_INPUT' });
  });

  it("commands a street's lights as a group, one request per node, reporting each light's outcome", async () => {
    const gatewayId = 'pisek-gw002';
    const [sent1, sent2] = [daemons.commandsReceived(gatewayId, 1), daemons.commandsReceived(gatewayId, 2)];
    daemons.setNodeAnswers(gatewayId, 2, false);
    let group;
    try {
      group = (await gql(groupMutation, { input: { select: { gatewayId, kind: 'LIGHT' }, level: 40 } })).data!.commandActuators;
    } finally {
      daemons.setNodeAnswers(gatewayId, 2, true);
    }
    expect(group.userErrors).toEqual([]);
    const outcomes = Object.fromEntries(
      (group.commands as Array<{ actuator: { id: string }; outcome: string }>).map((c) => [c.actuator.id, c.outcome]),
    );
    expect(outcomes).toEqual({
      [`${gatewayId}.1.light0`]: 'CONFIRMED',
      [`${gatewayId}.1.light1`]: 'CONFIRMED',
      [`${gatewayId}.2.light0`]: 'UNCONFIRMED',
      [`${gatewayId}.2.light1`]: 'UNCONFIRMED',
    });
    for (const command of group.commands) expect(command.groupId).toBe(group.groupId);
    expect(group.commands[0]).toMatchObject({ previous: { level: 0 }, actuator: { state: { level: 40, status: 'CONFIRMED' } } });
    expect(daemons.lightPowers(gatewayId, 1)).toEqual([40, 40]);
    expect(daemons.commandsReceived(gatewayId, 1)).toBe(sent1 + 1);
    // The silent node heard nothing: its lights are UNCONFIRMED, not assumed.
    expect(daemons.commandsReceived(gatewayId, 2)).toBe(sent2);
    expect(daemons.lightPowers(gatewayId, 2)).toEqual([0, 0]);

    // Listed ids keep their kinds: a relay among lights is REFUSED, the rest carried out.
    const mixed = (
      await gql(groupMutation, { input: { select: { actuatorIds: [`${gatewayId}.1.light0`, `${gatewayId}.3.output0`] }, level: 10 } })
    ).data!.commandActuators;
    expect(mixed.commands.map((c: { outcome: string; errorCode: string | null }) => [c.outcome, c.errorCode])).toEqual([
      ['CONFIRMED', null],
      ['REFUSED', 'BAD_USER_INPUT'],
    ]);
    const nothing = (await gql(groupMutation, { input: { select: { gatewayId, room: 'nowhere' }, level: 10 } })).data!.commandActuators;
    expect(nothing.userErrors[0].code).toBe('BAD_USER_INPUT');
    const noLights = (await gql(groupMutation, { input: { select: { gatewayId, kind: 'BINARY_OUTPUT' }, level: 10 } })).data!
      .commandActuators;
    expect(noLights.userErrors[0].code).toBe('BAD_USER_INPUT');
  });

  it('streams COMMANDED and CONFIRMED live, and resumes after a disconnect from the last cursor, none missed or twice', async () => {
    const id = `${GATEWAY}.25.output1`;
    const first = track(wsClient(platform.routerUrl, { token }));
    const live = subscribe(first, { gatewayId: GATEWAY });
    await probeUntilLive(live.events, [`${GATEWAY}.28.output1`, `${GATEWAY}.29.output1`, `${GATEWAY}.30.output1`]);
    const on = await switchActuator({ actuatorId: id, on: true });
    const mine = await eventually(async () => {
      const events = live.events.filter((e) => e.actuator.id === id);
      return events.length >= 2 && events;
    });
    expect(mine.map((e) => [e.kind, e.command?.id])).toEqual([
      ['COMMANDED', on.command.id],
      ['CONFIRMED', on.command.id],
    ]);
    expect(mine[0]!.command!.outcome).toBe('PENDING');
    expect(mine[1]!.state).toEqual({ on: true, status: 'CONFIRMED' });
    expect(mine[1]!.actuator.name).toBe('relay 2');
    live.dispose();
    await first.dispose();

    // Missed while away, then live after the resume.
    const missed = await switchActuator({ actuatorId: id, on: false });
    const second = track(wsClient(platform.routerUrl, { token }));
    const resumed = subscribe(second, { actuatorIds: [id], after: mine[1]!.cursor });
    await eventually(async () => resumed.events.length >= 2);
    const after = await switchActuator({ actuatorId: id, on: true });
    await eventually(async () => resumed.events.length >= 4);
    expect(resumed.events.map((e) => [e.kind, e.command?.id])).toEqual([
      ['COMMANDED', missed.command.id],
      ['CONFIRMED', missed.command.id],
      ['COMMANDED', after.command.id],
      ['CONFIRMED', after.command.id],
    ]);
    expect(new Set(resumed.events.map((e) => e.cursor)).size).toBe(4);
    resumed.dispose();
  });

  it('refuses a cursor older than the events kept (CURSOR_EXPIRED) and one that is not a cursor', async () => {
    const client = track(wsClient(platform.routerUrl, { token }));
    const expired = await subscriptionError(client, { gatewayId: GATEWAY, after: '0' });
    expect(expired).toMatchObject({ extensions: { code: 'CURSOR_EXPIRED' } });
    const malformed = await subscriptionError(client, { gatewayId: GATEWAY, after: 'yesterday' });
    expect(malformed).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    const hidden = await subscriptionError(client, { actuatorIds: ['nowhere-gw.1.output0'] });
    expect(hidden).toMatchObject({ extensions: { code: 'NOT_FOUND' } });
  });

  it("lowers a room's CO2 in its readings once its ventilation runs", async () => {
    const sensorId = `${GATEWAY}.24.2`;
    const id = `${GATEWAY}.24.output0`;
    // The room's live CO2 readings, through the router as a dashboard gets them.
    const values: number[] = [];
    const client = track(wsClient(platform.routerUrl, { token }));
    const dispose = client.subscribe<{ readings: { value: number } }>(
      { query: `subscription { readings(sensorIds: ["${sensorId}"]) { value } }` },
      { next: (result) => result.data && values.push(result.data.readings.value), error: () => undefined, complete: () => undefined },
    );
    try {
      // Mid-morning in the simulated rooms (occupied, CO2 high), whatever the time of this run.
      const now = new Date();
      const morning = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 10, 30);
      daemons.advanceClock((((morning - now.getTime()) % 86_400_000) + 86_400_000) % 86_400_000);
      const stale = await eventually(async () => values.find((value) => value > 1_000));
      const on = await switchActuator({ actuatorId: id, on: true });
      expect(on.command.outcome).toBe('CONFIRMED');
      const before = values.length;
      // A quarter of an hour of airing, in the simulated clock.
      daemons.advanceClock(15 * 60_000);
      const aired = await eventually(async () => values.slice(before).find((value) => value < stale - 300));
      expect(aired).toBeLessThan(stale - 300);
      const latest = await gql(`query { sensor(id: "${sensorId}") { latest { value } } }`);
      expect(latest.data!.sensor.latest.value).toBeLessThan(stale - 300);
    } finally {
      dispose();
    }
  });

  function track(client: Client): Client {
    clients.push(client);
    return client;
  }

  /** Events of one subscription as they come, until disposed. */
  function subscribe(client: Client, variables: Record<string, unknown>) {
    const events: ActuatorEvent[] = [];
    const errors: unknown[] = [];
    const dispose = client.subscribe<{ actuatorEvents: ActuatorEvent }>(
      { query: eventsSubscription, variables },
      {
        next: (result) => (result.data ? events.push(result.data.actuatorEvents) : errors.push(result.errors)),
        error: (error) => errors.push(error),
        complete: () => undefined,
      },
    );
    return { events, errors, dispose };
  }

  /** Switches probe relays until one of their events arrives: the subscription is listening from then on. */
  async function probeUntilLive(events: readonly ActuatorEvent[], probes: string[]): Promise<void> {
    let turn = 0;
    await eventually(
      async () => {
        if (events.some((e) => probes.includes(e.actuator.id))) return true;
        await switchActuator({ actuatorId: probes[turn++ % probes.length], on: turn % 2 === 1 });
        return events.some((e) => probes.includes(e.actuator.id));
      },
      15_000,
      300,
    );
  }

  async function subscriptionError(client: Client, variables: Record<string, unknown>): Promise<unknown> {
    const subscription = subscribe(client, variables);
    try {
      await eventually(async () => subscription.errors.length > 0);
      const [error] = subscription.errors;
      return Array.isArray(error) ? error[0] : error;
    } finally {
      subscription.dispose();
    }
  }
});
