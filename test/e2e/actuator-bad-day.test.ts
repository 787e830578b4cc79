import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actuatorLogFileOf } from '#registry';
import type { Platform } from '../../platform/platform.ts';
import { adminToken } from '../support/auth.ts';
import { eventually, graphql, wsClient } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

/**
 * The platform crashes while a command waits for its gateway's answer: the disk keeps the command
 * PENDING. The next start finishes it UNCONFIRMED (the API restarted before the answer came), the
 * actuator's state marked UNCONFIRMED with its last confirmed value, and streams that event.
 */
const GATEWAY = 'austin-gw01';
const RELAY = `${GATEWAY}.21.output1`;
const SWITCH = `mutation ($input: SwitchActuatorInput!) {
  switchActuator(input: $input) { command { id outcome error } userErrors { code message } }
}`;
const AUDIT = `query ($id: ID!) { actuator(id: $id) { audit(last: 5) { id outcome error finishedAt on } } }`;
const EVENTS = `subscription ($actuatorIds: [ID!], $after: String) {
  actuatorEvents(actuatorIds: $actuatorIds, after: $after) { cursor kind command { id outcome error } state { on status } }
}`;

interface Event {
  cursor: string;
  kind: string;
  command: { id: string; outcome: string; error: string | null } | null;
  state: { on: boolean | null; status: string } | null;
}

describe('a restart while an actuator command is in flight (registry file, no Redis)', () => {
  let platform: Platform | undefined;
  let dir: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iot-actuator-bad-day-'));
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await platform?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('finishes the command left PENDING as UNCONFIRMED at the next start, saying why, the state not assumed, the event streamed', async () => {
    const registryFile = join(dir, 'registry-demo.json');
    const files = { backends: { registryFile }, simulatorStateFile: join(dir, 'simulator-demo.json') };
    const logFile = actuatorLogFileOf(registryFile);
    const operator = { token: await adminToken() };
    platform = await startTestPlatform({ ...files, actuatorCommandTimeoutMs: 4_000 });
    const on = await graphql(platform.routerUrl, SWITCH, { input: { actuatorId: RELAY, on: true } }, operator);
    expect(on.data?.switchActuator.command.outcome).toBe('CONFIRMED');

    // The daemon stops answering; a command to switch the relay off waits for its answer.
    platform.simulator!.iqrf.hangAfter(GATEWAY, 0);
    const off = graphql(platform.routerUrl, SWITCH, { input: { actuatorId: RELAY, on: false } }, operator);
    const pending = await eventually(async () => {
      const audit = (await graphql(platform!.routerUrl, AUDIT, { id: RELAY }, operator)).data?.actuator.audit as Array<{
        id: string;
        outcome: string;
      }>;
      return audit.find((command) => command.outcome === 'PENDING');
    });
    // What the disk holds at that moment is what a crash (kill -9, power cut) leaves.
    const atCrash = await readFile(logFile, 'utf8');
    const commanded = atCrash
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { t: string; p?: string; e?: { kind: string; command?: { id: string } } })
      .find((line) => line.t === 'event' && line.e?.kind === 'COMMANDED' && line.e.command?.id === pending.id);
    expect(commanded?.p).toBeDefined();
    await off;
    await platform.close();
    platform = undefined;
    await writeFile(logFile, atCrash);

    // The next start: the command is older than the timeout, so nobody waits for its answer any more.
    platform = await startTestPlatform({ ...files, actuatorCommandTimeoutMs: 2_000 });
    const trail = (await graphql(platform.routerUrl, AUDIT, { id: RELAY }, operator)).data?.actuator.audit as Array<
      Record<string, unknown>
    >;
    expect(trail[0]).toMatchObject({ id: pending.id, outcome: 'UNCONFIRMED', on: false });
    expect(trail[0]!.error).toMatch(/restarted/);
    expect(trail[0]!.finishedAt).toBeTruthy();

    const client = wsClient(platform.routerUrl, operator);
    clients.push(client);
    const events: Event[] = [];
    const dispose = client.subscribe<{ actuatorEvents: Event }>(
      { query: EVENTS, variables: { actuatorIds: [RELAY], after: commanded!.p } },
      {
        next: (result) => void (result.data && events.push(result.data.actuatorEvents)),
        error: () => undefined,
        complete: () => undefined,
      },
    );
    const finished = await eventually(async () => events[0]);
    dispose();
    // The relay's last confirmed state (on), marked UNCONFIRMED: never the `off` that was asked.
    expect(finished).toMatchObject({
      kind: 'UNCONFIRMED',
      command: { id: pending.id, outcome: 'UNCONFIRMED' },
      state: { on: true, status: 'UNCONFIRMED' },
    });
  }, 120_000);
});
