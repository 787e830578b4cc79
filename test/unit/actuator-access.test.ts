import { buildSubgraphSchema } from '@apollo/subgraph';
import { execute, GraphQLError, parse } from 'graphql';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApiKeyError, apiKeyCaller, issueApiKey, parseApiKeys, Scope, type Caller } from '#auth';
import { silentLogger } from '#log';
import {
  FileActuatorGrantStore,
  MemoryIdempotencyStore,
  type ActuatorGrantStore,
  type ActuatorInfo,
  type GatewayRecord,
  type Grantee,
} from '#registry';
import {
  createDevicesContext,
  type DevicesContext,
  type DevicesServices,
  type DevicesSources,
} from '../../subgraphs/devices/src/context.ts';
import { resolvers, typeDefs } from '../../subgraphs/devices/src/schema.ts';
import {
  canSeeActuator,
  commandRefusal,
  commandSubject,
  grantsOf,
  unseenCommandRefusal,
} from '../../subgraphs/devices/src/sources/actuator-access.ts';

const user = (tenant: string, scopes: Scope[], subject = `${tenant}-developer`): Caller => ({ kind: 'user', subject, tenant, scopes });
const partnerKey: Caller = { kind: 'apiKey', subject: 'street-works', tenant: null, scopes: [Scope.OPENDATA_READ, Scope.ACTUATORS_WRITE] };
const admin: Caller = { kind: 'user', subject: 'operator', tenant: null, scopes: [Scope.ADMIN] };
const anonymous: Caller = { kind: 'anonymous', subject: 'anonymous', tenant: null, scopes: [Scope.OPENDATA_READ] };
const tenantScopes = [Scope.DEVICES_READ, Scope.DEVICES_WRITE, Scope.ACTUATORS_WRITE, Scope.TELEMETRY_READ];

const actuator = (id: string, tenant: string, kind: ActuatorInfo['kind'] = 'LIGHT'): ActuatorInfo => {
  const [gatewayId, address, key] = id.split('.') as [string, string, string];
  return { id, gatewayId, tenant, address: Number(address), kind, index: Number(key.replace(/\D/g, '')), name: id };
};
const cityRelay = actuator('pisek-gw002.20.output0', 'pisek-city', 'BINARY_OUTPUT');
const streetLight = actuator('pisek-gw002.4.light0', 'pisek-lights');
const otherStreetLight = actuator('pisek-gw003.4.light0', 'pisek-lights');

/** A gateway of pisek-city shared with pisek-lights (node 4), and one of another city. */
const gateways: GatewayRecord[] = [
  {
    id: 'pisek-gw002',
    name: 'Pisek 2',
    tenant: 'pisek-city',
    arch: 'ARM64',
    status: 'ONLINE',
    location: { lat: 49.3, lon: 14.1 },
    registeredAt: '2026-01-01T00:00:00.000Z',
    nodes: { 4: { name: 'router-1', tenant: 'pisek-lights' }, 20: { name: 'room', room: 'office' } },
  },
  {
    id: 'brno-gw001',
    name: 'Brno 1',
    tenant: 'brno-city',
    arch: 'ARM64',
    status: 'ONLINE',
    location: { lat: 49.2, lon: 16.6 },
    registeredAt: '2026-01-01T00:00:00.000Z',
    nodes: { 3: { name: 'relay' } },
  },
];

let grants: ActuatorGrantStore;
let reads: number;

beforeEach(async () => {
  const store = await FileActuatorGrantStore.open();
  reads = 0;
  // Counts reads by grantee: the access rules read a caller's grants once per request.
  grants = Object.assign(Object.create(store) as ActuatorGrantStore, {
    listByGrantee: (grantee: Grantee) => {
      reads++;
      return store.listByGrantee(grantee);
    },
  });
});

const sources = () =>
  ({
    actuatorGrants: grants,
    registry: { getMany: async (ids: readonly string[]) => ids.map((id) => gateways.find((g) => g.id === id)) },
  }) as unknown as DevicesSources;
const services = () =>
  ({ logger: silentLogger, exposeInternalErrors: true, idempotency: new MemoryIdempotencyStore() }) as unknown as DevicesServices;
const contextOf = (caller: Caller): DevicesContext => createDevicesContext(sources(), services(), caller);
const give = (tenant: string, grantee: Grantee, select: { actuatorIds?: string[]; gatewayId?: string; kind?: 'LIGHT' | 'BINARY_OUTPUT' }) =>
  grants.grant({ tenant, grantee, grantedBy: `${tenant}-admin`, ...select });

describe('API keys beyond open data', () => {
  it('carry actuators:write and nothing that reads a tenant', () => {
    const { record } = issueApiKey('street-works', 'Street works', 60, [Scope.ACTUATORS_WRITE]);
    expect(apiKeyCaller(record)).toMatchObject({ kind: 'apiKey', subject: 'street-works', tenant: null });
    expect([...apiKeyCaller(record).scopes].sort()).toEqual([Scope.ACTUATORS_WRITE, Scope.OPENDATA_READ]);
    expect(() => issueApiKey('street-works', 'Street works', 60, [Scope.TELEMETRY_READ])).toThrow(/telemetry:read/);
    // A record made by hand with more is cut back to what keys may carry.
    expect(apiKeyCaller({ ...record, scopes: [Scope.DEVICES_READ, Scope.ACTUATORS_WRITE] }).scopes).not.toContain(Scope.DEVICES_READ);
  });

  it('API_KEYS refuses other scopes, naming the entry', () => {
    const sha256 = 'a'.repeat(64);
    const ok = { id: 'ok-key', name: 'ok', sha256, requestsPerMinute: 60 };
    expect(parseApiKeys(JSON.stringify([ok, { ...ok, id: 'writer', scopes: ['actuators:write'] }]))[1]!.scopes).toEqual([
      'actuators:write',
    ]);
    expect(parseApiKeys(JSON.stringify([ok]))[0]!.scopes).toBeUndefined();
    expect(() => parseApiKeys(JSON.stringify([ok, { ...ok, id: 'greedy', scopes: ['devices:read'] }]))).toThrow(
      /API key #2 \("greedy"\).*"devices:read"/,
    );
    expect(() => parseApiKeys(JSON.stringify([{ ...ok, scopes: 'actuators:write' }]))).toThrow(ApiKeyError);
  });
});

describe('who sees and commands an actuator', () => {
  it('an operator sees and commands every actuator, without a grant', async () => {
    const ctx = contextOf(admin);
    expect(await canSeeActuator(ctx, streetLight)).toBe(true);
    expect(await commandRefusal(ctx, cityRelay)).toBeUndefined();
    expect(commandSubject(admin)).toBe('operator');
  });

  it("a tenant's callers see its actuators only, and command none without a grant even with actuators:write", async () => {
    const ctx = contextOf(user('pisek-city', tenantScopes));
    expect(await canSeeActuator(ctx, cityRelay)).toBe(true);
    expect(await canSeeActuator(ctx, streetLight)).toBe(false);
    expect(await commandRefusal(ctx, cityRelay)).toEqual({
      code: 'FORBIDDEN',
      message: expect.stringContaining('"pisek-gw002.20.output0"'),
    });
  });

  it('a user granted by its tenant commands what the grant selects; the same subject of another tenant does not', async () => {
    await give('pisek-city', { kind: 'USER', id: 'pisek-city-developer' }, { gatewayId: 'pisek-gw002', kind: 'BINARY_OUTPUT' });
    expect(await commandRefusal(contextOf(user('pisek-city', tenantScopes)), cityRelay)).toBeUndefined();
    expect(await commandRefusal(contextOf(user('brno-city', tenantScopes, 'pisek-city-developer')), cityRelay)).toMatchObject({
      code: 'FORBIDDEN',
    });
    // Without actuators:write a grant is not enough, and the refusal says which scope.
    const refusal = await commandRefusal(contextOf(user('pisek-city', [Scope.DEVICES_READ])), cityRelay);
    expect(refusal?.message).toContain('actuators:write');
    expect(refusal?.message).toContain(cityRelay.id);
  });

  it('a partner key sees and commands exactly the actuators granted to it, of the granting tenant', async () => {
    await give('pisek-lights', { kind: 'API_KEY', id: 'street-works' }, { actuatorIds: [streetLight.id] });
    const ctx = contextOf(partnerKey);
    expect(await canSeeActuator(ctx, streetLight)).toBe(true);
    expect(await commandRefusal(ctx, streetLight)).toBeUndefined();
    expect(await canSeeActuator(ctx, otherStreetLight)).toBe(false);
    expect(await commandRefusal(ctx, otherStreetLight)).toEqual({
      code: 'FORBIDDEN',
      message: expect.stringContaining(otherStreetLight.id),
    });
    expect(await canSeeActuator(ctx, cityRelay)).toBe(false);
    // The node went back to the gateway's owner: pisek-lights' grant no longer covers it.
    expect(await commandRefusal(ctx, { ...streetLight, tenant: 'pisek-city' })).toMatchObject({ code: 'FORBIDDEN' });
    expect(commandSubject(partnerKey)).toBe('apiKey:street-works');
    // A token whose sub looks like a key's is never taken for that key.
    const lookalike = { kind: 'user' as const, subject: 'apiKey:street-works', tenant: 'pisek-lights', scopes: [] };
    expect(commandSubject(lookalike)).toBe('user:apiKey:street-works');
    expect(commandSubject({ ...lookalike, subject: 'user:apiKey:street-works' })).toBe('user:user:apiKey:street-works');
  });

  it("reads the caller's grants once per request, and a revocation holds from the next request", async () => {
    const grant = await give('pisek-lights', { kind: 'API_KEY', id: 'street-works' }, { gatewayId: 'pisek-gw002' });
    const first = contextOf(partnerKey);
    expect(await commandRefusal(first, streetLight)).toBeUndefined();
    expect(await canSeeActuator(first, streetLight)).toBe(true);
    expect(await grantsOf(first)).toHaveLength(1);
    expect(reads).toBe(1);
    await grants.revoke(grant.id);
    expect(await commandRefusal(contextOf(partnerKey), streetLight)).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('a command to an actuator the caller does not see is FORBIDDEN for a commander, whether it exists or not', async () => {
    const partner = contextOf(partnerKey);
    for (const id of [otherStreetLight.id, 'brno-gw001.3.output0', 'nowhere-gw.9.light0'])
      expect(await unseenCommandRefusal(partner, id)).toEqual({ code: 'FORBIDDEN', message: expect.stringContaining(`"${id}"`) });
    const cityUser = contextOf(user('pisek-city', tenantScopes));
    // Its own node: the actuator does not exist (NOT_FOUND stands); another tenant's node: FORBIDDEN.
    expect(await unseenCommandRefusal(cityUser, 'pisek-gw002.20.output7')).toBeUndefined();
    expect(await unseenCommandRefusal(cityUser, streetLight.id)).toMatchObject({ code: 'FORBIDDEN' });
    expect(await unseenCommandRefusal(contextOf(user('pisek-city', [Scope.DEVICES_READ])), streetLight.id)).toBeUndefined();
    expect(await unseenCommandRefusal(partner, 'not-an-id')).toBeUndefined();
  });

  it('anonymous callers are UNAUTHENTICATED', async () => {
    const ctx = contextOf(anonymous);
    expect(await canSeeActuator(ctx, streetLight)).toBe(false);
    const refused = await commandRefusal(ctx, streetLight).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(GraphQLError);
    expect((refused as GraphQLError).extensions.code).toBe('UNAUTHENTICATED');
  });
});

describe('grantActuatorAccess, revokeActuatorAccess, actuatorGrants', () => {
  const schema = buildSubgraphSchema({ typeDefs, resolvers });
  const run = async (caller: Caller, query: string, variables: Record<string, unknown> = {}) => {
    const result = await execute({ schema, document: parse(query), variableValues: variables, contextValue: contextOf(caller) });
    return result as { data?: Record<string, any> | null; errors?: readonly GraphQLError[] };
  };
  const GRANT = `mutation ($input: GrantActuatorAccessInput!) {
    grantActuatorAccess(input: $input) {
      grant { id tenant grantee { kind id } actuatorIds gatewayId room kind grantedBy grantedAt }
      userErrors { code message field }
    }
  }`;
  const REVOKE = `mutation ($id: ID!) { revokeActuatorAccess(input: { grantId: $id }) { revokedGrantId userErrors { code field } } }`;
  const LIST = `query ($grantee: GranteeInput, $actuatorId: ID) { actuatorGrants(grantee: $grantee, actuatorId: $actuatorId) { id tenant grantee { id } } }`;
  const lightsAdmin = user('pisek-lights', tenantScopes, 'lights-admin');

  it('a tenant grants a partner its street lights on a shared gateway, and lists it', async () => {
    const granted = await run(lightsAdmin, GRANT, {
      input: { grantee: { apiKeyId: 'street-works' }, select: { gatewayId: 'pisek-gw002', kind: 'LIGHT' } },
    });
    const { grant, userErrors } = granted.data!.grantActuatorAccess;
    expect(userErrors).toEqual([]);
    expect(grant).toMatchObject({
      tenant: 'pisek-lights',
      grantee: { kind: 'API_KEY', id: 'street-works' },
      gatewayId: 'pisek-gw002',
      kind: 'LIGHT',
      actuatorIds: null,
      grantedBy: 'lights-admin',
    });
    expect((await run(lightsAdmin, LIST)).data!.actuatorGrants.map((g: { id: string }) => g.id)).toEqual([grant.id]);
    expect((await run(partnerKey, LIST)).data!.actuatorGrants.map((g: { id: string }) => g.id)).toEqual([grant.id]);
    expect((await run(user('pisek-city', tenantScopes), LIST)).data!.actuatorGrants).toEqual([]);
    expect((await run(lightsAdmin, LIST, { actuatorId: streetLight.id })).data!.actuatorGrants).toHaveLength(1);
    // The gateway's owner's relay is not pisek-lights': no grant of it covers that.
    expect((await run(lightsAdmin, LIST, { actuatorId: cityRelay.id })).data!.actuatorGrants).toEqual([]);
    expect((await run(lightsAdmin, LIST, { grantee: { userId: 'street-works' } })).data!.actuatorGrants).toEqual([]);
  });

  it('refuses bad selections and grantees with the field at fault', async () => {
    const userError = async (input: Record<string, unknown>, caller = lightsAdmin) =>
      (await run(caller, GRANT, { input })).data!.grantActuatorAccess.userErrors[0];
    expect(await userError({ grantee: { apiKeyId: 'street-works' }, select: {} })).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: ['input', 'select'],
    });
    expect(await userError({ grantee: { apiKeyId: 'street-works', userId: 'bob' }, select: { gatewayId: 'pisek-gw002' } })).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: ['input', 'grantee'],
    });
    expect(await userError({ grantee: { apiKeyId: 'Not A Key' }, select: { gatewayId: 'pisek-gw002' } })).toMatchObject({
      field: ['input', 'grantee', 'apiKeyId'],
    });
    expect(await userError({ grantee: { userId: 'bob' }, select: { actuatorIds: ['pisek-gw002.4.lamp0'] } })).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: ['input', 'select', 'actuatorIds'],
      message: expect.stringContaining('pisek-gw002.4.lamp0'),
    });
    // Another tenant's gateway, and the owner's node on a shared gateway, are not found.
    expect(await userError({ grantee: { userId: 'bob' }, select: { gatewayId: 'brno-gw001' } })).toMatchObject({
      code: 'NOT_FOUND',
      field: ['input', 'select', 'gatewayId'],
    });
    expect(await userError({ grantee: { userId: 'bob' }, select: { actuatorIds: [cityRelay.id] } })).toMatchObject({
      code: 'NOT_FOUND',
      field: ['input', 'select', 'actuatorIds'],
    });
    expect(await grants.listByTenant()).toEqual([]);
  });

  it('a tenant grants for itself only; an operator names the tenant; partners grant nothing', async () => {
    const input = { grantee: { userId: 'bob' }, select: { gatewayId: 'pisek-gw002' }, tenant: 'brno-city' };
    expect((await run(lightsAdmin, GRANT, { input })).errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    expect((await run(admin, GRANT, { input: { ...input, tenant: undefined } })).errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'tenant',
    });
    const byOperator = await run(admin, GRANT, { input: { ...input, tenant: 'pisek-lights' } });
    expect(byOperator.data!.grantActuatorAccess.grant).toMatchObject({ tenant: 'pisek-lights', grantedBy: 'operator' });
    expect((await run(partnerKey, GRANT, { input: { ...input, tenant: undefined } })).errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    expect((await run(anonymous, LIST)).errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
  });

  it("revokes the tenant's own grants; another tenant's is NOT_FOUND", async () => {
    const grant = await give('pisek-lights', { kind: 'API_KEY', id: 'street-works' }, { gatewayId: 'pisek-gw002' });
    expect((await run(user('pisek-city', tenantScopes), REVOKE, { id: grant.id })).data!.revokeActuatorAccess.userErrors).toEqual([
      { code: 'NOT_FOUND', field: ['input', 'grantId'] },
    ]);
    expect(await grants.get(grant.id)).toBeDefined();
    expect((await run(lightsAdmin, REVOKE, { id: grant.id })).data!.revokeActuatorAccess).toEqual({
      revokedGrantId: grant.id,
      userErrors: [],
    });
    expect(await grants.get(grant.id)).toBeUndefined();
  });
});
