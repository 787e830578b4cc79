import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVELOPMENT_SECRET, mintToken, Scope } from '#auth';
import type { Platform } from '../../platform/platform.ts';
import { LIGHTS_TENANT } from '../../simulator/src/scenario.ts';
import { adminToken, tenantScopes } from '../support/auth.ts';
import { graphql, take, wsClient, type Credentials } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

/**
 * Actuators on a shared gateway: Pisek gateway 2 is the city's, its street-light routers (nodes 1
 * and 2) the lighting customer's. Each tenant sees only its own actuators there, gets only its
 * own actuators' events from the gateway's stream (live and replayed), and cannot command the
 * other's, however it asks.
 */
const GATEWAY = 'pisek-gw002';
const CITY = 'pisek-city';
const LIGHT = `${GATEWAY}.1.light0`;
const OTHER_LIGHT = `${GATEWAY}.2.light1`;
const RELAY = `${GATEWAY}.3.output1`;

const EVENTS = `subscription ($gatewayId: ID, $after: String) {
  actuatorEvents(gatewayId: $gatewayId, after: $after) { cursor kind actuator { id } command { id } }
}`;
const ACTUATORS = `query ($id: ID!) { gateway(id: $id) { actuators { id } } }`;
const SET_LEVEL = `mutation ($input: SetLightLevelInput!) { setLightLevel(input: $input) { command { id outcome } userErrors { code } } }`;
const SWITCH = `mutation ($input: SwitchActuatorInput!) { switchActuator(input: $input) { command { id outcome } userErrors { code } } }`;

type Event = { cursor: string; kind: string; actuator: { id: string }; command: { id: string } | null };

describe('actuators of a gateway two tenants share', () => {
  let platform: Platform;
  let url: string;
  let operator: Credentials;
  let city: Credentials;
  let lights: Credentials;

  const tenantUser = async (tenant: string): Promise<Credentials> => ({
    token: await mintToken({
      tenant,
      subject: `${tenant}-ops`,
      scopes: [...tenantScopes, Scope.ACTUATORS_WRITE],
      secret: DEVELOPMENT_SECRET,
    }),
  });

  beforeAll(async () => {
    platform = await startTestPlatform({ demoGrants: false });
    url = platform.routerUrl;
    operator = { token: await adminToken() };
    city = await tenantUser(CITY);
    lights = await tenantUser(LIGHTS_TENANT);
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('lists each tenant only its own actuators of the shared gateway; the operator all', async () => {
    const ids = async (credentials: Credentials) => {
      const result = await graphql(url, ACTUATORS, { id: GATEWAY }, credentials);
      expect(result.errors).toBeUndefined();
      return (result.data!.gateway.actuators as Array<{ id: string }>).map((a) => a.id);
    };
    const [ofCity, ofLights, all] = await Promise.all([ids(city), ids(lights), ids(operator)]);
    expect(ofLights).toEqual(expect.arrayContaining([LIGHT, OTHER_LIGHT]));
    expect(ofLights.every((id) => id.startsWith(`${GATEWAY}.1.`) || id.startsWith(`${GATEWAY}.2.`))).toBe(true);
    expect(ofCity).toContain(RELAY);
    expect(ofCity.filter((id) => ofLights.includes(id))).toEqual([]);
    expect([...ofCity, ...ofLights].sort()).toEqual([...all].sort());
  });

  it("refuses a tenant's command to the other tenant's actuator on the gateway, naming it, and sends nothing", async () => {
    const byCity = await graphql(url, SET_LEVEL, { input: { actuatorId: LIGHT, level: 10 } }, city);
    expect(byCity.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', actuatorId: LIGHT });
    const byLights = await graphql(url, SWITCH, { input: { actuatorId: RELAY, on: true } }, lights);
    expect(byLights.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', actuatorId: RELAY });
    // Neither attempt is in the other tenant's audit trail as a command that was sent.
    const audit = await graphql(
      url,
      `
        query ($id: ID!) {
          actuator(id: $id) {
            audit(last: 5) {
              outcome
            }
          }
        }
      `,
      { id: RELAY },
      operator,
    );
    expect((audit.data!.actuator.audit as Array<{ outcome: string }>).filter((c) => c.outcome !== 'REFUSED')).toEqual([]);
  });

  it("streams each tenant the gateway's events of its own actuators only, live and replayed", async () => {
    const cityClient = wsClient(url, city);
    const lightsClient = wsClient(url, lights);
    try {
      // Both listen from now on; then the operator commands light, relay, light (in that order).
      const cityEvents = take<{ actuatorEvents: Event }>(cityClient, EVENTS, 2, 20_000, { gatewayId: GATEWAY });
      const lightsEvents = take<{ actuatorEvents: Event }>(lightsClient, EVENTS, 4, 20_000, { gatewayId: GATEWAY });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const first = await graphql(url, SET_LEVEL, { input: { actuatorId: LIGHT, level: 20 } }, operator);
      const relay = await graphql(url, SWITCH, { input: { actuatorId: RELAY, on: true, durationSeconds: 30 } }, operator);
      const second = await graphql(url, SET_LEVEL, { input: { actuatorId: OTHER_LIGHT, level: 30 } }, operator);
      for (const result of [first, relay, second]) expect(result.errors).toBeUndefined();

      // The city's two events are its relay's; before them in the stream came the first light's,
      // which it did not get. The lighting customer's four are its lights', and the relay's
      // (between them in the stream) are not among them.
      const ofCity = (await cityEvents).map((r) => r.data!.actuatorEvents);
      expect(ofCity.map((e) => [e.kind, e.actuator.id])).toEqual([
        ['COMMANDED', RELAY],
        [expect.any(String), RELAY],
      ]);
      const ofLights = (await lightsEvents).map((r) => r.data!.actuatorEvents);
      expect(ofLights.map((e) => e.actuator.id)).toEqual([LIGHT, LIGHT, OTHER_LIGHT, OTHER_LIGHT]);

      // Replayed from the first light's first event: the lights' events again, never the relay's.
      const replayed = await take<{ actuatorEvents: Event }>(lightsClient, EVENTS, 3, 20_000, {
        gatewayId: GATEWAY,
        after: ofLights[0]!.cursor,
      });
      expect(replayed.map((r) => r.data!.actuatorEvents.cursor)).toEqual(ofLights.slice(1).map((e) => e.cursor));
    } finally {
      await Promise.all([cityClient.dispose(), lightsClient.dispose()]);
    }
  });
});
