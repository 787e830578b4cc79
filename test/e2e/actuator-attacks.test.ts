import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyCaller, DEVELOPMENT_SECRET, issueApiKey, mintToken, Scope, type Caller } from '#auth';
import { nodeTenant, type GatewayRecord } from '#registry';
import type { Platform } from '../../platform/platform.ts';
import { adminToken, subgraphRequest, tenantScopes } from '../support/auth.ts';
import { eventually, graphql, wsClient, type Credentials } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

/**
 * Actuators attacked through the router (and the devices subgraph straight, signed as the router
 * would), by each kind of caller on the shared Pisek gateways: a partner's key granted one street
 * light of the lighting customer, that customer's users with and without a grant, the city that
 * owns the gateway, an operator. What a grantee hears of others' commands, what a revocation does
 * to a live stream, whether a flood of refused attempts can wash a command out of the audit trail,
 * whose trail a node handed to another tenant shows, and whether the trail survives a restart.
 */
const LIGHTS = 'pisek-lights';
const CITY = 'pisek-city';
const partner = issueApiKey('street-works', 'Street works (partner)', 6_000, [Scope.ACTUATORS_WRITE]);

const GRANT = `mutation ($input: GrantActuatorAccessInput!) {
  grantActuatorAccess(input: $input) { grant { id } userErrors { code message } }
}`;
const REVOKE = `mutation ($id: ID!) { revokeActuatorAccess(input: { grantId: $id }) { revokedGrantId userErrors { code } } }`;
const SET_LEVEL = `mutation ($input: SetLightLevelInput!) {
  setLightLevel(input: $input) { command { id outcome requestedBy } userErrors { code message } }
}`;
const SWITCH = `mutation ($input: SwitchActuatorInput!) {
  switchActuator(input: $input) { command { id outcome requestedBy } userErrors { code message } }
}`;
const AUDIT = `query ($id: ID!, $last: Int, $before: ID) {
  actuator(id: $id) { id audit(last: $last, before: $before) { id outcome requestedBy errorCode } }
}`;
const EVENTS = `subscription ($actuatorIds: [ID!], $after: String) {
  actuatorEvents(actuatorIds: $actuatorIds, after: $after) { cursor kind actuator { id } command { id requestedBy outcome } }
}`;

interface Event {
  cursor: string;
  kind: string;
  actuator: { id: string };
  command: { id: string; requestedBy: string; outcome: string } | null;
}
interface AuditEntry {
  id: string;
  outcome: string;
  requestedBy: string;
  errorCode: string | null;
}

/** A token of `tenant` for `subject`, with the tenant's scopes and `actuators:write`. */
const commanderToken = (tenant: string, subject: string) =>
  mintToken({ tenant, subject, scopes: [...tenantScopes, Scope.ACTUATORS_WRITE], secret: DEVELOPMENT_SECRET });

/** Events of one subscription as they come, until disposed. */
function subscribe(client: Client, variables: Record<string, unknown>) {
  const events: Event[] = [];
  const errors: unknown[] = [];
  const dispose = client.subscribe<{ actuatorEvents: Event }>(
    { query: EVENTS, variables },
    {
      next: (result) => (result.data ? events.push(result.data.actuatorEvents) : errors.push(result.errors)),
      error: (error) => errors.push(error),
      complete: () => undefined,
    },
  );
  return { events, errors, dispose };
}

/** The grants cache of a live subscription lives this long (`GRANTS_FRESH_MS` of actuator-access.ts), with slack. */
const grantsFresh = () => new Promise((resolve) => setTimeout(resolve, 1_300));

describe('actuators under attack, on shared gateways', () => {
  let platform: Platform;
  let url: string;
  let operator: Credentials;
  let lightsAdmin: Credentials;
  /** A user of the lighting customer with actuators:write and no grant. */
  let lightsColleague: Credentials;
  let shared: GatewayRecord;
  /** Street lights of pisek-lights on the shared gateway. */
  let lights: string[];
  /** A relay of the city (the gateway's owner) on it. */
  let cityRelay: string;
  const clients: Client[] = [];
  const asPartner: Credentials = { apiKey: partner.key };

  const ask = <T = Record<string, any>>(credentials: Credentials, query: string, variables?: Record<string, unknown>) =>
    graphql<T>(url, query, variables, credentials);
  const setLevel = (credentials: Credentials, actuatorId: string, level: number) =>
    ask(credentials, SET_LEVEL, { input: { actuatorId, level } });
  const audit = async (credentials: Credentials, id: string, last = 100, before?: string): Promise<AuditEntry[]> => {
    const result = await ask<{ actuator: { audit: AuditEntry[] } }>(credentials, AUDIT, { id, last, before });
    expect(result.errors).toBeUndefined();
    return result.data!.actuator.audit;
  };
  const grant = async (grantee: Record<string, string>, actuatorIds: string[]) => {
    const result = await ask(lightsAdmin, GRANT, { input: { grantee, select: { actuatorIds } } });
    expect(result.data?.grantActuatorAccess.userErrors).toEqual([]);
    return result.data!.grantActuatorAccess.grant.id as string;
  };
  const client = (credentials: Credentials) => {
    const made = wsClient(url, credentials);
    clients.push(made);
    return made;
  };
  /** Sets a light's level as the operator until `events` hears of it: the subscription listens from then on. */
  const probeUntilLive = async (events: readonly Event[], light: string) => {
    let level = 0;
    await eventually(
      async () => {
        if (events.length) return true;
        await setLevel(operator, light, (level = (level + 7) % 100));
        return events.length > 0;
      },
      15_000,
      300,
    );
  };

  beforeAll(async () => {
    platform = await startTestPlatform({
      auth: { apiKeys: [partner.record] },
      actuatorCommandLimit: { burst: 30, intervalMs: 600_000 },
      // A gateway is OFFLINE 6.5 s after its last answer; a command waits a minute for its answer.
      heartbeatIntervalMs: 500,
      actuatorCommandTimeoutMs: 60_000,
      demoGrants: false,
    });
    url = platform.routerUrl;
    operator = { token: await adminToken() };
    lightsAdmin = { token: await commanderToken(LIGHTS, 'lights-admin') };
    lightsColleague = { token: await commanderToken(LIGHTS, 'lights-colleague') };
    const gateways = (await platform.registry.list()).sort((a, b) => a.id.localeCompare(b.id));
    const found = gateways.find((g) => Object.keys(g.nodes).some((address) => nodeTenant(g, Number(address)) === LIGHTS));
    if (!found) throw new Error(`the demo scenario has no gateway shared with ${LIGHTS}`);
    shared = found;
    const nodes = Object.entries(shared.nodes);
    lights = nodes
      .filter(([address]) => nodeTenant(shared, Number(address)) === LIGHTS)
      .flatMap(([address, meta]) =>
        Object.keys(meta.actuators ?? {})
          .filter((key) => key.startsWith('light'))
          .map((key) => `${shared.id}.${address}.${key}`),
      );
    const relayNode = nodes.find(([address, meta]) => nodeTenant(shared, Number(address)) === CITY && meta.actuators?.output1);
    if (!relayNode) throw new Error(`gateway ${shared.id} has no relay of ${CITY}`);
    cityRelay = `${shared.id}.${relayNode[0]}.output1`;
    expect(lights.length).toBeGreaterThanOrEqual(3);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await platform?.close();
  });

  it('tells a grantee every event of its light, but not who else commanded it; the tenant sees who', async () => {
    const light = lights[0]!;
    await grant({ apiKeyId: partner.record.id }, [light]);
    const heard = subscribe(client(asPartner), { actuatorIds: [light] });
    const told = subscribe(client(lightsAdmin), { actuatorIds: [light] });
    await probeUntilLive(heard.events, light);
    await probeUntilLive(told.events, light);

    const byOperator = (await setLevel(operator, light, 55)).data?.setLightLevel.command;
    const byPartner = (await setLevel(asPartner, light, 65)).data?.setLightLevel.command;
    expect(byPartner?.requestedBy).toBe(`apiKey:${partner.record.id}`);
    const ofCommand = (events: readonly Event[], id: string) => events.filter((e) => e.command?.id === id);
    await eventually(async () => ofCommand(heard.events, byPartner.id).length >= 2 && ofCommand(told.events, byPartner.id).length >= 2);

    // The partner hears the operator's command (its state matters to it) without its author ...
    expect(ofCommand(heard.events, byOperator.id).map((e) => [e.kind, e.command!.requestedBy])).toEqual([
      ['COMMANDED', 'another caller'],
      ['CONFIRMED', 'another caller'],
    ]);
    // ... and its own by name; the light's tenant hears both authors.
    expect(ofCommand(heard.events, byPartner.id).every((e) => e.command!.requestedBy === `apiKey:${partner.record.id}`)).toBe(true);
    expect(ofCommand(told.events, byOperator.id)[0]!.command!.requestedBy).not.toBe('another caller');
    expect(ofCommand(told.events, byPartner.id)[0]!.command!.requestedBy).toBe(`apiKey:${partner.record.id}`);
    // Its audit trail has its own commands only.
    expect((await audit(asPartner, light)).map((c) => c.id)).toEqual([byPartner.id]);
    heard.dispose();
    told.dispose();
  });

  it("stops a grantee's live stream when its grant is revoked, and resumes it with a new grant", async () => {
    const light = lights[1]!;
    const grantId = await grant({ apiKeyId: partner.record.id }, [light]);
    const heard = subscribe(client(asPartner), { actuatorIds: [light] });
    await probeUntilLive(heard.events, light);

    expect((await ask(lightsAdmin, REVOKE, { id: grantId })).data?.revokeActuatorAccess.userErrors).toEqual([]);
    await grantsFresh();
    const unseen = (await setLevel(operator, light, 11)).data?.setLightLevel.command;
    expect(unseen.outcome).toBe('CONFIRMED');
    await grant({ apiKeyId: partner.record.id }, [light]);
    await grantsFresh();
    const seen = (await setLevel(operator, light, 22)).data?.setLightLevel.command;
    await eventually(async () => heard.events.filter((e) => e.command?.id === seen.id).length >= 2);
    // The stream is ordered: had the command under no grant been given, it would have come first.
    expect(heard.events.some((e) => e.command?.id === unseen.id)).toBe(false);
    expect(heard.errors).toEqual([]);
    heard.dispose();
  });

  it('keeps a command in the trail however many refused attempts follow it; refusals are bounded apart', async () => {
    const light = lights[2]!;
    const confirmed = (await setLevel(operator, light, 30)).data?.setLightLevel.command;
    expect(confirmed.outcome).toBe('CONFIRMED');
    // A user of the tenant with actuators:write and no grant: each attempt is REFUSED and audited.
    for (let i = 0; i < 105; i++) {
      const refused = await setLevel(lightsColleague, light, i % 100);
      expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const page = await audit(lightsAdmin, light, 100);
    expect(page.every((c) => c.outcome === 'REFUSED' && c.requestedBy === 'lights-colleague')).toBe(true);
    const rest = await audit(lightsAdmin, light, 100, page.at(-1)!.id);
    // The 100 newest refusals, then the command sent before them; the 5 oldest refusals are gone.
    expect(rest.map((c) => [c.id, c.outcome])).toEqual([[confirmed.id, 'CONFIRMED']]);
  });

  it('refuses, cheaply and by name, what asks for far more than it costs', async () => {
    const light = lights[0]!;
    const group = `mutation ($input: CommandActuatorsInput!) {
      commandActuators(input: $input) { commands { actuator { id } outcome errorCode } userErrors { code field } }
    }`;
    // 10 000 ids in one group command.
    const many = Array.from(
      { length: 10_000 },
      (_, i) => `${shared.id}.${1 + (i % 239)}.${i < 7648 ? 'light' : 'output'}${Math.floor(i / 239) % 32}`,
    );
    expect(new Set(many).size).toBe(10_000);
    const tooMany = await ask(operator, group, { input: { select: { actuatorIds: many }, level: 10 } });
    expect(tooMany.data?.commandActuators.userErrors).toEqual([{ code: 'BAD_USER_INPUT', field: ['input', 'select', 'actuatorIds'] }]);
    // Level 127 reports a light's power in the Light standard: it is no level to set; nor is -1.
    for (const level of [127, -1])
      expect((await setLevel(operator, light, level)).data?.setLightLevel.userErrors[0].code).toBe('BAD_USER_INPUT');
    // An audit page of a billion, and a page after an id that is none.
    const huge = await ask(operator, AUDIT, { id: light, last: 1_000_000_000 });
    expect(huge.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await audit(operator, light, 5, 'cmd-forged')).toEqual([]);
    // A cursor beyond any position (more than a Redis stream id part holds).
    const forged = subscribe(client(operator), { actuatorIds: [light], after: '99999999999999999999' });
    await eventually(async () => forged.errors.length > 0);
    const [error] = forged.errors as Array<Array<{ extensions: { code: string } }>>;
    expect(error![0]!.extensions.code).toBe('BAD_USER_INPUT');
    forged.dispose();
  });

  it('lets a group command reach no further than single ones: the grant, the tenant', async () => {
    const group = `mutation ($input: CommandActuatorsInput!) {
      commandActuators(input: $input) { commands { actuator { id } outcome errorCode } userErrors { code field } }
    }`;
    // The partner's grants name lights[0] and lights[1]: a whole gateway's selection reaches those only.
    const asKey = (await ask(asPartner, group, { input: { select: { gatewayId: shared.id, kind: 'LIGHT' }, level: 20 } })).data
      ?.commandActuators;
    expect(asKey.userErrors).toEqual([]);
    expect(asKey.commands.map((c: { actuator: { id: string } }) => c.actuator.id).sort()).toEqual([lights[0], lights[1]].sort());
    // Listing the city's relay among them: NOT_FOUND, as one that does not exist; nothing is sent.
    const listed = (await ask(asPartner, group, { input: { select: { actuatorIds: [lights[0], cityRelay] }, on: true } })).data
      ?.commandActuators;
    expect(listed.userErrors).toEqual([{ code: 'NOT_FOUND', field: ['input', 'select', 'actuatorIds'] }]);
    // A user of the lighting customer without a grant: every light of the gateway REFUSED, none of the city's listed.
    const noGrant = (await ask(lightsColleague, group, { input: { select: { gatewayId: shared.id }, level: 20 } })).data?.commandActuators;
    expect(noGrant.commands.length).toBe(lights.length);
    expect(new Set(noGrant.commands.map((c: { outcome: string; errorCode: string }) => `${c.outcome} ${c.errorCode}`))).toEqual(
      new Set(['REFUSED FORBIDDEN']),
    );
  });

  it('answers a command to an OFFLINE gateway at once, GATEWAY_UNAVAILABLE, without waiting for its daemon', async () => {
    const gatewayId = 'austin-gw01';
    const relay = `${gatewayId}.21.output1`;
    const STATUS = `query ($id: ID!) { gateway(id: $id) { status } }`;
    platform.simulator!.iqrf.hangAfter(gatewayId, 0);
    try {
      await eventually(async () => (await ask(operator, STATUS, { id: gatewayId })).data?.gateway?.status === 'OFFLINE', 20_000, 250);
      // With a command timeout of a minute, an answer within this test's time means no daemon was waited for.
      const result = (await ask(operator, SWITCH, { input: { actuatorId: relay, on: true } })).data?.switchActuator;
      expect(result.userErrors).toEqual([expect.objectContaining({ code: 'GATEWAY_UNAVAILABLE' })]);
      const state = await ask(operator, `query ($id: ID!) { actuator(id: $id) { state { status } } }`, { id: relay });
      expect(['CONFIRMED', 'UNKNOWN']).toContain(state.data?.actuator.state.status);
      expect((await audit(operator, relay, 1))[0]).toMatchObject({ outcome: 'FAILED', errorCode: 'GATEWAY_UNAVAILABLE' });
    } finally {
      platform.simulator!.iqrf.hangAfter(gatewayId, undefined);
    }
  }, 30_000);

  it("never gives one caller's result to another with the same idempotency key", async () => {
    const input = { actuatorId: lights[0]!, level: 45, idempotencyKey: `shared-key-${Date.now()}` };
    const first = (await ask(asPartner, SET_LEVEL, { input })).data?.setLightLevel;
    expect(first.command.outcome).toBe('CONFIRMED');
    expect((await ask(asPartner, SET_LEVEL, { input })).data?.setLightLevel.command.id).toBe(first.command.id);
    // The same key and input from a caller without the right: its own answer, FORBIDDEN.
    const other = await ask(lightsColleague, SET_LEVEL, { input });
    expect(other.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // From the operator: a command of its own.
    const operators = (await ask(operator, SET_LEVEL, { input })).data?.setLightLevel;
    expect(operators.command.id).not.toBe(first.command.id);
    expect(operators.command.requestedBy).not.toBe(first.command.requestedBy);
  });

  it('answers Actuator entities on the devices subgraph only to who may see them', async () => {
    const granted = lights[0]!;
    const entities = (caller: Caller, ids: string[]) =>
      subgraphRequest(
        platform.subgraphs.devices.url,
        {
          query: `query ($r: [_Any!]!) { _entities(representations: $r) { ... on Actuator { id canCommand } } }`,
          variables: { r: ids.map((id) => ({ __typename: 'Actuator', id })) },
        },
        caller,
        platform.subgraphSecret,
      );
    const asKey = await entities(apiKeyCaller(partner.record), [granted, lights[2]!, cityRelay]);
    expect(asKey.data?._entities).toEqual([{ id: granted, canCommand: true }, null, null]);
    const lightsUser: Caller = { kind: 'user', subject: 'lights-admin', tenant: LIGHTS, scopes: tenantScopes };
    const asLights = await entities(lightsUser, [granted, cityRelay]);
    expect(asLights.data?._entities).toEqual([{ id: granted, canCommand: false }, null]);
  });

  it("shows a node's new tenant none of the commands of its earlier tenant", async () => {
    const cityUser = { token: await commanderToken(CITY, 'city-operator') };
    const commanded = (await ask(operator, SWITCH, { input: { actuatorId: cityRelay, on: true } })).data?.switchActuator.command;
    expect(commanded.outcome).toBe('CONFIRMED');
    expect((await audit(cityUser, cityRelay)).map((c) => c.id)).toContain(commanded.id);

    const address = Number(cityRelay.split('.')[1]);
    await platform.registry.update(shared.id, (record) => ({
      ...record,
      nodes: { ...record.nodes, [address]: { ...record.nodes[address], tenant: LIGHTS } },
    }));
    // The relay is the lighting customer's now: it sees it, and an empty trail.
    expect(await audit(lightsAdmin, cityRelay)).toEqual([]);
    expect((await ask(cityUser, AUDIT, { id: cityRelay, last: 5 })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await audit(operator, cityRelay)).map((c) => c.id)).toContain(commanded.id);
  });
});

describe('the audit trail across a restart of npm start (registry file, no Redis)', () => {
  let platform: Platform | undefined;
  let dir: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iot-actuator-restart-'));
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await platform?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps who commanded what, and a cursor given before the restart resumes after it', async () => {
    const files = { backends: { registryFile: join(dir, 'registry-demo.json') }, simulatorStateFile: join(dir, 'simulator-demo.json') };
    const relay = 'austin-gw01.21.output1';
    const operator = { token: await adminToken() };
    platform = await startTestPlatform(files);
    const first = wsClient(platform.routerUrl, operator);
    clients.push(first);
    const live = subscribe(first, { actuatorIds: [relay] });
    let on = false;
    await eventually(
      async () => {
        if (live.events.length) return true;
        await graphql(platform!.routerUrl, SWITCH, { input: { actuatorId: relay, on: (on = !on) } }, operator);
        return live.events.length > 0;
      },
      15_000,
      300,
    );
    const command = (await graphql(platform.routerUrl, SWITCH, { input: { actuatorId: relay, on: true } }, operator)).data?.switchActuator
      .command;
    expect(command.outcome).toBe('CONFIRMED');
    const mine = await eventually(async () => {
      const events = live.events.filter((e) => e.command?.id === command.id);
      return events.length >= 2 && events;
    });
    live.dispose();
    await platform.close();
    platform = undefined;

    platform = await startTestPlatform(files);
    const trail = (await graphql(platform.routerUrl, AUDIT, { id: relay, last: 5 }, operator)).data?.actuator.audit as AuditEntry[];
    expect(trail[0]).toMatchObject({ id: command.id, outcome: 'CONFIRMED', requestedBy: command.requestedBy });
    const second = wsClient(platform.routerUrl, operator);
    clients.push(second);
    const resumed = subscribe(second, { actuatorIds: [relay], after: mine[0]!.cursor });
    const replayed = await eventually(async () => resumed.events[0] ?? (resumed.errors.length ? resumed.errors : undefined));
    expect(replayed).toMatchObject({ kind: 'CONFIRMED', cursor: mine[1]!.cursor, command: { id: command.id } });
    resumed.dispose();
  }, 90_000);
});
