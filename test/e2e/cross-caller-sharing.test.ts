import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerPartition, DEVELOPMENT_SECRET, issueApiKey, mintToken, Scope, type Caller } from '#auth';
import type { Platform } from '../../platform/platform.ts';
import { PARKING_TENANT, LIGHTS_TENANT } from '../../simulator/src/scenario.ts';
import { adminToken, tenantScopes, tokenFor } from '../support/auth.ts';
import { graphql, take, wsClient, type Credentials } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

/**
 * Whatever the router shares between callers (upstream subscriptions, persisted documents, the
 * subgraph connections they run on), two callers who must see different things, asking the same
 * thing at the same moment, each get their own answer: over HTTP (POST, GET of a persisted id),
 * server-sent events and graphql-ws, queries and subscriptions.
 */
const GATEWAY = 'pisek-gw002';
const RELAY = `${GATEWAY}.3.output1`;
const LIGHT_A = `${GATEWAY}.1.light0`;
const LIGHT_B = `${GATEWAY}.2.light0`;
const CITY = 'pisek-city';
const partnerA = issueApiKey('partner-a', 'Partner A', 6_000, [Scope.ACTUATORS_WRITE]);
const partnerB = issueApiKey('partner-b', 'Partner B', 6_000, [Scope.ACTUATORS_WRITE]);

const EVENTS = `subscription ($actuatorIds: [ID!]) { actuatorEvents(actuatorIds: $actuatorIds) { kind actuator { id canCommand } } }`;
const GATEWAY_EVENTS = `subscription ($gatewayId: ID) { actuatorEvents(gatewayId: $gatewayId) { actuator { id } } }`;
const CAN_COMMAND = 'query ($id: ID!) { actuator(id: $id) { id canCommand } }';
const ACTUATORS = 'query ($gatewayId: ID) { actuators(gatewayId: $gatewayId) { id } }';
const SENSORS = 'query ($id: ID!) { gateway(id: $id) { id sensors { id } } }';
const GRANT = `mutation ($input: GrantActuatorAccessInput!) { grantActuatorAccess(input: $input) { userErrors { code message } } }`;
const SWITCH = `mutation ($input: SwitchActuatorInput!) { switchActuator(input: $input) { userErrors { code } } }`;
const SET_LEVEL = `mutation ($input: SetLightLevelInput!) { setLightLevel(input: $input) { userErrors { code } } }`;

const documentId = (document: string) => `sha256:${createHash('sha256').update(document).digest('hex')}`;

type Event = { kind: string; actuator: { id: string; canCommand?: boolean } };

describe('identical operations of callers who see different things, at the same moment', () => {
  let platform: Platform;
  let url: string;
  let operator: Credentials;
  let ana: Credentials;
  let bob: Credentials;

  /** A user of the city who may command actuators, by name (grants name users by their `sub`). */
  const cityUser = async (subject: string): Promise<Credentials> => ({
    token: await mintToken({ tenant: CITY, subject, scopes: [...tenantScopes, Scope.ACTUATORS_WRITE], secret: DEVELOPMENT_SECRET }),
  });

  const grant = async (input: Record<string, unknown>) => {
    const granted = await graphql(url, GRANT, { input }, operator);
    expect(granted.errors).toBeUndefined();
    expect(granted.data?.grantActuatorAccess.userErrors).toEqual([]);
  };

  /** The first `count` events of a subscription as server-sent events (a POST of JSON). */
  const sse = async (query: string, variables: Record<string, unknown>, credentials: Credentials, count: number): Promise<Event[]> => {
    const controller = new AbortController();
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        ...(credentials.token ? { authorization: `Bearer ${credentials.token}` } : {}),
        ...(credentials.apiKey ? { 'x-api-key': credentials.apiKey } : {}),
      },
      body: JSON.stringify({ query, variables }),
      signal: controller.signal,
    });
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    try {
      while ((text.match(/^data: \{/gm) ?? []).length < count) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += decoder.decode(chunk.value, { stream: true });
      }
    } finally {
      controller.abort();
    }
    const results = text
      .split('\n')
      .filter((line) => line.startsWith('data: {'))
      .map((line) => JSON.parse(line.slice(6)) as { data?: { actuatorEvents: Event }; errors?: unknown });
    for (const result of results) expect(result.errors).toBeUndefined();
    return results.slice(0, count).map((result) => result.data!.actuatorEvents);
  };

  const ws = async (query: string, variables: Record<string, unknown>, credentials: Credentials, count: number): Promise<Event[]> => {
    const client = wsClient(url, credentials);
    try {
      const results = await take<{ actuatorEvents: Event }>(client, query, count, 20_000, variables);
      for (const result of results) expect(result.errors).toBeUndefined();
      return results.map((result) => result.data!.actuatorEvents);
    } finally {
      await client.dispose();
    }
  };

  /** GET of a persisted document by its id, as a cacheable client request. */
  const persistedGet = async (document: string, variables: Record<string, unknown>, credentials: Credentials) => {
    const target = new URL(url);
    target.searchParams.set('documentId', documentId(document));
    target.searchParams.set('variables', JSON.stringify(variables));
    const response = await fetch(target, {
      headers: {
        accept: 'application/graphql-response+json, application/json',
        ...(credentials.token ? { authorization: `Bearer ${credentials.token}` } : {}),
        ...(credentials.apiKey ? { 'x-api-key': credentials.apiKey } : {}),
      },
    });
    return (await response.json()) as { data?: Record<string, any>; errors?: Array<{ extensions?: { code?: string } }> };
  };

  beforeAll(async () => {
    platform = await startTestPlatform({
      auth: { apiKeys: [partnerA.record, partnerB.record] },
      demoGrants: false,
      hardening: {
        persistedOperations: {
          documents: Object.fromEntries([CAN_COMMAND, ACTUATORS, SENSORS].map((document) => [documentId(document), document])),
        },
      },
    });
    url = platform.routerUrl;
    operator = { token: await adminToken() };
    [ana, bob] = await Promise.all([cityUser('ana'), cityUser('bob')]);
    // The city grants Ana its relay, and not Bob; the lighting customer a light to each partner.
    await grant({ tenant: CITY, grantee: { userId: 'ana' }, select: { actuatorIds: [RELAY] } });
    await grant({ tenant: LIGHTS_TENANT, grantee: { apiKeyId: partnerA.record.id }, select: { actuatorIds: [LIGHT_A] } });
    await grant({ tenant: LIGHTS_TENANT, grantee: { apiKeyId: partnerB.record.id }, select: { actuatorIds: [LIGHT_B] } });
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('partitions a user who may command actuators by who it is; readers and operators still share', () => {
    const user = (subject: string, scopes: Scope[], tenant: string | null = CITY): Caller => ({ kind: 'user', subject, tenant, scopes });
    const commanders = [...tenantScopes, Scope.ACTUATORS_WRITE];
    expect(callerPartition(user('ana', commanders))).not.toBe(callerPartition(user('bob', commanders)));
    expect(callerPartition(user('ana', tenantScopes))).toBe(callerPartition(user('bob', tenantScopes)));
    expect(callerPartition(user('ops-1', [Scope.ADMIN], null))).toBe(callerPartition(user('ops-2', [Scope.ADMIN], null)));
  });

  it("tells two users of one tenant, subscribed to the same actuator's events, each whether it may command it (graphql-ws, SSE)", async () => {
    for (let round = 0; round < 2; round++) {
      const variables = { actuatorIds: [RELAY] };
      const streams = Promise.all([
        ws(EVENTS, variables, ana, 1),
        ws(EVENTS, variables, bob, 1),
        sse(EVENTS, variables, ana, 1),
        sse(EVENTS, variables, bob, 1),
      ]);
      // Everyone listening (one shared execution per distinct answer), then the operator switches the relay.
      await new Promise((resolve) => setTimeout(resolve, 700));
      const switched = await graphql(url, SWITCH, { input: { actuatorId: RELAY, on: round === 0 } }, operator);
      expect(switched.data?.switchActuator.userErrors).toEqual([]);
      const [anaWs, bobWs, anaSse, bobSse] = await streams;
      for (const events of [anaWs, anaSse]) expect(events.map((e) => e.actuator)).toEqual([{ id: RELAY, canCommand: true }]);
      for (const events of [bobWs, bobSse]) expect(events.map((e) => e.actuator)).toEqual([{ id: RELAY, canCommand: false }]);
    }
  });

  it("streams two partners' keys, subscribed to the same gateway's events over SSE, each its own light's only", async () => {
    const variables = { gatewayId: GATEWAY };
    const streams = Promise.all([
      sse(GATEWAY_EVENTS, variables, { apiKey: partnerA.key }, 2),
      sse(GATEWAY_EVENTS, variables, { apiKey: partnerB.key }, 2),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 700));
    // A's light first: were B's stream A's, its first two events would be these.
    for (const light of [LIGHT_A, LIGHT_B]) {
      const set = await graphql(url, SET_LEVEL, { input: { actuatorId: light, level: 40 } }, operator);
      expect(set.data?.setLightLevel.userErrors).toEqual([]);
    }
    const [ofA, ofB] = await streams;
    expect(ofA.map((e) => e.actuator.id)).toEqual([LIGHT_A, LIGHT_A]);
    expect(ofB.map((e) => e.actuator.id)).toEqual([LIGHT_B, LIGHT_B]);
  });

  it('answers concurrent identical queries, posted or by persisted id, for each caller', async () => {
    const [city, parking] = await Promise.all([tokenFor(CITY), tokenFor(PARKING_TENANT)]);
    const ofNode = (ids: string[]) => [...new Set(ids.map((id) => Number(id.split('.')[1])))].sort((a, b) => a - b);
    for (let round = 0; round < 4; round++) {
      const [anaPost, bobPost, anaGet, bobGet, aGet, bPost, cityGet, parkingGet] = await Promise.all([
        graphql(url, CAN_COMMAND, { id: RELAY }, ana),
        graphql(url, CAN_COMMAND, { id: RELAY }, bob),
        persistedGet(CAN_COMMAND, { id: RELAY }, ana),
        persistedGet(CAN_COMMAND, { id: RELAY }, bob),
        persistedGet(ACTUATORS, { gatewayId: GATEWAY }, { apiKey: partnerA.key }),
        graphql(url, ACTUATORS, { gatewayId: GATEWAY }, { apiKey: partnerB.key }),
        persistedGet(SENSORS, { id: 'pisek-gw001' }, { token: city }),
        persistedGet(SENSORS, { id: 'pisek-gw001' }, { token: parking }),
      ]);
      for (const answer of [anaPost, anaGet]) expect(answer.data?.actuator).toEqual({ id: RELAY, canCommand: true });
      for (const answer of [bobPost, bobGet]) expect(answer.data?.actuator).toEqual({ id: RELAY, canCommand: false });
      expect(aGet.data?.actuators).toEqual([{ id: LIGHT_A }]);
      expect(bPost.data?.actuators).toEqual([{ id: LIGHT_B }]);
      // The parking operator's counters are on nodes 2 and 3 of the city's gateway 1; the city's sensors on the others.
      const citySensors = (cityGet.data?.gateway.sensors as Array<{ id: string }>).map((s) => s.id);
      const parkingSensors = (parkingGet.data?.gateway.sensors as Array<{ id: string }>).map((s) => s.id);
      expect(ofNode(parkingSensors)).toEqual([2, 3]);
      expect(ofNode(citySensors).filter((node) => node === 2 || node === 3)).toEqual([]);
      expect(citySensors.length).toBeGreaterThan(0);
    }
  });
});
