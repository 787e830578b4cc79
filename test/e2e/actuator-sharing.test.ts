import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerPartition, DEVELOPMENT_SECRET, issueApiKey, mintToken, Scope } from '#auth';
import type { Platform } from '../../platform/platform.ts';
import { LIGHTS_TENANT } from '../../simulator/src/scenario.ts';
import { adminToken, tenantScopes } from '../support/auth.ts';
import { graphql, take, wsClient, type Credentials } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

/**
 * Identical subscriptions share one upstream subscription among equal callers, never among
 * callers who see different things: two partners' keys granted different lights, subscribed to
 * the same `actuatorEvents` of a gateway, each get their own lights' events.
 */
const GATEWAY = 'pisek-gw002';
const LIGHT_A = `${GATEWAY}.1.light0`;
const LIGHT_B = `${GATEWAY}.2.light0`;
const partnerA = issueApiKey('partner-a', 'Partner A', 6_000, [Scope.ACTUATORS_WRITE]);
const partnerB = issueApiKey('partner-b', 'Partner B', 6_000, [Scope.ACTUATORS_WRITE]);

const EVENTS = `subscription ($gatewayId: ID) { actuatorEvents(gatewayId: $gatewayId) { kind actuator { id } command { requestedBy } } }`;
const GRANT = `mutation ($input: GrantActuatorAccessInput!) { grantActuatorAccess(input: $input) { userErrors { code message } } }`;
const SET_LEVEL = `mutation ($input: SetLightLevelInput!) { setLightLevel(input: $input) { command { outcome } userErrors { code } } }`;

describe('shared subscriptions and grants', () => {
  let platform: Platform;
  let url: string;

  beforeAll(async () => {
    platform = await startTestPlatform({ auth: { apiKeys: [partnerA.record, partnerB.record] }, demoGrants: false });
    url = platform.routerUrl;
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('partitions a grantee by who it is, a tenant reader by its tenant and scopes', () => {
    const key = (id: string) => ({
      kind: 'apiKey' as const,
      subject: id,
      tenant: null,
      scopes: [Scope.OPENDATA_READ, Scope.ACTUATORS_WRITE],
    });
    expect(callerPartition(key('partner-a'))).not.toBe(callerPartition(key('partner-b')));
    const reader = (subject: string) => ({ kind: 'user' as const, subject, tenant: 'pisek-city', scopes: [Scope.DEVICES_READ] });
    expect(callerPartition(reader('ana'))).toBe(callerPartition(reader('bob')));
    const grantee = (subject: string) => ({ kind: 'user' as const, subject, tenant: 'pisek-city', scopes: [Scope.ACTUATORS_WRITE] });
    expect(callerPartition(grantee('ana'))).not.toBe(callerPartition(grantee('bob')));
  });

  it("gives each partner's key the events of its own lights only, from the same subscription document", async () => {
    const customer: Credentials = {
      token: await mintToken({
        tenant: LIGHTS_TENANT,
        subject: 'ops',
        scopes: [...tenantScopes, Scope.ACTUATORS_WRITE],
        secret: DEVELOPMENT_SECRET,
      }),
    };
    for (const [partner, light] of [
      [partnerA, LIGHT_A],
      [partnerB, LIGHT_B],
    ] as const) {
      const granted = await graphql(
        url,
        GRANT,
        { input: { grantee: { apiKeyId: partner.record.id }, select: { actuatorIds: [light] } } },
        customer,
      );
      expect(granted.data?.grantActuatorAccess.userErrors).toEqual([]);
    }
    const clientA = wsClient(url, { apiKey: partnerA.key });
    const clientB = wsClient(url, { apiKey: partnerB.key });
    try {
      const ofA = take<{ actuatorEvents: { actuator: { id: string } } }>(clientA, EVENTS, 2, 20_000, { gatewayId: GATEWAY });
      const ofB = take<{ actuatorEvents: { actuator: { id: string } } }>(clientB, EVENTS, 2, 20_000, { gatewayId: GATEWAY });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const operator = { token: await adminToken() };
      // A's light first: were B's stream A's, its first two events would be these.
      for (const light of [LIGHT_A, LIGHT_B]) {
        const set = await graphql(url, SET_LEVEL, { input: { actuatorId: light, level: 25 } }, operator);
        expect(set.errors).toBeUndefined();
      }
      expect((await ofA).map((r) => r.data!.actuatorEvents.actuator.id)).toEqual([LIGHT_A, LIGHT_A]);
      expect((await ofB).map((r) => r.data!.actuatorEvents.actuator.id)).toEqual([LIGHT_B, LIGHT_B]);
    } finally {
      await Promise.all([clientA.dispose(), clientB.dispose()]);
    }
  });
});
