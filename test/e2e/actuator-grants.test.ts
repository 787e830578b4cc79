import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVELOPMENT_SECRET, issueApiKey, mintToken, Scope } from '#auth';
import { nodeTenant } from '#registry';
import type { Platform } from '../../platform/platform.ts';
import { adminToken, tenantScopes } from '../support/auth.ts';
import { graphql, type Credentials } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

/**
 * Privileges per actuator, through the router and the simulated daemons: a street-lighting
 * customer on shared Pisek gateways grants a partner's API key one street light; the key commands
 * that light and nothing else, reads no private telemetry, and loses the right the moment it is
 * revoked; a tenant user without a grant is FORBIDDEN even with `actuators:write`; an actuator
 * commanded too often is RATE_LIMITED.
 */
const LIGHTS = 'pisek-lights';
const partner = issueApiKey('street-works', 'Street works (partner)', 6_000, [Scope.ACTUATORS_WRITE]);
const openDataKey = issueApiKey('open-reader', 'Open data only', 6_000);

const GRANT = `mutation ($input: GrantActuatorAccessInput!) {
  grantActuatorAccess(input: $input) { grant { id tenant grantee { kind id } actuatorIds } userErrors { code field message } }
}`;
const REVOKE = `mutation ($id: ID!) { revokeActuatorAccess(input: { grantId: $id }) { revokedGrantId userErrors { code } } }`;
const SET_LEVEL = `mutation ($input: SetLightLevelInput!) {
  setLightLevel(input: $input) { command { outcome requestedBy } userErrors { code message } }
}`;
const SWITCH = `mutation ($input: SwitchActuatorInput!) {
  switchActuator(input: $input) { command { outcome } userErrors { code message } }
}`;

describe('privileges per actuator', () => {
  let platform: Platform;
  let url: string;
  let lightsAdmin: Credentials;
  /** Street lights of pisek-lights on one shared gateway, and a relay of the gateway's owner there. */
  let lights: string[];
  let ownersRelay: string;
  /** A sensor of the gateway's owner on it: private telemetry. */
  let ownersSensor: string;

  const asPartner: Credentials = { apiKey: partner.key };
  const setLevel = (credentials: Credentials, actuatorId: string, level = 40) =>
    graphql(url, SET_LEVEL, { input: { actuatorId, level } }, credentials);

  beforeAll(async () => {
    platform = await startTestPlatform({
      auth: { apiKeys: [partner.record, openDataKey.record] },
      actuatorCommandLimit: { burst: 2, intervalMs: 600_000 },
      demoGrants: false,
    });
    url = platform.routerUrl;
    lightsAdmin = {
      token: await mintToken({
        tenant: LIGHTS,
        subject: 'lights-admin',
        scopes: [...tenantScopes, Scope.ACTUATORS_WRITE],
        secret: DEVELOPMENT_SECRET,
      }),
    };
    // The shared gateway and its lights, from the registry the scenario seeded.
    const gateway = (await platform.registry.list())
      .sort((a, b) => a.id.localeCompare(b.id))
      .find((g) => Object.keys(g.nodes).some((address) => nodeTenant(g, Number(address)) === LIGHTS));
    if (!gateway) throw new Error(`the demo scenario has no gateway shared with ${LIGHTS}`);
    const nodes = Object.entries(gateway.nodes);
    lights = nodes
      .filter(([address]) => nodeTenant(gateway, Number(address)) === LIGHTS)
      .flatMap(([address, meta]) =>
        Object.keys(meta.actuators ?? {})
          .filter((key) => key.startsWith('light'))
          .map((key) => `${gateway.id}.${address}.${key}`),
      );
    const relayNode = nodes.find(([address, meta]) => nodeTenant(gateway, Number(address)) === gateway.tenant && meta.actuators?.output0);
    if (!relayNode) throw new Error(`gateway ${gateway.id} has no relay of its owner`);
    ownersRelay = `${gateway.id}.${relayNode[0]}.output0`;
    const sensorNode = nodes.find(([address, meta]) => nodeTenant(gateway, Number(address)) === gateway.tenant && meta.quantities?.[0]);
    if (!sensorNode) throw new Error(`gateway ${gateway.id} has no sensor of its owner`);
    ownersSensor = `${gateway.id}.${sensorNode[0]}.0`;
    expect(lights.length).toBeGreaterThanOrEqual(4);
  });

  afterAll(async () => {
    await platform?.close();
  });

  const grantOne = async (credentials: Credentials, grantee: Record<string, string>, actuatorIds: string[]) => {
    const result = await graphql(url, GRANT, { input: { grantee, select: { actuatorIds } } }, credentials);
    expect(result.errors).toBeUndefined();
    expect(result.data?.grantActuatorAccess.userErrors).toEqual([]);
    return result.data!.grantActuatorAccess.grant as { id: string };
  };

  it('a partner key with a grant commands that light and nothing else; revocation holds at once', async () => {
    const [granted, other] = lights as [string, string];
    const grant = await grantOne(lightsAdmin, { apiKeyId: partner.record.id }, [granted]);

    const commanded = await setLevel(asPartner, granted);
    expect(commanded.status).toBe(200);
    expect(commanded.errors).toBeUndefined();
    expect(commanded.data?.setLightLevel.userErrors).toEqual([]);
    expect(['CONFIRMED', 'UNCONFIRMED']).toContain(commanded.data?.setLightLevel.command.outcome);
    expect(commanded.data?.setLightLevel.command.requestedBy).toBe(`apiKey:${partner.record.id}`);

    // Another light of the same tenant and gateway: FORBIDDEN, naming it.
    const refused = await setLevel(asPartner, other);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(refused.errors?.[0]?.message).toContain(other);
    // The gateway owner's relay on the shared gateway: another tenant's, FORBIDDEN as well.
    const relay = await graphql(url, SWITCH, { input: { actuatorId: ownersRelay, on: true } }, asPartner);
    expect(relay.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(relay.errors?.[0]?.message).toContain(ownersRelay);

    // The key still reads no private telemetry or devices.
    for (const query of [
      `{ sensors { id } }`,
      `{ gateways { id } }`,
      `{ sensor(id: "${ownersSensor}") { id readings(from: "-1h") { value } } }`,
    ]) {
      const privateRead = await graphql(url, query, {}, asPartner);
      expect(
        Object.values(privateRead.data ?? {}).every((value) => value === null),
        query,
      ).toBe(true);
      expect(privateRead.errors?.[0]?.extensions?.code, query).toBe('FORBIDDEN');
    }

    const revoked = await graphql(url, REVOKE, { id: grant.id }, lightsAdmin);
    expect(revoked.data?.revokeActuatorAccess).toEqual({ revokedGrantId: grant.id, userErrors: [] });
    const afterRevoke = await setLevel(asPartner, granted);
    expect(afterRevoke.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(afterRevoke.errors?.[0]?.message).toContain(granted);
  });

  it('a grant is not enough without actuators:write (an open-data key), nor the scope without a grant (a tenant user)', async () => {
    const light = lights[2]!;
    await grantOne(lightsAdmin, { apiKeyId: openDataKey.record.id }, [light]);
    expect((await setLevel({ apiKey: openDataKey.key }, light)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const colleague = {
      token: await mintToken({
        tenant: LIGHTS,
        subject: 'lights-night-shift',
        scopes: [...tenantScopes, Scope.ACTUATORS_WRITE],
        secret: DEVELOPMENT_SECRET,
      }),
    };
    const refused = await setLevel(colleague, light);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(refused.errors?.[0]?.message).toContain(light);

    // Granted by its tenant, the same user may.
    await grantOne(lightsAdmin, { userId: 'lights-night-shift' }, [light]);
    const allowed = await setLevel(colleague, light, 10);
    expect(allowed.errors).toBeUndefined();
    expect(allowed.data?.setLightLevel.userErrors).toEqual([]);
  });

  it('lists grants to the tenant and to the grantee only', async () => {
    const LIST = `{ actuatorGrants { id tenant grantee { kind id } } }`;
    const tenantList = (await graphql(url, LIST, {}, lightsAdmin)).data?.actuatorGrants as Array<{ tenant: string }>;
    expect(tenantList.length).toBeGreaterThan(0);
    expect(tenantList.every((g) => g.tenant === LIGHTS)).toBe(true);
    const partnerList = (await graphql(url, LIST, {}, { apiKey: openDataKey.key })).data?.actuatorGrants as Array<{
      grantee: { id: string };
    }>;
    expect(partnerList.map((g) => g.grantee.id)).toEqual([openDataKey.record.id]);
    const owner = { token: await mintToken({ tenant: 'pisek-city', scopes: tenantScopes, secret: DEVELOPMENT_SECRET }) };
    expect((await graphql(url, LIST, {}, owner)).data?.actuatorGrants).toEqual([]);
  });

  it('an actuator commanded more often than its rate limit is RATE_LIMITED, naming it', async () => {
    const light = lights[3]!;
    const operator = { token: await adminToken() };
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await setLevel(operator, light, 20 + i));
    expect(outcomes.slice(0, 2).map((r) => r.data?.setLightLevel.userErrors)).toEqual([[], []]);
    const limited = outcomes[2]!;
    const error = limited.data?.setLightLevel.userErrors[0] ?? limited.errors?.[0]?.extensions;
    expect(error?.code).toBe('RATE_LIMITED');
    expect(limited.data?.setLightLevel.userErrors[0]?.message ?? limited.errors?.[0]?.message).toContain(light);
    // Another light is not held back by it.
    expect((await setLevel(operator, lights[1]!, 30)).data?.setLightLevel.userErrors).toEqual([]);
  });
});
