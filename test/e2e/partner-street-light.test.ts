import { parse, print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVELOPMENT_SECRET, issueApiKey, mintToken, Scope } from '#auth';
import {
  ActuatorAuditDocument,
  ActuatorEventsDocument,
  GrantActuatorAccessDocument,
  MyActuatorsDocument,
  SetLightLevelDocument,
  type ActuatorEventsSubscription,
} from '../../clients/typescript/graphql.ts';
import { graphqlHttp, GraphQLResponseError } from '../../examples/partner-app/graphql-http.ts';
import type { Platform } from '../../platform/platform.ts';
import { tenantScopes } from '../support/auth.ts';
import { wsClient } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

/**
 * The issue's "done when", with the typed client's operations as a partner app sends them: the
 * street-lighting customer of shared Pisek gateways grants a maintenance company's API key the
 * lights of one gateway; the company lists what it may command, dims a light, and sees the
 * command and the daemon's confirmation arrive live on its own `actuatorEvents` subscription; the
 * audit trail names it.
 */
const LIGHTS = 'pisek-lights';
const GATEWAY = 'pisek-gw002';
const company = issueApiKey('lights-maintenance', 'Street-light maintenance company', 6_000, [Scope.ACTUATORS_WRITE]);

describe('a partner with a grant switches a street light', () => {
  let platform: Platform;
  let url: string;

  beforeAll(async () => {
    platform = await startTestPlatform({ auth: { apiKeys: [company.record] }, demoGrants: false });
    url = platform.routerUrl;
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('sees only what it was granted, commands it, and sees the confirmation live', async () => {
    const partner = { apiKey: company.key };
    // Before any grant the key sees no actuator at all.
    expect((await graphqlHttp(url, MyActuatorsDocument, {}, partner)).actuators).toEqual([]);

    const customer = {
      token: await mintToken({
        tenant: LIGHTS,
        subject: 'lights-operations',
        scopes: [...tenantScopes, Scope.ACTUATORS_WRITE],
        secret: DEVELOPMENT_SECRET,
      }),
    };
    const { grantActuatorAccess } = await graphqlHttp(
      url,
      GrantActuatorAccessDocument,
      {
        input: {
          grantee: { apiKeyId: company.record.id },
          select: { gatewayId: GATEWAY, kind: 'LIGHT' },
          idempotencyKey: 'grant-maintenance-gw002',
        },
      },
      customer,
    );
    expect(grantActuatorAccess.userErrors).toEqual([]);
    expect(grantActuatorAccess.grant).toMatchObject({ tenant: LIGHTS, grantee: { kind: 'API_KEY', id: company.record.id } });

    const { actuators } = await graphqlHttp(url, MyActuatorsDocument, {}, partner);
    expect(actuators.length).toBeGreaterThan(0);
    // Lights of that gateway only, each one the key may command.
    for (const actuator of actuators) {
      expect(actuator).toMatchObject({ kind: 'LIGHT', canCommand: true });
      expect(actuator.id.startsWith(`${GATEWAY}.`)).toBe(true);
    }
    const light = actuators[0]!;

    // The company follows its light, then dims it.
    const client = wsClient(url, partner);
    const events: NonNullable<ActuatorEventsSubscription['actuatorEvents']>[] = [];
    const errors: unknown[] = [];
    const subscribed = new Promise<void>((resolve) => {
      const dispose = client.subscribe<ActuatorEventsSubscription>(
        { query: print(ActuatorEventsDocument), variables: { actuatorIds: [light.id] } },
        {
          next: (result) => {
            if (result.errors) errors.push(result.errors);
            if (result.data) events.push(result.data.actuatorEvents);
            if (events.some((e) => e.kind === 'CONFIRMED')) {
              dispose();
              resolve();
            }
          },
          error: (error) => errors.push(error),
          complete: () => resolve(),
        },
      );
    });
    // The stream is open once the server acknowledged it; give it a moment to subscribe upstream.
    await new Promise((resolve) => setTimeout(resolve, 500));

    const level = light.state.level === 70 ? 30 : 70;
    const { setLightLevel } = await graphqlHttp(
      url,
      SetLightLevelDocument,
      { input: { actuatorId: light.id, level, idempotencyKey: 'dim-once' } },
      partner,
    );
    expect(setLightLevel.userErrors).toEqual([]);
    expect(setLightLevel.command).toMatchObject({ outcome: 'CONFIRMED', level });
    expect(setLightLevel.command?.previous?.level).toEqual(expect.any(Number));
    expect(setLightLevel.actuator?.state).toMatchObject({ level, status: 'CONFIRMED' });

    await Promise.race([
      subscribed,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no confirmation live: ${JSON.stringify(events)}`)), 15_000)),
    ]);
    await client.dispose();
    expect(errors).toEqual([]);
    const mine = events.filter((e) => e.command?.id === setLightLevel.command?.id);
    expect(mine.map((e) => e.kind)).toEqual(['COMMANDED', 'CONFIRMED']);
    expect(mine[1]).toMatchObject({
      actuator: { id: light.id },
      command: { requestedBy: `apiKey:${company.record.id}`, outcome: 'CONFIRMED' },
    });
    expect(mine[1]!.state).toMatchObject({ level, status: 'CONFIRMED' });

    // Its audit trail shows the company's command; the key still reads no private telemetry.
    const { actuator } = await graphqlHttp(url, ActuatorAuditDocument, { id: light.id, last: 5 }, partner);
    expect(actuator?.audit[0]).toMatchObject({ id: setLightLevel.command!.id, requestedBy: `apiKey:${company.record.id}`, level });
    const denied = await graphqlHttp(url, MyActuatorsDocument, { gatewayId: 'pisek-gw001' }, partner);
    expect(denied.actuators).toEqual([]);
    // Another tenant's relay on the same gateway is not the key's to see; nor is private telemetry.
    await expect(graphqlHttp(url, ActuatorAuditDocument, { id: `${GATEWAY}.3.output0`, last: 1 }, partner)).rejects.toBeInstanceOf(
      GraphQLResponseError,
    );
    const privateReading = graphqlHttp(
      url,
      parse('query ($id: ID!) { sensor(id: $id) { latest { value } } }'),
      { id: `${GATEWAY}.3.0` },
      partner,
    );
    await expect(privateReading).rejects.toThrow(/FORBIDDEN|UNAUTHENTICATED/);
  });
});
